"""The table catalog: every table's layer, version, size, last update and schema; SQL by name.

The lakehouse knows nothing of the pipeline: callers pass the layer of each declared table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from aerotwin.lakehouse.delta import Lakehouse

LAYER_ORDER = ("bronze", "silver", "gold", "system", "other")


@dataclass(frozen=True)
class CatalogEntry:
    """One table as `aerotwin tables` shows it."""

    name: str
    layer: str
    version: int
    rows: int
    last_update: dt.datetime | None
    columns: tuple[tuple[str, str], ...]


def table_names(lakehouse: Lakehouse, declared: Iterable[str]) -> list[str]:
    """Every table there is: all of a local root's, and the `declared` ones that exist
    (deltalake cannot list the tables under an object-store root)."""
    return sorted(set(lakehouse.names()) | {n for n in declared if lakehouse.exists(n)})


def entries(lakehouse: Lakehouse, layers: Mapping[str, str]) -> list[CatalogEntry]:
    """Every existing table (declared ones first by layer), with its state and schema."""
    out = []
    for name in table_names(lakehouse, layers):
        state = lakehouse.state(name)
        schema = pa.schema(lakehouse.table(name).schema())
        updated = (
            dt.datetime.fromtimestamp(state.last_update_ms / 1000, dt.UTC)
            if state.last_update_ms is not None
            else None
        )
        out.append(
            CatalogEntry(
                name,
                layers.get(name, "other"),
                state.version,
                state.rows,
                updated,
                tuple((f.name, str(f.type)) for f in schema),
            )
        )
    return sorted(out, key=lambda e: (LAYER_ORDER.index(e.layer), e.name))


def connect(lakehouse: Lakehouse, names: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where every table of the lakehouse is a view by its name."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in names if names is not None else lakehouse.names():
        con.register(name, lakehouse.scannable(name))
    return con


def query(lakehouse: Lakehouse, sql: str, names: list[str] | None = None) -> pa.Table:
    """Run DuckDB SQL over the lakehouse tables (by name) and return the result."""
    con = connect(lakehouse, names)
    try:
        relation = con.sql(sql)
        # A statement that returns nothing (SET, an empty string) has no relation.
        return relation.to_arrow_table() if relation is not None else pa.table({})
    finally:
        con.close()
