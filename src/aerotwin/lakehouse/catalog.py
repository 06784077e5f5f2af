"""The table catalog: every table's layer, version, size, last update and schema; SQL by name.

The lakehouse knows nothing of the pipeline: callers pass the layer of each declared table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from aerotwin.lakehouse.delta import Lakehouse, TableUnreadable
from aerotwin.lakehouse.duckdb_engine import connect_utc

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


def entries(
    lakehouse: Lakehouse,
    layers: Mapping[str, str],
    damaged: list[TableUnreadable] | None = None,
) -> list[CatalogEntry]:
    """Every existing table (declared ones first by layer), with its state and schema.

    A table whose log cannot be read raises TableUnreadable, or, given a `damaged` list, is
    added to it and left out.
    """
    out = []
    for name in table_names(lakehouse, layers):
        try:
            state = lakehouse.state(name)
        except TableUnreadable as exc:
            if damaged is None:
                raise
            damaged.append(exc)
            continue
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


def tables_read(sql: str) -> set[str] | None:
    """The table names (lower case) the DuckDB statement `sql` names, CTE names among them;
    None when SQLGlot cannot parse it."""
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return None
    return {t.name.lower() for s in statements if s for t in s.find_all(exp.Table) if t.name}


def connect(
    lakehouse: Lakehouse, names: list[str] | None = None, needed: set[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where every table of the lakehouse is a view by its name.

    A table whose log cannot be read stops it (TableUnreadable) only when it is `needed`
    (None: every table is); any other such table is left out.
    """
    con = connect_utc()
    try:
        for name in names if names is not None else lakehouse.names():
            try:
                con.register(name, lakehouse.scannable(name))
            except TableUnreadable:
                if needed is None or name.lower() in needed:
                    raise
    except BaseException:
        con.close()  # any failure (a table named but missing, a store error): no caller to close it
        raise
    return con


def query(lakehouse: Lakehouse, sql: str, names: list[str] | None = None) -> pa.Table:
    """Run DuckDB SQL over the lakehouse tables (by name) and return the result.

    A damaged table stops only the statements that name it: others still see every table
    (SHOW TABLES, information_schema) but that one.
    """
    con = connect(lakehouse, names, tables_read(sql))
    try:
        relation = con.sql(sql)
        # A statement that returns nothing (SET, an empty string) has no relation.
        return relation.to_arrow_table() if relation is not None else pa.table({})
    finally:
        con.close()
