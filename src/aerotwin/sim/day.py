"""One simulated day: weather, flights, readings, wear, failures and maintenance, as tables.

`simulate_day` is the single step shared by the history run and live mode; it draws from a
random generator seeded by (seed, day index), so any day can be replayed exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from aerotwin.schemas import COMPONENT_TYPES, sensor_names
from aerotwin.sim import maintenance, physics
from aerotwin.sim.components import SPECS
from aerotwin.sim.operations import DayFlights, fly_day, route_choices, usage
from aerotwin.sim.reference import Reference
from aerotwin.sim.sensors import Conditions, readings
from aerotwin.sim.state import FleetState
from aerotwin.sim.weather import DailyWeather, daily_weather


@dataclass(frozen=True)
class DayOutput:
    """Everything one day produced: telemetry per component type and the event tables."""

    date: dt.date
    telemetry: dict[str, pl.DataFrame]
    flights: pl.DataFrame
    weather: pl.DataFrame
    maintenance_events: pl.DataFrame
    failures: pl.DataFrame


class DayContext:
    """Per-run lookups that do not change from day to day."""

    def __init__(self, state: FleetState, reference: Reference) -> None:
        self.reference = reference
        self.choices = route_choices(state, reference)
        self.airport_codes = reference.airports["airport_code"].to_list()
        self.climates = reference.airports["climate"].to_list()
        self.latitudes = reference.airports["latitude"].to_numpy()
        self.seats = reference.models["seats"].to_numpy().astype(float)[state.aircraft.model]
        self.route_ids = reference.routes["route_id"].to_list()


def day_rng(seed: int, day: int) -> np.random.Generator:
    """The random generator of one day of one run."""
    return np.random.default_rng([seed, 2, day])


def timestamps(day: dt.date, seconds: np.ndarray) -> np.ndarray:
    """ISO-8601 UTC strings (YYYY-MM-DDTHH:MM:SSZ) for seconds after the day's midnight."""
    base = np.datetime64(day.isoformat(), "s")
    text = np.datetime_as_string(base + seconds.astype("timedelta64[s]"), unit="s")
    return np.char.add(text.astype(str), "Z")


def simulate_day(state: FleetState, ctx: DayContext) -> DayOutput:
    """Advance the state by one day and return what that day produced."""
    rng = day_rng(state.seed, state.day)
    day = state.current_date
    weather = daily_weather(ctx.climates, ctx.latitudes, day.timetuple().tm_yday, rng)
    in_check, reasons = maintenance.checks_due(state)
    flights = fly_day(state, ctx.reference, ctx.choices, in_check, weather, rng)
    flight_ids = [
        f"{state.aircraft.ids[a]}-{day:%Y%m%d}-{leg + 1:02d}"
        for a, leg in zip(flights.aircraft, flights.leg, strict=True)
    ]
    telemetry = _telemetry(state, ctx, day, flights, flight_ids, weather, rng)

    n_air = len(state.aircraft.ids)
    hours, cycles, turb = usage(flights, n_air)
    comps = state.components
    owner = comps.aircraft
    base = state.aircraft.base[owner]
    exposure = physics.Exposure(
        hours=hours[owner], cycles=cycles[owner], turbulence=turb[owner],
        temperature_c=weather.temperature_c[base], humidity_pct=weather.humidity_pct[base],
        storm=weather.storm[base],
    )  # fmt: skip
    sudden = physics.sudden_failures(comps, exposure, rng)
    comps.health = comps.health - physics.wear(comps, exposure, rng)
    comps.health[sudden] = 0.0
    comps.hours = np.round(comps.hours + exposure.hours, 2)
    comps.cycles = comps.cycles + exposure.cycles

    last_arrival = _last_arrival(flights, n_air)
    log = maintenance.EventLog()
    failures = _failures(state, ctx, day, sudden, last_arrival, flights, flight_ids, log, rng)
    maintenance.line_findings(state, day, last_arrival, log, rng)
    maintenance.scheduled_checks(state, in_check, reasons, day, log, rng)
    a = state.aircraft
    a.hours_since_check = a.hours_since_check + hours
    a.cycles_since_check = a.cycles_since_check + cycles
    a.days_since_check = a.days_since_check + 1
    state.day += 1
    return DayOutput(
        date=day,
        telemetry=telemetry,
        flights=_flights_table(state, ctx, day, flights, flight_ids),
        weather=_weather_table(ctx, day, weather),
        maintenance_events=_maintenance_table(state, day, log),
        failures=failures,
    )


def _telemetry(
    state: FleetState,
    ctx: DayContext,
    day: dt.date,
    flights: DayFlights,
    flight_ids: list[str],
    weather: DailyWeather,
    rng: np.random.Generator,
) -> dict[str, pl.DataFrame]:
    comps = state.components
    n_air = len(state.aircraft.ids)
    count = np.bincount(comps.aircraft, minlength=n_air)
    first = np.cumsum(count) - count  # components are stored grouped by aircraft
    per_flight = count[flights.aircraft]
    flight = np.repeat(np.arange(flights.size), per_flight)
    local = np.arange(flight.size) - np.repeat(np.cumsum(per_flight) - per_flight, per_flight)
    comp = first[flights.aircraft][flight] + local
    rated = np.array([SPECS[t].rated_life_hours for t in COMPONENT_TYPES])[comps.ctype]
    fraction = rng.uniform(0.3, 0.7, flight.size)
    seconds = flights.departure_s[flight] + np.round(
        fraction * flights.block_hours[flight] * 3600
    ).astype(np.int64)
    signature = physics.precursor(comps.health, comps.amplitude)
    ids = pl.Series(comps.ids)
    aircraft_ids = pl.Series(state.aircraft.ids)
    fids = pl.Series(flight_ids, dtype=pl.String)
    out: dict[str, pl.DataFrame] = {}
    for t, component_type in enumerate(COMPONENT_TYPES):
        sel = np.flatnonzero(comps.ctype[comp] == t)
        sel = sel[np.lexsort((comp[sel], seconds[sel]))]
        c, f = comp[sel], flight[sel]
        origin = flights.origin[f]
        conditions = Conditions(
            oat_c=weather.temperature_c[origin], humidity_pct=weather.humidity_pct[origin],
            turbulence=flights.turbulence[f], block_hours=flights.block_hours[f],
            seats=ctx.seats[comps.aircraft[c]], wear_fraction=comps.hours[c] / rated[c],
        )  # fmt: skip
        values = readings(component_type, conditions, signature[c], comps.mode[c], rng)
        frame = pl.DataFrame(
            {
                "component_id": ids.gather(c),
                "aircraft_id": aircraft_ids.gather(comps.aircraft[c]),
                "flight_id": fids.gather(f),
                "reading_ts": timestamps(day, seconds[sel]),
                **{name: values[name] for name in sensor_names(component_type)},
            }
        )
        out[component_type] = frame
    return out


def _last_arrival(flights: DayFlights, n_aircraft: int) -> np.ndarray:
    arrival = flights.departure_s + np.round(flights.block_hours * 3600).astype(np.int64)
    last = np.full(n_aircraft, 12 * 3600, dtype=np.int64)  # on the ground all day: noon
    flown = np.zeros(n_aircraft, dtype=bool)
    np.maximum.at(last, flights.aircraft, arrival)
    flown[flights.aircraft] = True
    return np.where(flown, last, 12 * 3600)


def _failures(
    state: FleetState,
    ctx: DayContext,
    day: dt.date,
    sudden: np.ndarray,
    last_arrival: np.ndarray,
    flights: DayFlights,
    flight_ids: list[str],
    log: maintenance.EventLog,
    rng: np.random.Generator,
) -> pl.DataFrame:
    comps = state.components
    failed = np.flatnonzero(comps.health <= 0)
    last_flight = {int(a): fid for a, fid in zip(flights.aircraft, flight_ids, strict=True)}
    rows = []
    for i in failed:
        t = COMPONENT_TYPES[comps.ctype[i]]
        spec = SPECS[t]
        ac = int(comps.aircraft[i])
        if sudden[i]:
            mode = spec.sudden_modes[int(rng.integers(len(spec.sudden_modes)))]
        else:
            mode = spec.modes[int(comps.mode[i])].name
        seconds = int(last_arrival[ac])
        rows.append(
            (
                f"FL-{state.next_id('failure'):07d}", seconds, state.aircraft.ids[ac],
                comps.ids[i], t, comps.serials[i], mode, bool(sudden[i]),
                last_flight.get(ac), round(float(comps.hours[i]), 1), int(comps.cycles[i]),
            )
        )  # fmt: skip
        repair_s = min(seconds + 3600, 24 * 3600 - 1)
        maintenance.corrective(state, int(i), repair_s, "failure", day, log, rng)
    columns = ["failure_id", "seconds", "aircraft_id", "component_id", "component_type",
               "serial", "failure_mode", "sudden", "flight_id", "hours_since_new",
               "cycles_since_new"]  # fmt: skip
    frame = pl.DataFrame(rows, schema=_failure_schema(columns), orient="row")
    return frame.select(
        "failure_id",
        pl.Series("failure_ts", timestamps(day, frame["seconds"].to_numpy()), dtype=pl.String),
        pl.lit(day).alias("failure_date"),
        *columns[2:],
    )


def _failure_schema(columns: list[str]) -> dict[str, type[pl.DataType]]:
    types = [pl.String, pl.Int64, pl.String, pl.String, pl.String, pl.String, pl.String,
             pl.Boolean, pl.String, pl.Float64, pl.Int64]  # fmt: skip
    return dict(zip(columns, types, strict=True))


def _flights_table(
    state: FleetState, ctx: DayContext, day: dt.date, f: DayFlights, flight_ids: list[str]
) -> pl.DataFrame:
    codes = pl.Series(ctx.airport_codes)
    arrival = f.departure_s + np.round(f.block_hours * 3600).astype(np.int64)
    return pl.DataFrame(
        {
            "flight_id": pl.Series(flight_ids, dtype=pl.String),
            "flight_date": pl.Series([day] * f.size, dtype=pl.Date),
            "aircraft_id": pl.Series(state.aircraft.ids).gather(f.aircraft),
            "route_id": pl.Series(ctx.route_ids).gather(f.route),
            "origin": codes.gather(f.origin),
            "destination": codes.gather(f.destination),
            "departure_ts": timestamps(day, f.departure_s),
            "arrival_ts": timestamps(day, arrival),
            "block_hours": f.block_hours,
            "cycles": np.ones(f.size, dtype=np.int64),
            "turbulence_experienced": f.turbulence,
        }
    )


def _weather_table(ctx: DayContext, day: dt.date, w: DailyWeather) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "weather_date": [day] * len(ctx.airport_codes),
            "airport_code": ctx.airport_codes,
            "temperature_c": w.temperature_c,
            "humidity_pct": w.humidity_pct,
            "wind_kt": w.wind_kt,
            "storm": w.storm,
            "precipitation_mm": w.precipitation_mm,
        }
    )


def _maintenance_table(state: FleetState, day: dt.date, log: maintenance.EventLog) -> pl.DataFrame:
    frame = pl.DataFrame(log.rows, schema=_event_schema(), orient="row")
    comps = state.components
    return frame.select(
        "event_id",
        pl.Series("event_ts", timestamps(day, frame["event_ts_s"].to_numpy()), dtype=pl.String),
        pl.lit(day).alias("event_date"),
        pl.Series("aircraft_id", [state.aircraft.ids[a] for a in frame["aircraft"]], pl.String),
        pl.Series("component_id", [comps.ids[c] for c in frame["component"]], pl.String),
        pl.Series(
            "component_type",
            [COMPONENT_TYPES[comps.ctype[c]] for c in frame["component"]],
            pl.String,
        ),
        "event_type",
        "trigger",
        "check_id",
        "finding",
        "old_serial",
        "new_serial",
        pl.col("hours_before").alias("hours_since_new_before"),
        pl.col("cycles_before").alias("cycles_since_new_before"),
    )


def _event_schema() -> dict[str, type[pl.DataType]]:
    types = [pl.String, pl.Int64, pl.Int64, pl.Int64, pl.String, pl.String, pl.String,
             pl.Boolean, pl.String, pl.String, pl.Float64, pl.Int64]  # fmt: skip
    return dict(zip(maintenance.EVENT_COLUMNS, types, strict=True))
