"""The CSV feeds of the landing zone: reference data and events, with their typed columns.

Column names and types follow docs/landing_zone.md; a column added to a feed there is one
line here. Keys are what duplicates are removed on.
"""

from __future__ import annotations

from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.silver_tabular import CsvFeed
from aerotwin.pipeline.silver_tabular import tables as feed_tables

FEEDS: tuple[CsvFeed, ...] = (
    CsvFeed(
        "airports",
        {
            "airport_code": "VARCHAR",
            "name": "VARCHAR",
            "city": "VARCHAR",
            "country": "VARCHAR",
            "latitude": "DOUBLE",
            "longitude": "DOUBLE",
        },
        keys=("airport_code",),
        reference=True,
    ),
    CsvFeed(
        "aircraft",
        {
            "aircraft_id": "VARCHAR",
            "model": "VARCHAR",
            "manufacturer": "VARCHAR",
            "base_airport_code": "VARCHAR",
            "entry_into_service_date": "DATE",
        },
        keys=("aircraft_id",),
        reference=True,
    ),
    CsvFeed(
        "components",
        {
            "component_id": "VARCHAR",
            "aircraft_id": "VARCHAR",
            "component_type": "VARCHAR",
            "position": "VARCHAR",
            "serial": "VARCHAR",
            "install_date": "DATE",
        },
        keys=("component_id",),
        reference=True,
    ),
    CsvFeed(
        "routes",
        {
            "route_id": "VARCHAR",
            "origin": "VARCHAR",
            "destination": "VARCHAR",
            "distance_nm": "DOUBLE",
            "turbulence_index": "DOUBLE",
        },
        keys=("route_id",),
        reference=True,
    ),
    CsvFeed(
        "flights",
        {"flight_id": "VARCHAR", "aircraft_id": "VARCHAR"},
        keys=("flight_id",),
    ),
    CsvFeed(
        "weather",
        {"airport_code": "VARCHAR", "weather_date": "DATE"},
        keys=("airport_code", "weather_date"),
    ),
    CsvFeed("maintenance_events", {"event_id": "VARCHAR"}, keys=("event_id",)),
    CsvFeed("failures", {"failure_id": "VARCHAR"}, keys=("failure_id",)),
)


def tables() -> list[TableDef]:
    """Bronze and silver declarations of every CSV feed."""
    return feed_tables(FEEDS)
