"""One day of flying: which aircraft fly which legs, when, and what they experience."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aerotwin.sim.fleet import allowed_routes
from aerotwin.sim.reference import Reference
from aerotwin.sim.state import FleetState
from aerotwin.sim.weather import DailyWeather

FIRST_DEPARTURE_H = 6.0
LAST_ARRIVAL_H = 23.0
TAXI_H = 0.4  # block time beyond airborne time
TURNAROUND_H = 0.8
SPARE_DAY_PROBABILITY = 0.04  # aircraft kept as a spare for the day
MAX_LEGS = 6


@dataclass(frozen=True)
class DayFlights:
    """All legs flown on one day, one entry per leg, ordered by aircraft then departure."""

    aircraft: np.ndarray
    leg: np.ndarray
    route: np.ndarray
    origin: np.ndarray  # airport index
    destination: np.ndarray
    departure_s: np.ndarray  # seconds after the day's midnight UTC
    block_hours: np.ndarray
    turbulence: np.ndarray  # experienced, 0 calm to 1 severe

    @property
    def size(self) -> int:
        return len(self.aircraft)


def route_choices(state: FleetState, reference: Reference) -> list[np.ndarray]:
    """For each aircraft, the routes it may fly from its base."""
    codes = reference.airports["airport_code"].to_list()
    cache: dict[tuple[int, int], np.ndarray] = {}
    out = []
    for m, b in zip(state.aircraft.model, state.aircraft.base, strict=True):
        key = (int(m), int(b))
        if key not in cache:
            cache[key] = allowed_routes(reference, key[0], codes[key[1]])
        out.append(cache[key])
    return out


def fly_day(
    state: FleetState,
    reference: Reference,
    choices: list[np.ndarray],
    grounded: np.ndarray,
    weather: DailyWeather,
    rng: np.random.Generator,
) -> DayFlights:
    """Plan and fly one day's legs; updates where each aircraft ends the day."""
    a = state.aircraft
    n = len(a.ids)
    airport_idx = {c: i for i, c in enumerate(reference.airports["airport_code"].to_list())}
    route_o = np.array([airport_idx[c] for c in reference.routes["origin"].to_list()])
    route_d = np.array([airport_idx[c] for c in reference.routes["destination"].to_list()])
    dist = reference.routes["distance_nm"].to_numpy()
    route_turb = reference.routes["turbulence_index"].to_numpy()
    speed = reference.models["cruise_speed_kt"].to_numpy()[a.model]

    pick = rng.random(n)
    spare = rng.random(n) < SPARE_DAY_PROBABILITY
    new_route = np.array([c[int(p * len(c))] for c, p in zip(choices, pick, strict=True)])
    at_base = a.away == 0
    route = np.where(at_base, new_route, a.route)
    block = dist[route] / speed + TAXI_H
    turn = TURNAROUND_H + rng.uniform(0, 0.3, n)
    fits = np.floor((LAST_ARRIVAL_H - FIRST_DEPARTURE_H + turn) / (block + turn))
    legs = np.clip(fits, 1, MAX_LEGS).astype(np.int64)
    # An aircraft away from base always flies home; a grounded one or a spare stays put.
    legs = np.where(grounded | (spare & at_base), 0, legs)
    first = FIRST_DEPARTURE_H + rng.uniform(0, 1.5, n)

    owner = np.repeat(np.arange(n), legs)
    leg = np.arange(owner.size) - np.repeat(np.cumsum(legs) - legs, legs)
    outbound = ((a.away[owner] + leg) % 2) == 0
    base_is_origin = route_o[route[owner]] == a.base[owner]
    forward = outbound == base_is_origin
    r = route[owner]
    origin = np.where(forward, route_o[r], route_d[r])
    destination = np.where(forward, route_d[r], route_o[r])
    departure_h = first[owner] + leg * (block[owner] + turn[owner])
    storm = weather.storm[origin] | weather.storm[destination]
    turbulence = route_turb[r] * (1 + 0.6 * storm) + rng.normal(0, 0.05, owner.size)

    a.route = np.where(legs > 0, route, a.route)
    a.away = np.where(legs > 0, (a.away + legs) % 2, a.away)
    a.route = np.where(a.away == 0, -1, a.route)
    return DayFlights(
        aircraft=owner,
        leg=leg,
        route=r,
        origin=origin,
        destination=destination,
        departure_s=np.round(departure_h * 3600).astype(np.int64),
        block_hours=np.round(block[owner], 2),
        turbulence=np.round(np.clip(turbulence, 0, 1), 3),
    )


def usage(flights: DayFlights, n_aircraft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per aircraft: flight hours, cycles and mean turbulence experienced that day."""
    hours = np.bincount(flights.aircraft, flights.block_hours, n_aircraft)
    cycles = np.bincount(flights.aircraft, minlength=n_aircraft).astype(float)
    turb_sum = np.bincount(flights.aircraft, flights.turbulence, n_aircraft)
    return hours, cycles, np.divide(turb_sum, np.maximum(cycles, 1))
