"""A Delta merge computed by DuckDB: only the files holding matched keys are rewritten.

deltalake's merge reads whole files to find the keys of a few thousand new rows (each file
the source keys' range overlaps, `Lakehouse.merge`); this one reads only the key columns,
and only the row groups whose statistics overlap the source's key range (with
month-clustered files, one or two months). Target rows the source
replaces (or deletes) are dropped from their files, which are rewritten without them; the
source rows to insert or that win are written as new files; one Delta commit removes the
old files and adds the new ones. Same semantics as `Lakehouse.merge`: keys matched with `=`
(a NULL key never matches), `update_when` over `s` and `t`, insert-only, delete-unmatched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.files import (
    cluster_column,
    copy_files,
    files_overlapping,
    scan_files,
    table_types,
)
from aerotwin.lakehouse.sql_text import text_literal
from aerotwin.lakehouse.stats import WrittenFile

SRC, MATCH, DROP = "__m_source", "__m_match", "__m_drop"
FILE, ROW = "__m_file", "__m_row"


def _scan(files: Sequence[str], types: Mapping[str, str]) -> str:
    """The target's `files`, with every column of its schema (`types`), each row's file and
    row number."""
    return scan_files(files, types, f", filename = '{FILE}', file_row_number = true")


@dataclass(frozen=True)
class KeyBounds:
    """Each key's min and max over the source: as values (to skip files by their
    statistics) and as SQL literals of the key's type (to skip row groups)."""

    values: dict[str, tuple[Any, Any]]
    literals: dict[str, tuple[str, str]]


def _key_bounds(
    con: duckdb.DuckDBPyConnection, keys: Sequence[str], types: Mapping[str, str]
) -> KeyBounds | None:
    """The source's key bounds; None when a key is NULL in every source row (nothing can
    match: NULL never does). `types`: the DuckDB type of each column of the source."""
    # Literals come back as text, to be cast back to the key's own type.
    row = con.execute(
        "SELECT "
        + ", ".join(
            f"min({k}), max({k}), CAST(min({k}) AS VARCHAR), CAST(max({k}) AS VARCHAR)"
            for k in keys
        )
        + f" FROM {SRC}"
    ).fetchall()[0]
    if any(v is None for v in row):
        return None
    values, literals = {}, {}
    for i, key in enumerate(keys):
        low, high, low_text, high_text = row[4 * i : 4 * i + 4]
        values[key] = (low, high)
        kind = types[key]
        literals[key] = (
            f"CAST({text_literal(low_text)} AS {kind})",
            f"CAST({text_literal(high_text)} AS {kind})",
        )
    return KeyBounds(values, literals)


def _key_filter(bounds: KeyBounds | None) -> str:
    """Each key between the source's bounds: lets DuckDB skip row groups by statistics."""
    if bounds is None:
        return "false"
    return " AND ".join(
        f"t.{k} BETWEEN {low} AND {high}" for k, (low, high) in bounds.literals.items()
    )


def merge_files(
    lakehouse: Lakehouse,
    con: duckdb.DuckDBPyConnection,
    view: str,
    name: str,
    files: Sequence[str],
    keys: Sequence[str],
    *,
    update_when: str | None = None,
    insert_only: bool = False,
    delete_unmatched_where: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """Upsert view `view` into local table `name` (current Parquet `files`) in one commit.

    New files are clustered by the month of the first temporal key (see `files`).
    """
    # The target's own types: files added must match the table's schema exactly, and the
    # target's files are read with all its columns (one it gained after them: NULL).
    types = table_types(con, lakehouse, name)
    cluster_by = cluster_column(types, keys)
    typed = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SRC} AS SELECT {typed} FROM {view}")
    on = " AND ".join(f"s.{k} = t.{k}" for k in keys)
    bounds = _key_bounds(con, keys, types) if files else None
    # Only files whose statistics overlap the source's keys can hold a match; a delete of
    # unmatched rows must see every file.
    matchable = files if delete_unmatched_where else _overlapping(lakehouse, name, files, bounds)
    if insert_only and not delete_unmatched_where:
        scan = _scan(matchable, types) if matchable else None
        return _insert_new(lakehouse, con, name, scan, bounds, on, cluster_by, metadata)
    scan = _scan(files, types) if files else None
    replaces = "false" if insert_only else f"coalesce(({update_when or 'true'}), false)"
    source_keys = ", ".join(f"s.{k}" for k in keys)
    if matchable:
        # The matches straight from the target's files: DuckDB reads only the columns named
        # (keys, those `update_when` reads) of the row groups overlapping the source's keys.
        matches = (
            f"SELECT t.{FILE}, t.file_row_number AS {ROW}, {source_keys}, "
            f"{replaces} AS __replace FROM {SRC} AS s JOIN {_scan(matchable, types)} AS t ON {on} "
            f"WHERE {_key_filter(bounds)}"
        )
    else:
        matches = (
            f"SELECT NULL::VARCHAR AS {FILE}, NULL::BIGINT AS {ROW}, {source_keys}, "
            f"false AS __replace FROM {SRC} AS s LIMIT 0"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {MATCH} AS {matches}")
    dropped = f"SELECT {FILE}, {ROW} FROM {MATCH} WHERE __replace"
    if delete_unmatched_where and scan:
        # Target rows the source does not have, where the condition holds: deleted.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {DROP} AS {dropped} "
            f"UNION ALL SELECT t.{FILE}, t.file_row_number FROM {scan} AS t "
            f"WHERE ({delete_unmatched_where}) AND NOT EXISTS "
            f"(SELECT 1 FROM {SRC} AS s WHERE {on})"
        )
        dropped = f"SELECT * FROM {DROP}"
    # Counts and the files to rewrite in one query (each statement costs ~1-2 ms).
    counted = con.execute(
        f"SELECT (SELECT count(*) FROM {SRC}) - (SELECT count(*) FROM {MATCH}), "
        f"(SELECT count(*) FROM {MATCH} WHERE __replace), "
        f"(SELECT count(*) FROM ({dropped})), "
        f"(SELECT list(DISTINCT {FILE}) FROM ({dropped}))"
    ).fetchall()[0]
    inserted, updated, dropped_rows = (int(v) for v in counted[:3])
    rewritten = sorted(counted[3] or [])
    kept_match = " AND ".join(f"m.{k} = s.{k}" for k in keys)
    parts = [
        f"SELECT * FROM {SRC} AS s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {MATCH} AS m WHERE NOT m.__replace AND {kept_match})"
    ]
    if rewritten:
        parts.append(
            f"SELECT {', '.join(types)} FROM {_scan(rewritten, types)} AS t WHERE NOT EXISTS "
            f"(SELECT 1 FROM ({dropped}) AS d WHERE d.{FILE} = t.{FILE} "
            f"AND d.{ROW} = t.file_row_number)"
        )
    sql = " UNION ALL ".join(parts)
    written = _new_files(lakehouse, con, name, sql, cluster_by) if inserted + dropped_rows else []
    version = lakehouse.commit_files(
        name,
        written,
        None,  # the target exists: an append keeps its schema
        "append",
        remove=[lakehouse.relative_path(name, f) for f in rewritten],
        metadata=metadata,
        metrics={
            "num_target_rows_inserted": inserted,
            "num_target_rows_updated": updated,
            "num_target_rows_deleted": dropped_rows - updated,
        },
    )
    con.execute("; ".join(f"DROP TABLE IF EXISTS {t}" for t in (SRC, MATCH, DROP)))
    return version


def _overlapping(
    lakehouse: Lakehouse,
    name: str,
    files: Sequence[str],
    bounds: KeyBounds | None,
) -> list[str]:
    """The `files` that may hold a source key (none when no source key can match)."""
    if bounds is None:
        return []
    return files_overlapping(lakehouse, name, files, bounds.values)


def _insert_new(
    lakehouse: Lakehouse,
    con: duckdb.DuckDBPyConnection,
    name: str,
    scan: str | None,
    bounds: KeyBounds | None,
    on: str,
    cluster_by: str | None,
    metadata: dict[str, Any] | None,
) -> int:
    """Insert-only: the source rows whose key the target lacks, in one statement.

    The quarantine's merge (a few rows, so every statement is overhead): 5 statements
    instead of 12, no temp table but the source.
    """
    new_rows = f"SELECT * FROM {SRC}"
    if scan:
        new_rows += (
            f" AS s WHERE NOT EXISTS (SELECT 1 FROM {scan} AS t "
            f"WHERE {_key_filter(bounds)} AND {on})"
        )
    written = _new_files(lakehouse, con, name, new_rows, cluster_by)
    inserted = sum(f.rows for f in written)
    version = lakehouse.commit_files(
        name,
        written,
        None,  # the target exists: an append keeps its schema
        "append",
        metadata=metadata,
        metrics={"num_target_rows_inserted": inserted, "num_target_rows_updated": 0},
    )
    con.execute(f"DROP TABLE IF EXISTS {SRC}")
    return version


def _new_files(
    lakehouse: Lakehouse,
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    cluster_by: str | None,
) -> list[WrittenFile]:
    """`sql`'s rows written as new files of local table `name`."""
    folder = lakehouse.local_path(name)
    assert folder is not None  # merge_files is for local tables only
    return copy_files(con, sql, folder, cluster_by)
