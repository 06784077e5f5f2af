"""The CSV feeds of the landing zone: reference data and events, with their typed columns.

Column names and types follow docs/landing_zone.md; a column added to a feed there is one
line here (columns a file has but this list lacks stay in bronze, not in silver). Keys are
what duplicates are removed on.
"""

from __future__ import annotations

from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.silver_tabular import CsvFeed, Reference
from aerotwin.pipeline.silver_tabular import tables as feed_tables

TEXT, FLOAT, INT, DATE, TS, BOOL = "VARCHAR", "DOUBLE", "BIGINT", "DATE", "TIMESTAMPTZ", "BOOLEAN"

# What event rows name must exist in the reference tables (reference rows are not checked
# against each other: an aircraft held back for its base would hide all its telemetry).
AIRCRAFT = Reference("aircraft_id", "aircraft", "aircraft_id", "unknown_aircraft")
COMPONENT = Reference("component_id", "components", "component_id", "unknown_component")


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
    ),
)


def tables() -> list[TableDef]:
    """Bronze and silver declarations of every CSV feed."""
    return feed_tables(FEEDS)
