"""Delta Lake table I/O through `deltalake`, under one root (a folder or an object-store URI).

Every write is one Delta commit, so a crash leaves a table at its last committed version.
A commit can carry pipeline metadata (`userMetadata`, the same key Spark writes), which the
pipeline uses as its watermark: the watermark and the data it covers are committed together.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from aerotwin.lakehouse.sql_text import text_literal
from aerotwin.lakehouse.stats import WrittenFile, delta_stats

METADATA_KEY = "userMetadata"
# In a commit's pipeline metadata: the commit only rearranged files (compaction), no row changed.
MAINTENANCE_KEY = "maintenance"
# Commits deltalake makes itself that change no row.
MAINTENANCE_OPERATIONS = ("OPTIMIZE", "VACUUM START", "VACUUM END")
# Set on the tables this package creates. A daily run adds a commit or two per table, and
# reading a log replays every commit since its last checkpoint (~0.6 ms each): with Delta's
# default of 100, 60 days of daily runs cost each table ~40 ms per read, and ~10 with 10.
TABLE_PROPERTIES = {"delta.checkpointInterval": "10"}
# Operation metrics (delta-rs's name, Spark's): a merge's rows inserted and updated, and
# the rows a plain write wrote.
MERGE_INSERTED = ("num_target_rows_inserted", "numTargetRowsInserted")
MERGE_UPDATED = ("num_target_rows_updated", "numTargetRowsUpdated")
WRITTEN_ROWS = ("num_added_rows", "numOutputRows")
# The operations that write rows without matching them to the table's (every row written
# is new): an append or overwrite (both engines), committed files creating a table.
ROW_WRITES = frozenset({"WRITE", "CREATE TABLE"})
# A commit in the log: its version, zero-padded to 20 digits (Delta protocol).
COMMIT_FILE = re.compile(r"\d{20}\.json")

WriteMode = Literal["append", "overwrite"]
# deltalake's object-store errors: a chain of causes, one per line, with terminal colours.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# An S3-style XML error body within it: its code and message are what a user needs.
_FRAME = re.compile(r"\d+: |at \S+:\d+:\d+$")
_XML_ERROR = re.compile(r"<Code>(.*?)</Code>\s*<Message>(.*?)</Message>", re.S)


class ConcurrentCommit(RuntimeError):
    """Another writer committed to a table after this one read it: this write committed
    nothing (the pipeline's watermarks and checkpoints assume no commit in between)."""


class TableUnreadable(RuntimeError):
    """A table's Delta log cannot be read (a damaged commit file): names the table and how
    to recover, instead of deltalake's error that names no table."""

    def __init__(self, name: str, root: str, reason: str) -> None:
        super().__init__(
            f"table {name} under {root}: its Delta log cannot be read ({reason}); restore its "
            "_delta_log folder, or delete the table's folder and the next pipeline run rebuilds "
            "it (a bronze table from the landing files still there)"
        )
        self.name = name


class StoreUnreachable(ValueError):
    """The object store under the lakehouse root refused or did not answer; says which
    root and why."""


def store_error_reason(exc: BaseException) -> str:
    """deltalake's error chain as one line: the outer error and its innermost cause."""
    lines = [_ANSI.sub("", line).strip(" ↳") for line in str(exc).splitlines()]
    # With RUST_BACKTRACE set, deltalake appends the frames ("0: <unknown>", "at file:1:0").
    lines = [line for line in lines if line and not _FRAME.match(line)]
    if not lines:
        return type(exc).__name__
    found = _XML_ERROR.search(" ".join(lines))
    inner = f"{found.group(1)}: {found.group(2)}" if found else lines[-1]
    head = lines[0]
    return inner if head == inner or "<" in head else f"{head}: {inner}"


@dataclass(frozen=True)
class TableState:
    """What `aerotwin tables` shows for one Delta table."""

    name: str
    version: int
    rows: int
    last_update_ms: int | None


class Lakehouse:
    """The Delta tables under one root; table names map to `{root}/{name}`."""

    def __init__(
        self,
        root: str,
        storage_options: Mapping[str, str] | None = None,
        *,
        snapshot: bool = False,
    ) -> None:
        """`snapshot`: read each table's log from storage once, then let only the commits
        made through this object (or announced with `advanced`) move it on. A pipeline run
        asks for each table's version about ten times; refreshing the log costs ~1 ms each.
        """
        self.root = root.rstrip("/")
        self.storage_options = dict(storage_options or {}) or None
        self.snapshot = snapshot
        # Loaded tables, brought up to date on use (loading a log costs 5-15 ms), each
        # table's newest version seen, and what was read off one version (a committed
        # version never changes, so neither does what it holds). Shared by the pipeline's
        # threads: deltalake's tables lock themselves, and the runner never has one thread
        # write a table while another reads it.
        self._loaded: dict[str, DeltaTable] = {}
        self._newest: dict[str, int] = {}
        self._memo: dict[tuple[str, str, int], Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, *, snapshot: bool = False) -> Lakehouse:
        """The lakehouse named by Settings (root and storage options)."""
        return cls(settings.lakehouse_root, settings.lakehouse.storage_options, snapshot=snapshot)

    @property
    def is_local(self) -> bool:
        return "://" not in self.root or self.root.startswith("file://")

    @property
    def local_root(self) -> Path | None:
        """The root folder when the root is local, else None."""
        return Path(self.root.removeprefix("file://")) if self.is_local else None

    def uri(self, name: str) -> str:
        """Where table `name` lives."""
        return f"{self.root}/{name}"

    def local_path(self, name: str) -> Path | None:
        """The absolute folder of table `name` when the root is local, else None.

        Absolute, as deltalake names the table's files (`plain_parquet_files`), even when
        the configured root is relative.
        """
        root = self.local_root
        return None if root is None else Path(os.path.abspath(root / name))

    def table(self, name: str, version: int | None = None) -> DeltaTable:
        """The Delta table `name` (optionally as of `version`); KeyError when it does not exist."""
        with self._reading_log(name):
            if version is not None:
                return DeltaTable(self.uri(name), version, storage_options=self.storage_options)
            with self._lock(name):  # one load per table, whichever thread asks first
                loaded = self._loaded.get(name)
                if loaded is None:
                    loaded = DeltaTable(self.uri(name), storage_options=self.storage_options)
                    self._loaded[name] = loaded
                elif not (self.snapshot and self._newest.get(name) == loaded.version()):
                    loaded.update_incremental()  # reads only the commits added since
                self._newest[name] = max(self._newest.get(name, -1), loaded.version())
                return loaded

    @contextmanager
    def _reading_log(self, name: str) -> Iterator[None]:
        """deltalake's errors reading table `name`'s log as KeyError (no such table) or
        TableUnreadable (a damaged commit), naming the table."""
        try:
            yield
        except TableNotFoundError:
            self._loaded.pop(name, None)
            raise KeyError(f"table {name!r} does not exist under {self.root}") from None
        except DeltaError as exc:
            self._loaded.pop(name, None)
            raise TableUnreadable(name, self.root, store_error_reason(exc)) from exc

    def _lock(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    def prefetch(self, names: Iterable[str], stop: threading.Event) -> threading.Thread:
        """Read the logs (and newest commits) of the tables `names` not read yet, in order,
        on a thread of their own until `stop` is set; returns the started thread.

        deltalake reads a log on its own threads while the asking thread waits (5-10 ms a
        table): read ahead, they overlap with the run's work instead of delaying it.
        """

        def read_ahead() -> None:
            for name in names:
                if stop.is_set():
                    return
                if name not in self._loaded:
                    # A damaged log: the run meets it where it reads the table, and stops there.
                    with contextlib.suppress(TableUnreadable):
                        self.commit_metadata(name)  # None, read nothing, when there is no table

        thread = threading.Thread(target=read_ahead, name="lakehouse-prefetch", daemon=True)
        thread.start()
        return thread

    def advanced(self, name: str) -> None:
        """Table `name` has a new commit (made by another writer, e.g. Spark): read it next."""
        self._newest.pop(name, None)

    def committed(self, name: str) -> int:
        """The version of the commit just made to `name` (by this object or another writer)."""
        self.advanced(name)
        folder = self.local_path(name)
        if self.snapshot and folder is not None:
            # Its number from the log's listing: the commit is read back (3-6 ms) only when
            # the table is next used, and most tables are not used again in a run.
            self._newest[name] = _newest_commit(folder / "_delta_log")
            return self._newest[name]
        return self.table(name).version()

    def _memoized(self, name: str, what: str, read: Callable[[DeltaTable], Any]) -> Any:
        """`read` of the table's current version, read once per version."""
        known = self._newest.get(name) if self.snapshot else None
        if known is not None and (name, what, known) in self._memo:
            return self._memo[(name, what, known)]  # without bringing the table up to date
        table = self.table(name)
        key = (name, what, table.version())
        if key not in self._memo:
            self._memo[key] = read(table)
        return self._memo[key]

    def probe(self) -> None:
        """Raise StoreUnreachable unless an object-store root answers a listing (one request;
        a local root: nothing to check). A wrong endpoint, bucket or key fails here, named."""
        if self.is_local:
            return
        try:
            DeltaTable.is_deltatable(self.uri("_probe"), storage_options=self.storage_options)
        except OSError as exc:
            raise StoreUnreachable(
                f"lakehouse.root {self.root}: the object store refused or did not answer "
                f"({store_error_reason(exc)}); check lakehouse.storage_options "
                "(endpoint, region, credentials) and that the bucket exists"
            ) from exc

    def exists(self, name: str) -> bool:
        """Whether table `name` has at least one commit."""
        if self.snapshot and name in self._newest:
            return True
        folder = self.local_path(name)
        # deltalake's check holds the GIL for ~1 ms, stalling the run's other threads.
        found = (
            _has_commit(folder / "_delta_log")
            if folder is not None
            else DeltaTable.is_deltatable(self.uri(name), storage_options=self.storage_options)
        )
        if not found:
            self._loaded.pop(name, None)  # deleted since it was loaded: load it afresh
        return found

    def version(self, name: str) -> int | None:
        """The table's current version, or None when it does not exist."""
        return self.table(name).version() if self.exists(name) else None

    def dataset(self, name: str, version: int | None = None) -> pads.Dataset:
        """An Arrow dataset over the current files (not `to_pyarrow_table`: see DESIGN).

        A local table's files go through Arrow's own filesystem: deltalake's is a Python
        object, and an Arrow thread freeing it after the interpreter began to exit aborted
        the process (code 134). An object store keeps deltalake's: see `read`.
        """
        folder = self.local_path(name)
        native = (
            None if folder is None else pafs.SubTreeFileSystem(str(folder), pafs.LocalFileSystem())
        )
        return self.table(name, version).to_pyarrow_dataset(filesystem=native)

    def read(
        self, name: str, columns: Sequence[str] | None = None, version: int | None = None
    ) -> pa.Table:
        """Table `name` (its `columns`; as of `version`) in memory, as Arrow.

        On an object store the scan runs on the calling thread, so that no Arrow thread
        frees deltalake's Python filesystem after the interpreter began to exit (`dataset`).
        """
        dataset = self.dataset(name, version)
        selected = list(columns) if columns is not None else None
        return dataset.to_table(columns=selected, use_threads=self.is_local)

    def scannable(self, name: str) -> pads.Dataset:
        """The dataset DuckDB scans a table by through Arrow: `dataset`, its text columns as
        `string_view`.

        deltalake's merges write text as `string_view` (on any table: an object store's, a
        local one merged by deltalake), its other writes as `string`, and Arrow has no
        kernel comparing the two: a text filter DuckDB pushed down failed. DuckDB reads the
        mix right when the dataset declares views.
        """
        dataset = self.dataset(name)
        return pads.FileSystemDataset(
            list(dataset.get_fragments()),
            _text_as_views(dataset.schema),
            dataset.format,
            dataset.filesystem,
        )

    def plain_parquet_files(self, name: str) -> list[str] | None:
        """The current Parquet files of a table that readers may scan directly, else None.

        Only the files the Delta log lists are current; they alone are the table when it is
        local, unpartitioned and uses no reader feature (deletion vectors, column mapping).
        """
        if not self.is_local:
            return None
        files: list[str] | None = self._memoized(name, "files", _plain_files)
        return list(files) if files is not None else None

    def arrow_schema(self, name: str) -> pa.Schema:
        """The table's current schema, as Arrow."""
        schema: pa.Schema = self._memoized(
            name, "schema", lambda t: pa.schema(t.schema().to_arrow())
        )
        return schema

    def file_stats(self, name: str) -> pa.Table:
        """Each current file's path (as the log records it) and statistics: `num_records`,
        `min.<column>`, `max.<column>`, `null_count.<column>` (null where not recorded)."""
        stats: pa.Table = self._memoized(
            name, "stats", lambda t: pa.table(t.get_add_actions(flatten=True))
        )
        return stats

    def names(self) -> list[str]:
        """Table names found under a local root; none for an object store, which deltalake
        cannot list (`catalog.table_names` adds the declared tables that exist)."""
        root = self.local_root
        if root is None or not root.is_dir():
            return []
        # A log folder without a commit is a table whose first commit never happened (killed).
        return sorted(p.parent.name for p in root.glob("*/_delta_log") if _has_commit(p))

    def state(self, name: str) -> TableState:
        """Version, row count and last commit time of one table."""
        table = self.table(name)
        actions = pa.table(table.get_add_actions(flatten=True))
        rows = int(pc.sum(actions.column("num_records")).as_py() or 0)
        ts = next(self._commits(name, 1), {}).get("timestamp")
        return TableState(name, table.version(), rows, int(ts) if ts is not None else None)

    def data_version(self, name: str) -> int | None:
        """The version of the newest commit that changed the table's rows (None: no table).

        Maintenance (compaction, vacuum) adds commits that change no row: the pipeline
        watermarks on this, so maintenance is never taken for new input.
        """
        if not self.exists(name):
            return None
        found: int = self._memoized(
            name, "data_version", lambda t: _data_version(self._commits(name, 100), t.version())
        )
        return found

    def vacuum(self, name: str, retain_hours: int) -> int:
        """Delete the files of table `name` that no version of the last `retain_hours` reads,
        and files no commit lists (a run killed before its commit); how many were deleted."""
        table = self.table(name)
        options: dict[str, Any] = {
            "retention_hours": retain_hours,
            # Delta refuses a retention under the table's (a week) unless told; the caller was.
            "enforce_retention_duration": False,
            "full": True,
        }
        # deltalake lists every tombstone, also of files an earlier vacuum already deleted.
        folder = self.local_path(name)
        doomed = [
            p
            for p in table.vacuum(dry_run=True, **options)
            if folder is None or (folder / p).exists()
        ]
        if not doomed:
            return 0  # and no commit: nothing changed
        metadata = self.maintenance_metadata(name, "vacuum")
        # Vacuum changes no row: another writer's commit in between is no clash.
        properties = _commit(metadata, only_writer=False)
        table.vacuum(dry_run=False, commit_properties=properties, **options)
        self.advanced(name)
        return len(doomed)

    def compact_with_deltalake(self, name: str, target_bytes: int) -> tuple[int, int, int | None]:
        """deltalake's compaction of table `name` (where DuckDB cannot write its files: an
        object store), in one commit that changes no row; (files before, files after, the
        commit's version or None when nothing was small enough to merge)."""
        table = self.table(name)
        before = len(table.file_uris())
        metadata = self.maintenance_metadata(name, "compact")
        metrics = table.optimize.compact(
            target_size=target_bytes, commit_properties=_commit(metadata, only_writer=False)
        )
        if not metrics.get("numFilesRemoved"):
            return before, before, None
        self.advanced(name)
        after = before - int(metrics["numFilesRemoved"]) + int(metrics["numFilesAdded"])
        return before, after, self.table(name).version()

    def commit_metadata(self, name: str, depth: int = 50) -> dict[str, Any] | None:
        """The pipeline metadata of the newest commit that has some (None when none has)."""
        if not self.exists(name):
            return None
        found = self._memoized(
            name, "metadata", lambda _: _pipeline_metadata(self._commits(name, depth))
        )
        return dict(found) if found is not None else None

    def maintenance_metadata(self, name: str, kind: str) -> dict[str, Any]:
        """Metadata for a maintenance commit (`kind`: compact, vacuum): the table's pipeline
        metadata carried over (its checkpoint and watermark stay the newest), marked."""
        return {**(self.commit_metadata(name) or {}), MAINTENANCE_KEY: kind}

    def _commits(self, name: str, depth: int) -> Iterator[dict[str, Any]]:
        """The table's last `depth` commits, newest first. The newest is read once per
        version (metadata, data version and metrics all start there); older ones only when
        the newest is not the one sought."""
        # History reads commit files a load skipped (those before a checkpoint): one may be damaged.
        with self._reading_log(name):
            newest: list[dict[str, Any]] = self._memoized(name, "newest", lambda t: t.history(1))
        yield from newest
        if depth > 1:
            with self._reading_log(name):
                older = self.table(name).history(depth)[1:]
            yield from older

    def last_write_counts(self, name: str) -> tuple[int, int]:
        """(rows inserted, rows updated) by the table's latest commit (see `write_counts`)."""
        return write_counts(next(self._commits(name, 1), {}))

    def write(
        self,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        mode: WriteMode,
        *,
        partition_by: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Append to or overwrite table `name` in one commit; returns the new version."""
        exists = self.exists(name)
        with _only_writer(name):
            write_deltalake(
                self.table(name) if exists else self.uri(name),
                data,
                configuration=None if exists else TABLE_PROPERTIES,
                mode=mode,
                partition_by=list(partition_by) if partition_by else None,
                # An append may bring columns the table lacks (a contract's new field): added.
                schema_mode="overwrite" if mode == "overwrite" else "merge",
                storage_options=self.storage_options,
                commit_properties=_commit(metadata),
            )
        return self.committed(name)

    def merge(
        self,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        keys: Sequence[str],
        *,
        update_when: str | None = None,
        insert_only: bool = False,
        delete_unmatched_where: str | None = None,
        partition_by: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Upsert `data` into `name` on `keys` in one commit (creates the table when absent).

        `update_when` is an SQL condition over `s` (source) and `t` (target) that must hold for
        a matched row to be replaced; `insert_only` never touches existing rows;
        `delete_unmatched_where` (over `t`) deletes target rows the source no longer has.
        """
        if not self.exists(name):
            return self.write(name, data, "append", partition_by=partition_by, metadata=metadata)
        matches = [f"t.{k} = s.{k}" for k in keys]
        if isinstance(data, pa.Table) and not delete_unmatched_where:
            # deltalake reads every target file unless told the keys' range (measured: 40 of
            # a 42 MB table for a day's rows, 0.35 MB with it). Rows outside it match no
            # source row anyway; not when unmatched target rows are deleted.
            matches += key_range(data, keys, "t")
        predicate = " AND ".join(matches)
        target = self.table(name)
        base = target.version()
        merger = target.merge(
            data,
            predicate=predicate,
            source_alias="s",
            target_alias="t",
            commit_properties=_commit(metadata),
        )
        if not insert_only:
            merger = merger.when_matched_update_all(predicate=update_when)
        merger = merger.when_not_matched_insert_all()
        if delete_unmatched_where:
            merger = merger.when_not_matched_by_source_delete(predicate=delete_unmatched_where)
        with _only_writer(name):
            merger.execute()
        version = self.committed(name)
        if version == base:
            # deltalake commits nothing for a merge that changes no row. One that commits
            # nothing moves no watermark (the batch would be merged again by every later
            # run) and leaves the previous commit's counts as `last_write_counts`' answer.
            zero = {"num_target_rows_inserted": 0, "num_target_rows_updated": 0}
            return self.commit_files(name, [], None, "append", metadata=metadata, metrics=zero)
        return version

    def commit_files(
        self,
        name: str,
        files: Sequence[WrittenFile],
        schema: pa.Schema | None,
        mode: WriteMode,
        *,
        remove: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        metrics: Mapping[str, int] | None = None,
        data_change: bool = True,
    ) -> int:
        """Commit Parquet files already written into the table's folder, in one commit.

        `files`: written into the table's folder, their statistics recorded (`stats`);
        `remove`: paths of current files they replace (append mode); overwrite replaces
        every current file. `metrics` are
        recorded as the commit's operation metrics (what `last_write_counts` reads).
        `schema` is needed only to create or overwrite the table, or to append files with
        columns the table lacks (they are added to it first, in a commit of their own).
        `data_change=False`: the files hold rows the table had already (compaction).
        """
        now = int(time.time() * 1000)
        properties = _commit(metadata, metrics)
        exists = self.exists(name)
        if not exists or mode == "overwrite":
            if schema is None:
                raise ValueError(f"table {name}: a schema is needed to create or overwrite it")
            delta_schema = Schema.from_arrow(_delta_types(schema))
            arrow_schema = pa.schema(delta_schema.to_arrow())
        else:
            if schema is not None:
                self._add_columns(name, schema)
            arrow_schema = self.arrow_schema(name)
        adds = [
            AddAction(f.path, f.size, {}, now, data_change, delta_stats(f, arrow_schema))
            for f in files
        ]
        if not exists:
            create_table_with_add_actions(
                self.uri(name),
                delta_schema,
                adds,
                mode="append",
                configuration=TABLE_PROPERTIES,
                storage_options=self.storage_options,
                commit_properties=properties,
            )
            return self.committed(name)
        table = self.table(name)
        base = table.version()
        removes = [RemoveAction(path, data_change, now) for path in remove]
        with _only_writer(name):
            table.create_write_transaction(
                [*adds, *removes],
                mode=mode,
                schema=delta_schema if mode == "overwrite" else table.schema(),
                commit_properties=properties,
            )
        version = self.committed(name)
        if version == base + 1 and properties.custom_metadata:
            # Ours (no other writer came between): what history(1) would read back (~1 ms
            # holding the GIL), with this process's clock for the commit's timestamp.
            entry = {"version": version, "timestamp": int(time.time() * 1000), "operation": "WRITE"}
            newest = [{**entry, **(properties.custom_metadata or {})}]
            self._memo[(name, "newest", version)] = newest
            if (found := _pipeline_metadata(newest)) is not None:
                self._memo[(name, "metadata", version)] = found
        return version

    def _add_columns(self, name: str, schema: pa.Schema) -> None:
        """Add to table `name` the columns of `schema` it lacks (nullable: the rows it has
        hold none). A data contract that gains a field keeps its history this way."""
        known = set(self.arrow_schema(name).names)
        new = [f.with_nullable(True) for f in _delta_types(schema) if f.name not in known]
        if not new:
            return
        fields = list(Schema.from_arrow(pa.schema(new)).fields)
        with _only_writer(name):
            self.table(name).alter.add_columns(fields, commit_properties=_commit(None))
        self.committed(name)

    def relative_path(self, name: str, file: str) -> str:
        """A current file's path as the table's log records it (relative to the table)."""
        folder = self.local_path(name)
        return Path(file).relative_to(folder).as_posix() if folder else file


def key_range(data: pa.Table, keys: Sequence[str], alias: str) -> list[str]:
    """Conditions bounding each key of `alias` to its range in `data`, as SQL literals.

    Only keys of the types file statistics bound exactly (text, integers, dates and
    timestamps); a key NULL in every row of `data` gets none (no row can match it).
    """
    conditions = []
    for key in keys:
        column = data.column(key)
        kind = column.type
        # Finer than microseconds, a bound read back in Python could be cut short.
        fine = pa.types.is_timestamp(kind) and kind.unit == "ns"
        if fine or not (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_integer(kind)
            or pa.types.is_date(kind)
            or pa.types.is_timestamp(kind)
        ):
            continue
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None:
            continue
        conditions.append(f"{alias}.{key} >= {_literal(low)}")
        conditions.append(f"{alias}.{key} <= {_literal(high)}")
    return conditions


def _literal(value: Any) -> str:
    """`value` as an SQL literal (dates and timestamps in ISO text, cast by the column)."""
    if isinstance(value, int):
        return str(value)
    return text_literal(value.isoformat() if hasattr(value, "isoformat") else value)


def write_counts(commit: Mapping[str, Any]) -> tuple[int, int]:
    """(rows inserted, rows updated) by one commit (a `DeltaTable.history` entry), from its
    operation metrics: delta-rs writes them in snake_case, Spark in camelCase (as text).

    A merge's counts (also recorded by DuckDB's merges, committed as writes) are taken as
    they are, zero included: its output rows also count the rows of the files it rewrote
    that it did not change. Only a plain write's output rows are all inserted.
    """
    metrics = commit.get("operationMetrics") or {}

    def first(keys: tuple[str, str]) -> int | None:
        return next((int(metrics[k]) for k in keys if metrics.get(k) is not None), None)

    inserted = first(MERGE_INSERTED)
    if inserted is not None:
        return inserted, first(MERGE_UPDATED) or 0
    if commit.get("operation") in ROW_WRITES:
        return first(WRITTEN_ROWS) or 0, 0
    return 0, 0


def _newest_commit(log: Path) -> int:
    """The newest version among a local `_delta_log` folder's commit files."""
    with os.scandir(log) as entries:
        return max(int(e.name[:-5]) for e in entries if COMMIT_FILE.fullmatch(e.name))


def _has_commit(log: Path) -> bool:
    """Whether a local `_delta_log` folder holds a commit (or a checkpoint of earlier ones)."""
    try:
        with os.scandir(log) as entries:
            return any(e.name.endswith(".json") or ".checkpoint." in e.name for e in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _plain_files(table: DeltaTable) -> list[str] | None:
    """The table's Parquet files when they alone are the table (see `plain_parquet_files`)."""
    if table.protocol().reader_features or table.metadata().partition_columns:
        return None
    # deltalake gives them as URIs: a space or `#` in the lakehouse's path is percent-encoded.
    return [unquote(uri.removeprefix("file://")) for uri in table.file_uris()] or None


def _pipeline_metadata(commits: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The pipeline metadata of the newest of `commits` that has some."""
    found = (json.loads(raw) for entry in commits if (raw := entry.get(METADATA_KEY)))
    return next((dict(m) for m in found), None)


def _data_version(commits: Iterable[dict[str, Any]], newest: int) -> int:
    """The version of the newest of `commits` that is not maintenance (see
    `Lakehouse.data_version`); `newest` when every one is."""
    for entry in commits:
        raw = entry.get(METADATA_KEY)
        marked = MAINTENANCE_KEY in json.loads(raw) if raw else False
        if not marked and entry.get("operation") not in MAINTENANCE_OPERATIONS:
            return int(entry["version"])
    return newest


def _text_as_views(schema: pa.Schema) -> pa.Schema:
    """`schema` with each top-level `string` field as `string_view`."""
    return pa.schema(
        [f.with_type(pa.string_view()) if pa.types.is_string(f.type) else f for f in schema],
        metadata=schema.metadata,
    )


def _delta_types(schema: pa.Schema) -> pa.Schema:
    """`schema` with every timestamp in UTC (Delta's `timestamp`), whatever zone DuckDB named."""
    fields = [
        f.with_type(pa.timestamp("us", tz="UTC"))
        if pa.types.is_timestamp(f.type) and f.type.tz is not None
        else f
        for f in schema
    ]
    return pa.schema(fields)


def _commit(
    metadata: Mapping[str, Any] | None,
    metrics: Mapping[str, int] | None = None,
    *,
    only_writer: bool = True,
) -> CommitProperties:
    """A commit's properties. `only_writer`: fail (`_only_writer`) rather than retry on top
    of another writer's commit, which deltalake would do when the two do not clash in
    Delta's terms: two appends of the same new landing files never do."""
    custom: dict[str, Any] = {}
    if metadata:
        custom[METADATA_KEY] = json.dumps(dict(metadata), default=str)
    if metrics:
        custom["operationMetrics"] = dict(metrics)
    return CommitProperties(
        custom_metadata=custom or None, max_commit_retries=0 if only_writer else None
    )


@contextmanager
def _only_writer(name: str) -> Iterator[None]:
    """deltalake's failed commit (no retries) as ConcurrentCommit, naming the table."""
    try:
        yield
    except CommitFailedError as exc:
        raise ConcurrentCommit(
            f"table {name}: another writer committed to it after this process read it; "
            f"this write committed nothing ({exc})"
        ) from exc
