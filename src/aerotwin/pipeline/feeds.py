"""The CSV feeds of the landing zone: reference data and events, with their typed columns.

Column names and types follow docs/landing_zone.md; a column added to a feed there is one
line here (columns a file has but this list lacks stay in bronze, not in silver). Keys are
what duplicates are removed on. Event numbers have generous physical ranges (a value outside
is a typo or a unit mistake, never weather or a flight): the simulator stays well inside.
"""

from __future__ import annotations

from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.silver_tabular import CsvFeed, Order, Reference
from aerotwin.pipeline.silver_tabular import tables as feed_tables

TEXT, FLOAT, INT, DATE, TS, BOOL = "VARCHAR", "DOUBLE", "BIGINT", "DATE", "TIMESTAMPTZ", "BOOLEAN"

# What event rows name must exist in the reference tables (reference rows are not checked
# against each other: an aircraft held back for its base would hide all its telemetry).
AIRCRAFT = Reference("aircraft_id", "aircraft", "aircraft_id", "unknown_aircraft")
COMPONENT = Reference("component_id", "components", "component_id", "unknown_component")
# A component's age: not negative, and below a million hours or cycles (over a century).
AGE = (0, 1_000_000)


def _airport(column: str) -> Reference:
    return Reference(column, "airports", "airport_code", "unknown_airport")


FEEDS: tuple[CsvFeed, ...] = (
    CsvFeed(
        "airports",
        {
            "airport_code": TEXT,
            "name": TEXT,
            "city": TEXT,
            "country": TEXT,
            "latitude": FLOAT,
            "longitude": FLOAT,
            "climate": TEXT,
        },
        keys=("airport_code",),
        reference=True,
    ),
    CsvFeed(
        "aircraft",
        {
            "aircraft_id": TEXT,
            "model": TEXT,
            "manufacturer": TEXT,
            "engine_count": INT,
            "base_airport_code": TEXT,
            "entry_into_service_date": DATE,
        },
        keys=("aircraft_id",),
        reference=True,
    ),
    CsvFeed(
        "components",
        {
            "component_id": TEXT,
            "aircraft_id": TEXT,
            "component_type": TEXT,
            "position": TEXT,
            "serial": TEXT,
            "install_date": DATE,
            "hours_since_new": FLOAT,
            "cycles_since_new": INT,
            "rated_life_hours": FLOAT,
            "rated_life_cycles": FLOAT,
            "as_of_date": DATE,
        },
        keys=("component_id",),
        reference=True,
    ),
    CsvFeed(
        "routes",
        {
            "route_id": TEXT,
            "origin": TEXT,
            "destination": TEXT,
            "distance_nm": FLOAT,
            "turbulence_index": FLOAT,
        },
        keys=("route_id",),
        reference=True,
    ),
    CsvFeed(
        "flights",
        {
            "flight_id": TEXT,
            "flight_date": DATE,
            "aircraft_id": TEXT,
            "route_id": TEXT,
            "origin": TEXT,
            "destination": TEXT,
            "departure_ts": TS,
            "arrival_ts": TS,
            "block_hours": FLOAT,
            "cycles": INT,
            "turbulence_experienced": FLOAT,
        },
        keys=("flight_id",),
        references=(
            AIRCRAFT,
            _airport("origin"),
            _airport("destination"),
            Reference("route_id", "routes", "route_id", "unknown_route"),
        ),
        # The longest flights block under 20 hours; a training flight lands a few times.
        ranges={"block_hours": (0, 30), "cycles": (0, 100), "turbulence_experienced": (0, 1)},
        orders=(Order("departure_ts", "arrival_ts", "arrival_before_departure"),),
    ),
    CsvFeed(
        "weather",
        {
            "weather_date": DATE,
            "airport_code": TEXT,
            "temperature_c": FLOAT,
            "humidity_pct": FLOAT,
            "wind_kt": FLOAT,
            "storm": BOOL,
            "precipitation_mm": FLOAT,
        },
        keys=("airport_code", "weather_date"),
        references=(_airport("airport_code"),),
        # Beyond Earth's records: -89 °C, 57 °C, 1825 mm of rain in a day, 220 kt gusts.
        ranges={
            "temperature_c": (-90, 60),
            "humidity_pct": (0, 100),
            "wind_kt": (0, 250),
            "precipitation_mm": (0, 2000),
        },
    ),
    CsvFeed(
        "maintenance_events",
        {
            "event_id": TEXT,
            "event_ts": TS,
            "event_date": DATE,
            "aircraft_id": TEXT,
            "component_id": TEXT,
            "component_type": TEXT,
            "event_type": TEXT,
            "trigger": TEXT,
            "check_id": TEXT,
            "finding": BOOL,
            "old_serial": TEXT,
            "new_serial": TEXT,
            "hours_since_new_before": FLOAT,
            "cycles_since_new_before": INT,
        },
        keys=("event_id",),
        references=(AIRCRAFT, COMPONENT),
        ranges={"hours_since_new_before": AGE, "cycles_since_new_before": AGE},
    ),
    CsvFeed(
        "failures",
        {
            "failure_id": TEXT,
            "failure_ts": TS,
            "failure_date": DATE,
            "aircraft_id": TEXT,
            "component_id": TEXT,
            "component_type": TEXT,
            "serial": TEXT,
            "failure_mode": TEXT,
            "sudden": BOOL,
            "flight_id": TEXT,
            "hours_since_new": FLOAT,
            "cycles_since_new": INT,
        },
        keys=("failure_id",),
        references=(AIRCRAFT, COMPONENT),
        ranges={"hours_since_new": AGE, "cycles_since_new": AGE},
    ),
)


def tables() -> list[TableDef]:
    """Bronze and silver declarations of every CSV feed."""
    return feed_tables(FEEDS)
