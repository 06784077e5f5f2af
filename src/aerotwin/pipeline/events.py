"""The run records: `pipeline_events` (one row per table run) and the `quarantine` schema."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa

from aerotwin.lakehouse.delta import Lakehouse

EVENTS_TABLE = "pipeline_events"
QUARANTINE_TABLE = "quarantine"
QUARANTINE_KEYS = ("table_name", "record_id")

EXPECTATION_TYPE = pa.struct(
    [
        pa.field("name", pa.string()),
        pa.field("action", pa.string()),
        pa.field("passed", pa.int64()),
        pa.field("failed", pa.int64()),
    ]
)

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("table_name", pa.string()),
        pa.field("layer", pa.string()),
        pa.field("engine", pa.string()),
        pa.field("refresh", pa.string()),
        pa.field("status", pa.string()),
        pa.field("started_ts", pa.timestamp("us", tz="UTC")),
        pa.field("duration_s", pa.float64()),
        pa.field("rows_in", pa.int64()),
        pa.field("rows_out", pa.int64()),
        pa.field("quarantined", pa.int64()),
        pa.field("duplicates", pa.int64()),
        pa.field("files", pa.int64()),
        pa.field("table_version", pa.int64()),
        pa.field("expectations", pa.list_(EXPECTATION_TYPE)),
        pa.field("message", pa.string()),
    ]
)


@dataclass
class ExpectationResult:
    """Pass and fail counts of one expectation in one table run."""

    name: str
    action: str
    passed: int
    failed: int


@dataclass
class TableRun:
    """What one table's run did; one row of `pipeline_events`."""

    run_id: str
    table_name: str
    layer: str
    engine: str
    refresh: str
    started_ts: dt.datetime
    status: str = "ok"
    duration_s: float = 0.0
    rows_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    duplicates: int = 0
    files: int = 0
    table_version: int | None = None
    expectations: list[ExpectationResult] = field(default_factory=list)
    message: str = ""


def append_events(lakehouse: Lakehouse, runs: list[TableRun]) -> None:
    """Append table runs to `pipeline_events` in one commit."""
    if not runs:
        return
    rows = [
        {
            **{name: getattr(r, name) for name in EVENTS_SCHEMA.names if name != "expectations"},
            "expectations": [vars(e) for e in r.expectations],
        }
        for r in runs
    ]
    lakehouse.write(EVENTS_TABLE, pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA), "append")
