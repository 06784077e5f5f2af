"""Table maintenance: compaction of small files and removal of files no version needs.

Daily runs add a small file per table per day (per month folder), and merges leave the files
they replaced on disk. `compact` rewrites each folder's small files into one, in a commit
that changes no row (`dataChange` false, marked as maintenance in its metadata; on an
object store, deltalake's compaction of the whole table does the same); `vacuum`
deletes the files no version within the retention period reads, and files no commit ever
listed (those of a run killed before its commit). Neither moves a table's data version
(`Lakehouse.data_version`), so the pipeline does not take them for new input.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import duckdb

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.duckdb_engine import connect_utc
from aerotwin.lakehouse.files import scan_files, table_types, written_files
from aerotwin.lakehouse.sql_text import identifier, text_literal
from aerotwin.lakehouse.stats import WrittenFile

# A file this large is left as it is; smaller ones in the same folder are merged.
TARGET_BYTES = 128 * 1024 * 1024
DEFAULT_RETAIN_HOURS = 168  # Delta's default: a reader of a week-old version still works


@dataclass(frozen=True)
class Maintained:
    """What maintenance did to one table."""

    table: str
    files_before: int
    files_after: int
    files_deleted: int
    version: int | None  # the compaction's commit, None when nothing needed compacting


def small_file_groups(
    paths: Sequence[str], sizes: Sequence[int], target_bytes: int = TARGET_BYTES
) -> list[list[str]]:
    """The small files to merge: per folder (a month cluster stays one month), files under
    `target_bytes` packed into groups of about `target_bytes`; a group of one is left as it
    is. Paths as the log records them."""
    by_folder: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path, size in zip(paths, sizes, strict=True):
        if size < target_bytes:
            by_folder[_cluster(path)].append((path, size))
    groups: list[list[str]] = []
    for _, files in sorted(by_folder.items()):
        group: list[str] = []
        total = 0
        for path, size in sorted(files):
            group.append(path)
            total += size
            if total >= target_bytes:
                groups.append(group)
                group, total = [], 0
        groups.append(group)
    return [g for g in groups if len(g) > 1]


def _cluster(path: str) -> str:
    """A write's files live in part-<id>/[__month=<m>/]: the month folder, or ""."""
    parent = PurePosixPath(path).parent.name
    return parent if parent.startswith("__") else ""


def compact(
    lakehouse: Lakehouse, con: duckdb.DuckDBPyConnection, name: str
) -> tuple[int, int, int | None]:
    """Merge the small files of table `name` (per month folder when local) in one commit
    that changes no row. Returns (files before, files after, the commit's version or None)."""
    folder = lakehouse.local_path(name)
    if folder is None:
        # An object store: deltalake's compaction (whole table, not per month folder).
        return lakehouse.compact_with_deltalake(name, TARGET_BYTES)
    files = lakehouse.plain_parquet_files(name)
    if files is None:
        return (0, 0, None)  # partitioned or with reader features: left alone
    stats = lakehouse.file_stats(name)
    groups = small_file_groups(
        stats.column("path").to_pylist(), stats.column("size_bytes").to_pylist()
    )
    if not groups:
        return (len(files), len(files), None)
    types = table_types(con, lakehouse, name)
    columns = ", ".join(identifier(c) for c in types)
    written: list[WrittenFile] = []
    for group in groups:
        target = PurePosixPath(f"part-{uuid.uuid4().hex}") / _cluster(group[0]) / "data_0.parquet"
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        # A group of files older than a column the table gained: the column as NULL.
        scan = scan_files([str(folder / p) for p in group], types)
        copied = con.execute(
            f"COPY (SELECT {columns} FROM {scan}) TO {text_literal(folder / target)} "
            "(FORMAT parquet, COMPRESSION snappy, RETURN_STATS true)"
        )
        written += written_files(copied, folder)
    version = lakehouse.commit_files(
        name,
        written,
        None,
        "append",
        remove=[p for group in groups for p in group],
        metadata=lakehouse.maintenance_metadata(name, "compact"),
        data_change=False,
    )
    removed = sum(len(g) for g in groups)
    return (len(files), len(files) - removed + len(written), version)


def maintain(
    lakehouse: Lakehouse,
    names: Sequence[str],
    *,
    retain_hours: int = DEFAULT_RETAIN_HOURS,
    on_table: Callable[[str], None] | None = None,
) -> list[Maintained]:
    """Compact, then vacuum, each of `names`."""
    con = connect_utc()
    con.execute("SET enable_progress_bar = false")  # the command draws its own
    done = []
    try:
        for name in names:
            before, after, version = compact(lakehouse, con, name)
            deleted = lakehouse.vacuum(name, retain_hours)
            done.append(Maintained(name, before, after, deleted, version))
            if on_table is not None:
                on_table(name)
    finally:
        con.close()
    return done
