"""The installed part the twin views show: the reference's or the latest replacement's."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from aerotwin.twin.views import INSTALL_DATE, SERIAL, installed_sql


def installed(reference: dict, replacements: list[dict]) -> tuple[str, dt.date]:
    con = duckdb.connect()
    con.register("components", pa.Table.from_pylist([{"component_id": "A-ENG1", **reference}]))
    events = [
        {"component_id": "A-ENG1", "event_id": f"E{i}", "event_type": "replacement",
         "event_ts": dt.datetime.combine(day, dt.time(20), dt.UTC), "event_date": day,
         "new_serial": serial}
        for i, (day, serial) in enumerate(replacements)
    ]  # fmt: skip
    schema = pa.schema(
        [("component_id", pa.string()), ("event_id", pa.string()), ("event_type", pa.string()),
         ("event_ts", pa.timestamp("us", "UTC")), ("event_date", pa.date32()),
         ("new_serial", pa.string())]
    )  # fmt: skip
    con.register("maintenance_events", pa.Table.from_pylist(events, schema=schema))
    ((serial, install_date),) = con.sql(
        f"SELECT {SERIAL}, {INSTALL_DATE} FROM components AS c "
        f"LEFT JOIN ({installed_sql()}) AS p ON p.component_id = c.component_id"
    ).fetchall()
    return serial, install_date


def test_the_view_shows_the_part_installed_last() -> None:
    jan, feb, mar = dt.date(2026, 1, 10), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    first = {"serial": "SN-1", "install_date": jan}
    assert installed(first, []) == ("SN-1", jan)
    # The simulator's reference: a replacement after it fitted a new serial.
    assert installed(first, [(feb, "SN-2")]) == ("SN-2", feb)
    assert installed(first, [(jan, "SN-2")]) == ("SN-2", jan)  # the same day, later
    # A reference exported later lists what the replacements on record fitted, or a part
    # fitted after the last of them (a swap the maintenance feed does not hold).
    assert installed({"serial": "SN-2", "install_date": feb}, [(feb, "SN-2")]) == ("SN-2", feb)
    assert installed({"serial": "SN-3", "install_date": mar}, [(feb, "SN-2")]) == ("SN-3", mar)
