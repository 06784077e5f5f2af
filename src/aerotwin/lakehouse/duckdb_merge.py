"""A Delta merge computed by DuckDB: only the files holding matched keys are rewritten.

deltalake's merge reads the whole target to find the keys of a few thousand new rows; this
one reads only the key columns, and only the row groups whose statistics overlap the
source's key range (with month-clustered files, one or two months). Target rows the source
replaces (or deletes) are dropped from their files, which are rewritten without them; the
source rows to insert or that win are written as new files; one Delta commit removes the
old files and adds the new ones. Same semantics as `Lakehouse.merge`: keys matched with `=`
(a NULL key never matches), `update_when` over `s` and `t`, insert-only, delete-unmatched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.files import copy_files

SRC, TGT, MATCH, DROP = "__m_source", "__m_target", "__m_match", "__m_drop"
FILE, ROW = "__m_file", "__m_row"


def _scan(files: Sequence[str]) -> str:
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return (
        f"read_parquet([{listed}], filename = '{FILE}', file_row_number = true, "
        "union_by_name = true, hive_partitioning = false)"
    )


def _target_columns(condition: str | None) -> set[str]:
    return set(re.findall(r"\bt\.(\w+)", condition or ""))


def _key_filter(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> str:
    """Each key between the source's min and max: lets DuckDB skip row groups by statistics."""
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {SRC})").fetchall())
    # Bounds come back as text, to be cast back to the key's own type inside the filter.
    bounds = con.execute(
        "SELECT "
        + ", ".join(f"CAST(min({k}) AS VARCHAR), CAST(max({k}) AS VARCHAR)" for k in keys)
        + f" FROM {SRC}"
    ).fetchall()[0]
    if any(b is None for b in bounds):
        return "false"  # a key NULL in every source row: nothing can match (NULL never does)
    terms = []
    for i, key in enumerate(keys):
        low, high = (str(b).replace("'", "''") for b in bounds[2 * i : 2 * i + 2])
        kind = types[key]
        terms.append(f"t.{key} BETWEEN CAST('{low}' AS {kind}) AND CAST('{high}' AS {kind})")
    return " AND ".join(terms)


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
    cluster_by: str | None = None,
) -> int:
    """Upsert view `view` into local table `name` (current Parquet `files`) in one commit."""
    schema = pa.schema(lakehouse.table(name).schema().to_arrow())
    columns = [f.name for f in schema]
    # The target's own types: files added must match the table's schema exactly.
    con.register("__m_schema", schema.empty_table())
    types = con.execute("SELECT column_name, column_type FROM (DESCRIBE __m_schema)").fetchall()
    con.unregister("__m_schema")
    typed = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SRC} AS SELECT {typed} FROM {view}")
    on = " AND ".join(f"s.{k} = t.{k}" for k in keys)
    scan = _scan(files) if files else None
    if insert_only and not delete_unmatched_where:
        return _insert_new(lakehouse, con, name, scan, keys, metadata, cluster_by)
    wanted = sorted((_target_columns(update_when) | set(keys)) - {FILE, ROW})
    if scan:
        # Only target rows whose key the source has: a semi join keeps the temp table to the
        # matches instead of every row of the overlapping row groups (a month, or all flights).
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TGT} AS SELECT t.{FILE}, t.file_row_number AS {ROW}, "
            f"{', '.join(f't.{c}' for c in wanted)} FROM {scan} AS t "
            f"SEMI JOIN {SRC} AS s ON {on} WHERE {_key_filter(con, keys)}"
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TGT} AS SELECT NULL::VARCHAR AS {FILE}, "
            f"NULL::BIGINT AS {ROW}, {', '.join(wanted)} FROM {SRC} LIMIT 0"
        )
    replaces = "false" if insert_only else f"coalesce(({update_when or 'true'}), false)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {MATCH} AS SELECT t.{FILE}, t.{ROW}, "
        f"{', '.join(f's.{k}' for k in keys)}, {replaces} AS __replace "
        f"FROM {SRC} AS s JOIN {TGT} AS t ON {on}"
    )
    dropped = f"SELECT {FILE}, {ROW} FROM {MATCH} WHERE __replace"
    if delete_unmatched_where and scan:
        # Target rows the source does not have, where the condition holds: deleted.
        dropped += (
            f" UNION ALL SELECT t.{FILE}, t.file_row_number FROM {scan} AS t "
            f"WHERE ({delete_unmatched_where}) AND NOT EXISTS "
            f"(SELECT 1 FROM {SRC} AS s WHERE {on})"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {DROP} AS {dropped}")
    kept_match = " AND ".join(f"m.{k} = s.{k}" for k in keys)
    new_rows = (
        f"SELECT * FROM {SRC} AS s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {MATCH} AS m WHERE NOT m.__replace AND {kept_match})"
    )
    rewritten = [r[0] for r in con.execute(f"SELECT DISTINCT {FILE} FROM {DROP}").fetchall()]
    parts = [new_rows]
    if rewritten:
        parts.append(
            f"SELECT {', '.join(columns)} FROM {_scan(rewritten)} AS t WHERE NOT EXISTS "
            f"(SELECT 1 FROM {DROP} AS d WHERE d.{FILE} = t.{FILE} "
            f"AND d.{ROW} = t.file_row_number)"
        )
    counts = con.execute(
        f"SELECT (SELECT count(*) FROM {SRC}) - (SELECT count(*) FROM {MATCH}), "
        f"(SELECT count(*) FROM {MATCH} WHERE __replace), (SELECT count(*) FROM {DROP})"
    ).fetchall()[0]
    inserted, updated, dropped_rows = (int(v) for v in counts)
    sql = " UNION ALL ".join(parts)
    folder = lakehouse.local_path(name)
    assert folder is not None  # merge_files is for local tables only
    written = copy_files(con, sql, folder, cluster_by) if inserted + dropped_rows else []
    version = lakehouse.commit_files(
        name,
        [(f.path, f.size, f.rows) for f in written],
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
    con.execute("; ".join(f"DROP TABLE IF EXISTS {t}" for t in (SRC, TGT, MATCH, DROP)))
    return version


def _insert_new(
    lakehouse: Lakehouse,
    con: duckdb.DuckDBPyConnection,
    name: str,
    scan: str | None,
    keys: Sequence[str],
    metadata: dict[str, Any] | None,
    cluster_by: str | None,
) -> int:
    """Insert-only: the source rows whose key the target lacks, in one statement.

    The quarantine's merge (a few rows, so every statement is overhead): 5 statements
    instead of 12, no temp table but the source.
    """
    on = " AND ".join(f"s.{k} = t.{k}" for k in keys)
    new_rows = f"SELECT * FROM {SRC}"
    if scan:
        new_rows += (
            f" AS s WHERE NOT EXISTS (SELECT 1 FROM {scan} AS t "
            f"WHERE {_key_filter(con, keys)} AND {on})"
        )
    folder = lakehouse.local_path(name)
    assert folder is not None  # merge_files is for local tables only
    written = copy_files(con, new_rows, folder, cluster_by)
    inserted = sum(f.rows for f in written)
    version = lakehouse.commit_files(
        name,
        [(f.path, f.size, f.rows) for f in written],
        None,  # the target exists: an append keeps its schema
        "append",
        metadata=metadata,
        metrics={"num_target_rows_inserted": inserted, "num_target_rows_updated": 0},
    )
    con.execute(f"DROP TABLE IF EXISTS {SRC}")
    return version
