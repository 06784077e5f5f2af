"""Building a fleet: tail numbers, models, bases, entry into service, and every component slot."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.sim.components import ONSET_HEALTH, PF_DAYS, SPECS, TYPE_INDEX, slots
from aerotwin.sim.reference import Reference, ReferenceError
from aerotwin.sim.state import Aircraft, Components, FleetState

MAX_AGE_YEARS = 25
# Share of a model's range usable on a scheduled route (reserves, payload).
RANGE_USE = 0.85
# Wide-bodies fly long sectors: they only get routes at least this long when they have any.
LONG_HAUL_RANGE_NM = 6000
LONG_HAUL_MIN_ROUTE_NM = 1500


def allowed_routes(reference: Reference, model: int, base_code: str) -> np.ndarray:
    """Indices of the routes an aircraft of `model` based at `base_code` may fly."""
    routes = reference.routes
    range_nm = float(reference.models["range_nm"][model])
    touches = (routes["origin"] == base_code) | (routes["destination"] == base_code)
    ok = touches & (routes["distance_nm"] <= RANGE_USE * range_nm)
    if range_nm >= LONG_HAUL_RANGE_NM:
        long = ok & (routes["distance_nm"] >= LONG_HAUL_MIN_ROUTE_NM)
        ok = long if long.any() else ok
    return np.flatnonzero(ok.to_numpy())


def tail_number(i: int) -> str:
    """The i-th tail number of the fleet (N101AT, N102AT, ...)."""
    return f"N{101 + i}AT"


def new_serial(state_counter: int, component_type: str) -> str:
    """Serial number of a newly installed part."""
    return f"{SPECS[component_type].code}-{state_counter:07d}"


def draw_defect(
    ctype: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Defect a new part will develop: P-F interval (days), failure mode, precursor strength."""
    n = len(ctype)
    pf_days = rng.uniform(*PF_DAYS, n)
    n_modes = np.array([len(SPECS[COMPONENT_TYPES[t]].modes) for t in ctype])
    mode = np.floor(rng.random(n) * n_modes).astype(np.int64)
    amplitude = rng.uniform(0.6, 1.4, n)
    return pf_days, mode, amplitude


def build_fleet(
    reference: Reference, n_aircraft: int, start_date: dt.date, seed: int
) -> FleetState:
    """A fleet of `n_aircraft` as it stands on `start_date`, drawn from `seed`."""
    rng = np.random.default_rng([seed, 1])
    models = reference.models
    weights = models["fleet_weight"].to_numpy().astype(float)
    codes = reference.airports["airport_code"].to_list()
    usable = [
        [b for b, code in enumerate(codes) if len(allowed_routes(reference, m, code))]
        for m in range(models.height)
    ]
    weights = np.where([len(u) > 0 for u in usable], weights, 0.0)
    if weights.sum() <= 0:
        raise ReferenceError(
            "aircraft_models.csv / routes.csv: no aircraft model can fly any route within "
            f"{RANGE_USE:.0%} of its range_nm (or fleet_weight is 0 for all that can)"
        )
    model = rng.choice(models.height, size=n_aircraft, p=weights / weights.sum())
    base = np.array([usable[m][rng.integers(len(usable[m]))] for m in model], dtype=np.int64)
    age_days = rng.integers(0, MAX_AGE_YEARS * 365, n_aircraft)
    eis = start_date.toordinal() - age_days
    aircraft = Aircraft(
        ids=[tail_number(i) for i in range(n_aircraft)],
        model=model.astype(np.int64),
        base=base,
        eis_ordinal=eis.astype(np.int64),
        route=np.full(n_aircraft, -1, dtype=np.int64),
        away=np.zeros(n_aircraft, dtype=np.int64),
        # Random phase in the check cycle, so checks spread over the calendar.
        hours_since_check=rng.uniform(0, 500, n_aircraft),
        cycles_since_check=rng.uniform(0, 300, n_aircraft),
        days_since_check=rng.integers(0, 100, n_aircraft).astype(float),
    )
    state = FleetState(seed, start_date, 0, aircraft, _empty_components())
    state.components = _components(state, reference, age_days, rng)
    return state


def _empty_components() -> Components:
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    return Components([], [], [], empty_i, empty_i, empty_i, empty_f, empty_f, empty_f,
                      empty_f, empty_i, empty_f)  # fmt: skip


def _components(
    state: FleetState, reference: Reference, age_days: np.ndarray, rng: np.random.Generator
) -> Components:
    ids, positions, serials, owner, ctype = [], [], [], [], []
    engine_counts = reference.models["engine_count"].to_numpy()
    for a, tail in enumerate(state.aircraft.ids):
        for component_type, suffix, position in slots(int(engine_counts[state.aircraft.model[a]])):
            ids.append(f"{tail}-{suffix}")
            positions.append(position)
            serials.append(new_serial(state.next_id("serial"), component_type))
            owner.append(a)
            ctype.append(TYPE_INDEX[component_type])
    owner_arr, ctype_arr = np.array(owner, dtype=np.int64), np.array(ctype, dtype=np.int64)
    n = len(ids)
    # Parts were replaced over the aircraft's life: each serial is younger than its aircraft.
    part_age = np.floor(age_days[owner_arr] * rng.random(n)).astype(np.int64)
    utilisation = rng.uniform(5.0, 10.0, n)
    rated_h = np.array([SPECS[COMPONENT_TYPES[t]].rated_life_hours for t in ctype_arr])
    hours = np.minimum(part_age * utilisation, 0.9 * rated_h)
    cycles = hours / rng.uniform(1.5, 3.5, n)
    # Health is spread over the healthy range; no part starts with a defect already running.
    health = ONSET_HEALTH + 0.02 + (1.0 - ONSET_HEALTH - 0.02) * rng.random(n)
    pf_days, mode, amplitude = draw_defect(ctype_arr, rng)
    return Components(
        ids=ids,
        positions=positions,
        serials=serials,
        aircraft=owner_arr,
        ctype=ctype_arr,
        install_ordinal=state.start_date.toordinal() - part_age,
        hours=np.round(hours, 1),
        cycles=np.round(cycles),
        health=health,
        pf_days=pf_days,
        mode=mode,
        amplitude=amplitude,
    )


def aircraft_table(state: FleetState, reference: Reference) -> pl.DataFrame:
    """The `aircraft` reference table of the landing zone."""
    a, models = state.aircraft, reference.models
    return pl.DataFrame(
        {
            "aircraft_id": a.ids,
            "model": models["model"].gather(a.model),
            "manufacturer": models["manufacturer"].gather(a.model),
            "engine_count": models["engine_count"].gather(a.model),
            "base_airport_code": reference.airports["airport_code"].gather(a.base),
            "entry_into_service_date": [dt.date.fromordinal(int(o)) for o in a.eis_ordinal],
        }
    )


def components_table(state: FleetState) -> pl.DataFrame:
    """The `components` reference table: every slot with its serial as of the state's date."""
    c = state.components
    types = [COMPONENT_TYPES[t] for t in c.ctype]
    return pl.DataFrame(
        {
            "component_id": c.ids,
            "aircraft_id": [state.aircraft.ids[a] for a in c.aircraft],
            "component_type": types,
            "position": c.positions,
            "serial": c.serials,
            "install_date": [dt.date.fromordinal(int(o)) for o in c.install_ordinal],
            "hours_since_new": c.hours,
            "cycles_since_new": c.cycles.astype(np.int64),
            "rated_life_hours": [SPECS[t].rated_life_hours for t in types],
            "rated_life_cycles": [SPECS[t].rated_life_cycles for t in types],
            "as_of_date": [state.current_date] * len(types),
        }
    )
