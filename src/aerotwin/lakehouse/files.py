"""Parquet files written by DuckDB into a table's folder, then committed by deltalake.

DuckDB's COPY writes Parquet on every core (about twice as fast as streaming Arrow into
`write_deltalake`); deltalake's transaction API then commits the files, and removes the ones
they replace, in one Delta commit. Files of a write that dies before its commit are listed by
no commit, so no reader ever sees them. DuckDB cannot write to object stores offline: for a
remote root the same query streams through `write_deltalake` instead.

`cluster_by` writes one folder of files per calendar month of that column (the table stays
unpartitioned, its columns unchanged): a later merge of recent rows then touches only the
files of their months (DuckDB skips the others' row groups by their statistics).

`scan_files` reads some of a table's files back with every column of the table's schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from aerotwin.lakehouse.delta import Lakehouse, WriteMode
from aerotwin.lakehouse.sql_text import identifier, text_literal
from aerotwin.lakehouse.stats import WrittenFile, overlapping_paths, top_level

BATCH_ROWS = 1_000_000
CLUSTER = "__month"
# Column types whose month clusters a table's files.
TEMPORAL = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "DATE")


def cluster_column(types: Mapping[str, str], keys: Sequence[str]) -> str | None:
    """The first key that is a timestamp or a date (DuckDB type names): files are clustered
    by its month."""
    return next((k for k in keys if types.get(k) in TEMPORAL), None)


def table_types(con: duckdb.DuckDBPyConnection, lakehouse: Lakehouse, name: str) -> dict[str, str]:
    """The DuckDB type of each column of table `name`, in the table's order."""
    # A relation over no rows names them without a statement (0.3 ms, against 1.3 ms for DESCRIBE).
    empty = con.from_arrow(lakehouse.arrow_schema(name).empty_table())
    return {column: str(kind) for column, kind in zip(empty.columns, empty.types, strict=True)}


def scan_files(files: Sequence[str], types: Mapping[str, str], options: str = "") -> str:
    """SQL (a subquery) reading Parquet `files` of a table whose columns are `types`
    (`table_types`), those first and in that order: a column none of the files holds reads
    as NULL of its type, Delta's rule for a column added after they were written.
    `options`: more `read_parquet` arguments, each after a comma.

    `union_by_name` alone knows only the columns of the files listed: a query naming a
    column the table gained after them failed to bind (a merge or a compaction that read
    only older files). Filters and projections still reach the Parquet scan.
    """
    listed = ", ".join(text_literal(f) for f in files)
    nulls = ", ".join(f"NULL::{kind} AS {identifier(c)}" for c, kind in types.items())
    return (
        f"(FROM (SELECT {nulls} LIMIT 0) UNION ALL BY NAME FROM read_parquet([{listed}], "
        f"union_by_name = true, hive_partitioning = false{options}))"
    )


def schema_of(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Schema:
    """The Arrow schema of `sql`'s result (no rows computed)."""
    return con.sql(f"SELECT * FROM ({sql}) LIMIT 0").to_arrow_table().schema


def copy_files(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    folder: Path,
    cluster_by: str | None = None,
    *,
    dictionary: bool = True,
) -> list[WrittenFile]:
    """Write `sql`'s rows as Parquet files under a fresh sub-folder of `folder`.

    `dictionary=False` writes plain pages only: DuckDB tries a dictionary on every column,
    which costs 18 % of the write's CPU on bronze (raw lines, all distinct) for files 20 %
    larger (docs/benchmarks.md, Pipeline).
    """
    target = folder / f"part-{uuid.uuid4().hex}"
    options = "FORMAT parquet, COMPRESSION snappy, RETURN_STATS true"
    if not dictionary:
        options += ", DICTIONARY_SIZE_LIMIT 1"
    if cluster_by:
        # A number (202612), not text: formatting a date per row cost ~15 % of the write.
        month = f"year({cluster_by}) * 100 + month({cluster_by})"
        sql = f"SELECT *, coalesce({month}, 0) AS {CLUSTER} FROM ({sql})"
        options += f", PARTITION_BY ({CLUSTER})"
    else:
        options += ", PER_THREAD_OUTPUT true"
    copy = f"COPY ({sql}) TO {text_literal(target)} ({options})"
    return written_files(con.execute(copy), folder)


def written_files(copied: duckdb.DuckDBPyConnection, folder: Path) -> list[WrittenFile]:
    """The files a `COPY ... (RETURN_STATS true)` just wrote under `folder`, with their
    statistics; a file with no row is deleted, not returned."""
    files = []
    for name, rows, size, _footer, columns, *_ in copied.fetchall():
        path = Path(name)
        if not rows:
            path.unlink(missing_ok=True)  # an empty result still writes a file: nothing to add
            continue
        relative = path.relative_to(folder).as_posix()
        files.append(WrittenFile(relative, int(size), int(rows), columns or {}))
    return files


def written_columns(files: Sequence[WrittenFile]) -> set[str]:
    """The top-level column names DuckDB recorded statistics for in `files`."""
    return {name for f in files for quoted in f.columns if (name := top_level(quoted))}


def files_overlapping(
    lakehouse: Lakehouse,
    name: str,
    files: Sequence[str],
    ranges: Mapping[str, tuple[Any, Any]],
) -> list[str]:
    """Those of table `name`'s current `files` whose statistics overlap every range
    (`stats.overlapping_paths`). Without this a daily run opened every file of a table (a
    year of days) to find its own few.
    """
    kept = overlapping_paths(lakehouse.file_stats(name), ranges)
    folder = f"{lakehouse.local_path(name)}/"
    return [f for f in files if f.removeprefix(folder) in kept]


def write_query(
    lakehouse: Lakehouse,
    con: duckdb.DuckDBPyConnection,
    sql: str,
    name: str,
    mode: WriteMode,
    *,
    metadata: dict[str, Any] | None = None,
    cluster_by: str | None = None,
    dictionary: bool = True,
) -> int:
    """Append or overwrite table `name` with `sql`'s rows in one commit; the new version.

    `dictionary`: see `copy_files`.
    """
    folder = lakehouse.local_path(name)
    if folder is None:
        reader = con.sql(sql).to_arrow_reader(BATCH_ROWS)
        return lakehouse.write(name, reader, mode, metadata=metadata)
    folder.mkdir(parents=True, exist_ok=True)
    files = copy_files(con, sql, folder, cluster_by, dictionary=dictionary)
    # Planning the query again for its schema costs ~10 ms: only a new table needs it, or
    # one gaining columns (a field added to a data contract).
    needs_schema = (
        mode == "overwrite"
        or not lakehouse.exists(name)
        or not written_columns(files) <= set(lakehouse.arrow_schema(name).names)
    )
    return lakehouse.commit_files(
        name,
        files,
        schema_of(con, sql) if needs_schema else None,
        mode,
        metadata=metadata,
        metrics={"num_added_rows": sum(f.rows for f in files)},
    )
