"""The runner: derives the graph from the declarations and runs each table on one engine.

Per table: skip when no input changed since its last commit (so a rerun with no new files
changes no table); otherwise evaluate the SQL once, check the expectations, send dropped rows
to `quarantine` (idempotent: insert-only on the record id; rows from the whole inputs replace
the table's), and write the table in one commit
that also records the input versions it covers (its watermark). A crash at any point leaves
each table at its last commit, and the next run picks up exactly what is missing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from aerotwin.config import Settings
from aerotwin.lakehouse.delta import Lakehouse, WriteMode
from aerotwin.lakehouse.engine import Engine
from aerotwin.lakehouse.run_lock import exclusive_run
from aerotwin.pipeline import bronze
from aerotwin.pipeline.definitions import HELPER_PREFIX, TableDef, new_rows_view
from aerotwin.pipeline.events import (
    EVENTS_TABLE,
    QUARANTINE_KEYS,
    QUARANTINE_TABLE,
    ExpectationResult,
    TableRun,
    append_events,
)
from aerotwin.pipeline.expectations import (
    ExpectationFailed,
    quarantine_sql,
    split_sql,
    stage_sql,
    warn_column,
)
from aerotwin.pipeline.parallel import EnginePool, RunInterrupted, run_graph
from aerotwin.pipeline.registry import load_tables

Progress = Callable[[TableRun], None]
DEF, STAGE, OUT, QUAR = "__definition", "__stage", "__out", "__quarantine"
# In commit metadata: the run that last purged a table's quarantine rows (on quarantine's
# commits, a map of table to run; on the table's own, its run).
PURGED = "purged"
# In commit metadata: the run that last rebuilt the table in full (carried forward by its
# incremental builds), and of each input, that run as the table's last build saw it.
REBUILT, INPUTS_REBUILT = "rebuilt", "inputs_rebuilt"
# In commit metadata: each input's Delta table id; a deleted and rebuilt input has another.
INPUT_IDS = "input_ids"
# SQL over a quarantine row (`t`) and its replacement (`s`): the row is to be updated.
RECORD_CHANGED = "s.rule <> t.rule OR s.raw_record IS DISTINCT FROM t.raw_record"
# How the event of a table a second Ctrl-C stopped part-way begins (`pipeline history`).
CUT_SHORT = "stopped part-way by a second Ctrl-C"


@dataclass
class RunResult:
    """The outcome of one pipeline run."""

    run_id: str
    engine: str
    full_refresh: bool
    tables: list[TableRun] = field(default_factory=list)
    seconds: float = 0.0  # wall clock, from opening the engines to the events' commit
    # Landing files (relative to the landing root) the user should hear of: files in a
    # feed's folders that no feed reads, and files whose last line waits for its line break.
    ignored: list[str] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)

    # Tables waiting for inputs never built, by where the wait starts (`waiting_reason`).
    waiting: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> list[TableRun]:
        return [t for t in self.tables if t.status == "ok"]


def run_pipeline(
    settings: Settings,
    *,
    full_refresh: bool = False,
    engine: str | Engine | None = None,
    tables: list[TableDef] | None = None,
    on_start: Callable[[TableDef], None] | None = None,
    on_done: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
    lock_held: bool = False,
) -> RunResult:
    """Run every declared table in dependency order.

    Raises ExpectationFailed on a fail rule, LakehouseBusy when another run holds the
    lakehouse (nothing done), ConcurrentCommit when another writer committed to a table
    this run was writing (that table unchanged; no other table starts after it).

    `engine` is a name (duckdb / spark) or an open Engine (tests share one Spark session).
    Another run holding the lakehouse is waited for up to `pipeline.lock_wait_s` seconds;
    `on_wait` is told once whom for. `lock_held`: the caller holds the lakehouse's run lock
    (`exclusive_run`) already, as `aerotwin score` does while it refreshes the views it feeds.
    """
    # One Lakehouse for the run and its engine, so the engine's commits move the run's view
    # on: an open engine's own, else one that only the run's commits move on (snapshot).
    lakehouse = getattr(engine, "lakehouse", None) or Lakehouse.from_settings(
        settings, snapshot=True
    )
    run_id = uuid.uuid4().hex[:12]
    if lock_held:
        return _run(settings, lakehouse, run_id, full_refresh, engine, tables, on_start, on_done)
    wait_s = settings.pipeline.lock_wait_s
    with exclusive_run(lakehouse, f"pipeline run {run_id}", wait_s, on_wait):  # before any read
        return _run(settings, lakehouse, run_id, full_refresh, engine, tables, on_start, on_done)


def _run(
    settings: Settings,
    lakehouse: Lakehouse,
    run_id: str,
    full_refresh: bool,
    engine: str | Engine | None,
    tables: list[TableDef] | None,
    on_start: Callable[[TableDef], None] | None,
    on_done: Progress | None,
) -> RunResult:
    started = time.perf_counter()
    declared = tables if tables is not None else load_tables()
    engines = EnginePool(engine, lakehouse, settings)
    result = RunResult(run_id, engines.name, full_refresh)
    workers = settings.pipeline.workers if engines.can_fork else 1
    # Every table merges its dropped rows into the one quarantine table: one at a time.
    quarantine_lock = threading.Lock()
    loader = _Loader(engines)
    stop = threading.Event()
    # Every table the run reads or writes, roughly in the order it first needs them.
    touched = dict.fromkeys(
        [n for t in declared for n in (*t.inputs, t.name)] + [QUARANTINE_TABLE, EVENTS_TABLE]
    )
    reader = lakehouse.prefetch(list(touched), stop) if lakehouse.snapshot else None
    # Of each table waiting for inputs never built: the tables at the root of the wait.
    roots: dict[str, list[str]] = {}
    # Set when a second Ctrl-C cut the running tables short: what they do next goes unrecorded.
    abandoned = threading.Event()
    record_lock = threading.Lock()

    def run_one(table: TableDef) -> TableRun:
        run = TableRun(
            result.run_id,
            table.name,
            table.layer,
            result.engine,
            "full" if full_refresh else "incremental",
            dt.datetime.now(dt.UTC),
        )
        started = time.perf_counter()
        try:
            if table.source is not None:
                _ingest(lakehouse, settings, table, run, loader, result)
            elif table.external is not None:
                _declare_external(lakehouse, table, run)
            else:
                versions = _input_versions(lakehouse, table)  # before any engine
                missing = [name for name, version in versions.items() if version is None]
                if missing:
                    # Inputs run first: an input that waits too has its roots known.
                    root = list(dict.fromkeys(r for m in missing for r in roots.get(m, [m])))
                    roots[table.name] = root
                    run.status = "waiting"
                    run.message = _waiting_message(missing, root, declared)
                elif _needs_run(lakehouse, table, versions, full_refresh, quarantine_lock):
                    _derive(engines.get(), lakehouse, table, run, full_refresh, quarantine_lock)
                else:
                    run.status = "skipped"
        except Exception as exc:  # recorded in pipeline_events, then the run stops
            run.status, run.message = "failed", str(exc)
            raise
        finally:
            run.duration_s = time.perf_counter() - started
            with record_lock:
                if not abandoned.is_set():
                    result.tables.append(run)
        return run

    try:
        run_graph(declared, workers, run_one, on_start, on_done)
    except RunInterrupted as exc:
        if exc.cut_short:
            engines.cancel()  # a Spark job would run on, minutes maybe, after the run ends
        # Recorded, so the run's history says it was cut short and what it left undone.
        refresh = "full" if full_refresh else "incremental"
        now = dt.datetime.now(dt.UTC)
        why = {t.name: "not started: the run was interrupted (Ctrl-C)" for t in exc.not_started}
        why |= {
            t.name: f"{CUT_SHORT} (its commit may or may not have landed)" for t in exc.cut_short
        }
        with record_lock:
            if exc.cut_short:
                abandoned.set()
            recorded = {t.table_name for t in result.tables}  # those that ended meanwhile
            result.tables += [
                TableRun(
                    run_id,
                    t.name,
                    t.layer,
                    result.engine,
                    refresh,
                    now,
                    "interrupted",
                    message=why[t.name],
                )
                for t in [*exc.cut_short, *exc.not_started]
                if t.name not in recorded
            ]
        raise
    finally:
        # Tables that ran at once finish in any order: report them in declaration order.
        order = {t.name: i for i, t in enumerate(declared)}
        result.tables.sort(key=lambda t: order[t.table_name])
        for t in result.tables:
            if t.status == "waiting":
                result.waiting.setdefault(waiting_reason(t.message), []).append(t.table_name)
        try:
            # One commit for the whole run's events (a commit per table cost ~20 ms each),
            # written on failure too: the failed table's event and those done before it.
            # Waiting tables with the rest: a run that changes nothing still writes nothing
            # (what waits is what the last run that wrote something recorded).
            if any(t.status not in ("skipped", "waiting") for t in result.tables):
                append_events(lakehouse, [t for t in result.tables if t.status != "skipped"])
            result.seconds = time.perf_counter() - started
        finally:
            stop.set()
            if reader is not None:
                reader.join()
            if not abandoned.is_set():
                # Else left to the process's end: a table cut short may still be using them.
                try:
                    loader.close()
                finally:
                    engines.close()
    return result


class _Loader:
    """The DuckDB database bronze ingestion works in: the DuckDB engine's own, or one opened
    on first need (opening a database costs 20 to 35 ms)."""

    def __init__(self, engines: EnginePool) -> None:
        self._engines = engines
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    def get(self) -> duckdb.DuckDBPyConnection:
        if self._engines.name == "duckdb":
            con = getattr(self._engines.get(), "con", None)
            if isinstance(con, duckdb.DuckDBPyConnection):
                return con
        with self._lock:
            if self._con is None:
                self._con = duckdb.connect()
            return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


def _ingest(
    lakehouse: Lakehouse,
    settings: Settings,
    table: TableDef,
    run: TableRun,
    loader: _Loader,
    result: RunResult,
) -> None:
    pending = bronze.pending_files(lakehouse, settings, table)
    result.ignored.extend(pending.ignored)
    if not pending.files:
        run.status = "skipped"
        return
    before = lakehouse.version(table.name)
    done = bronze.ingest(
        lakehouse, settings.landing_dir, table, run.run_id, pending, duck=loader.get()
    )
    result.held_back.extend(done.held_back)  # list.extend: one step under the GIL
    if done.version == before:
        run.status = "skipped"  # only lines still being written, or header-only files
        return
    run.files, run.rows_in, run.rows_out, run.table_version = (
        done.files,
        done.rows,
        done.rows,
        done.version,
    )


def _declare_external(lakehouse: Lakehouse, table: TableDef, run: TableRun) -> None:
    """Create a table another command writes, empty, so the tables reading it can run."""
    if table.external is None or lakehouse.exists(table.name):
        run.status = "skipped"  # its writer's data: never rebuilt, not even on a full refresh
        return
    empty = table.external.schema.empty_table()
    run.table_version = lakehouse.write(table.name, empty, "append")
    run.message = f"created empty; written by {table.external.writer}"


def _input_versions(lakehouse: Lakehouse, table: TableDef) -> dict[str, int | None]:
    # Data versions: a compaction or vacuum of an input is not new input.
    return {inp: lakehouse.data_version(inp) for inp in table.inputs}


def _input_ids(lakehouse: Lakehouse, table: TableDef) -> dict[str, str]:
    """Of each input (every one exists): its Delta table id, as text (a UUID string, though
    deltalake's type hint says int)."""
    return {inp: str(lakehouse.table(inp).metadata().id) for inp in table.inputs}


def _replaced_inputs(
    last: dict[str, Any], versions: dict[str, int | None], ids: dict[str, str]
) -> list[str]:
    """The inputs deleted and rebuilt since the build whose metadata is `last` (`versions`,
    `ids`: the inputs' now): another table id, or, where that build recorded none, a data
    version below the one it read."""
    seen_ids, seen = last.get(INPUT_IDS, {}), last.get("inputs", {})

    def replaced(inp: str) -> bool:
        if inp in seen_ids:
            return bool(seen_ids[inp] != ids[inp])
        # One table's versions only grow: a lower one is another table's.
        before, now = seen.get(inp), versions.get(inp)
        return before is not None and now is not None and now < int(before)

    return [i for i in ids if replaced(i)]


def _inputs_rebuilt(lakehouse: Lakehouse, table: TableDef) -> dict[str, str]:
    """Of each input the runner builds: the run that last rebuilt it in full (`REBUILT`)."""
    found = {i: (lakehouse.commit_metadata(i) or {}).get(REBUILT) for i in table.inputs}
    return {i: run for i, run in found.items() if run is not None}


def _waiting_for(root: str, declared: list[TableDef]) -> str:
    """What a table never built (`root`, where a wait starts) waits for, in words."""
    source = next((t.source for t in declared if t.name == root), None)
    if source is None:
        return f"{root} never built"
    where = f"reference/{source.feed}.csv" if source.snapshot else f"{source.feed}/"
    return f"nothing ingested yet from landing/{where}"


def _waiting_message(missing: list[str], roots: list[str], declared: list[TableDef]) -> str:
    """The event message of a table whose inputs `missing` were never built, waiting on
    `roots` (`waiting_reason` reads them back)."""
    why = "; ".join(_waiting_for(r, declared) for r in roots)
    return f"inputs never built: {', '.join(missing)} ({why})"


def waiting_reason(message: str) -> str:
    """Where the wait of a waiting table starts, from its event message (`_waiting_message`):
    e.g. "nothing ingested yet from landing/weather/". Tables named alike wait alike."""
    return message.rpartition(" (")[2].removesuffix(")")


def _needs_run(
    lakehouse: Lakehouse,
    table: TableDef,
    versions: dict[str, int | None],
    full_refresh: bool,
    quarantine_lock: threading.Lock,
) -> bool:
    """Whether `table`, every input of which exists (`versions`: their data versions), is to
    be built: a full refresh, a first build, new input, an input deleted and rebuilt, an
    edited definition or a purge that never got its table's commit."""
    if full_refresh or not lakehouse.exists(table.name):
        return True
    meta = lakehouse.commit_metadata(table.name) or {}
    # An edited definition (SQL, rules, expectations, keys) changes the rows as new input does.
    return (
        meta.get("inputs") != versions
        # A rebuilt input may be back at the very versions the watermark recorded.
        or bool(_replaced_inputs(meta, versions, _input_ids(lakehouse, table)))
        or meta.get("definition") != table.fingerprint()
        or _purge_interrupted(lakehouse, table.name, meta, quarantine_lock)
    )


def _purges(lakehouse: Lakehouse) -> dict[str, str] | None:
    """Quarantine's record of the run that last purged each table's rows (None: a lakehouse
    from before it was kept). Read under the quarantine lock."""
    found = (lakehouse.commit_metadata(QUARANTINE_TABLE) or {}).get(PURGED)
    return dict(found) if found is not None else None


def _purge_interrupted(
    lakehouse: Lakehouse, table: str, last: dict[str, Any], quarantine_lock: threading.Lock
) -> bool:
    """Whether a run purged `table`'s quarantine rows but the table's own commit (`last`: its
    metadata) never landed: the rows purged are in neither table until it is rebuilt."""
    with quarantine_lock:  # another table's run may be merging into it
        purges = _purges(lakehouse)
    return purges is not None and purges.get(table) != last.get(PURGED)


def _derive(
    engine: Engine,
    lakehouse: Lakehouse,
    table: TableDef,
    run: TableRun,
    full_refresh: bool,
    quarantine_lock: threading.Lock,
) -> None:
    """Evaluate `table` and write it in one commit (the caller checked `_needs_run`)."""
    versions, rebuilt = _input_versions(lakehouse, table), _inputs_rebuilt(lakehouse, table)
    ids = _input_ids(lakehouse, table)
    last = lakehouse.commit_metadata(table.name) or {}
    previous, fingerprint = last.get("inputs", {}), table.fingerprint()
    existed = lakehouse.exists(table.name)
    seen = last.get(INPUTS_REBUILT, {})
    if existed and last.get("definition") != fingerprint:
        # Rows built by another definition (or one not recorded) are stale: rebuild in full.
        full_refresh, run.refresh = True, "full"
        run.message = "definition changed since the last build: rebuilt in full"
    elif _purge_interrupted(lakehouse, table.name, last, quarantine_lock):
        full_refresh, run.refresh = True, "full"
        run.message = "an interrupted full refresh was completed: rebuilt in full"
    elif existed and (replaced := _replaced_inputs(last, versions, ids)):
        # The watermark counts the old table's versions: the new one's rows would read as seen.
        full_refresh, run.refresh = True, "full"
        run.message = (
            f"{', '.join(replaced)} deleted and rebuilt since the last build: rebuilt in full"
        )
    elif existed and (redone := [i for i, r in rebuilt.items() if seen.get(i) != r]):
        # A rebuilt input may have changed any row, not only where its inputs' new rows
        # reach (the scope of an incremental build): rebuild in full.
        full_refresh, run.refresh = True, "full"
        run.message = f"{', '.join(redone)} rebuilt in full since the last build: rebuilt in full"
    incremental = (
        not full_refresh
        and table.incremental_input is not None
        and lakehouse.exists(table.name)
        and all(previous.get(i) is not None for i in (table.incremental_input, *table.scope_inputs))
    )
    for inp in table.inputs:
        after = int(previous[inp]) if incremental and inp == table.incremental_input else None
        engine.register_table(inp, inp, after)
    scoped = [new_rows_view(inp) for inp in table.scope_inputs]
    for inp, view in zip(table.scope_inputs, scoped, strict=True):
        engine.register_table(view, inp, int(previous[inp]) if incremental else None)
    engine.view(DEF, table.sql or "")
    # The stage has the definition's columns (and __rule, the warn flags): asked once.
    defined = engine.columns(DEF)
    engine.materialize(STAGE, stage_sql(DEF, defined, table.expectations))
    counts = _counts(engine)
    run.rows_in = sum(counts.values())
    run.expectations = _results(table, counts, engine, run.rows_in)
    run.quarantined = sum(n for rule, n in counts.items() if rule is not None)
    with quarantine_lock:
        purged = _quarantine(engine, lakehouse, table, run, not incremental, defined)
    metadata: dict[str, Any] = {
        "run_id": run.run_id,
        "inputs": versions,
        "definition": fingerprint,
        # Quarantine's record of this table's last purge: the two match once this commit lands.
        PURGED: purged,
        REBUILT: run.run_id if full_refresh or not existed else last.get(REBUILT),
        INPUTS_REBUILT: rebuilt,
        INPUT_IDS: ids,
    }
    columns = [c for c in defined if not c.startswith(HELPER_PREFIX)]
    engine.view(OUT, split_sql(STAGE, columns, table.keys, table.latest_by))
    if table.mode == "merge" and incremental:
        run.table_version = engine.merge(
            table.name,
            OUT,
            table.keys,
            update_when=_newer(table.latest_by),
            partition_by=table.partition_by,
            metadata=metadata,
        )
    else:
        mode: WriteMode = "append" if table.mode == "append" and incremental else "overwrite"
        run.table_version = engine.write(
            table.name,
            OUT,
            mode,
            partition_by=table.partition_by,
            metadata=metadata,
            keys=table.keys,
        )
    inserted, updated = lakehouse.last_write_counts(table.name)
    run.rows_out = inserted + updated
    # Rows that added no new key: removed within the batch, or replacing an earlier arrival.
    run.duplicates = run.rows_in - run.quarantined - inserted
    engine.drop(DEF, STAGE, OUT, *table.inputs, *scoped)


def _counts(engine: Engine) -> dict[str | None, int]:
    rows = engine.rows(f"SELECT __rule, count(*) FROM {STAGE} GROUP BY __rule")
    return {rule: int(n) for rule, n in rows}


def _results(
    table: TableDef, counts: dict[str | None, int], engine: Engine, total: int
) -> list[ExpectationResult]:
    warns = [(i, e) for i, e in enumerate(table.expectations) if e.action == "warn"]
    warn_counts: dict[int, int] = {}
    if warns and total:
        sums = ", ".join(f"sum(CASE WHEN {warn_column(i)} THEN 1 ELSE 0 END)" for i, _ in warns)
        # Warnings are counted on the rows kept: a dropped row is already accounted for.
        row = engine.rows(f"SELECT {sums} FROM {STAGE} WHERE __rule IS NULL")[0]
        warn_counts = {i: int(v or 0) for (i, _), v in zip(warns, row, strict=True)}
    results = []
    # A drop or fail rule checks only the rows no earlier one took (a row breaks one at most).
    reached, kept = total, counts.get(None, 0)
    for i, exp in enumerate(table.expectations):
        if exp.action == "warn":
            failed = warn_counts.get(i, 0)
            results.append(ExpectationResult(exp.name, exp.action, kept - failed, failed))
            continue
        failed = counts.get(exp.name, 0)
        results.append(ExpectationResult(exp.name, exp.action, reached - failed, failed))
        reached -= failed
        if exp.action == "fail" and failed:
            raise ExpectationFailed(table.name, exp.name, failed)
    return results


def _quarantine(
    engine: Engine,
    lakehouse: Lakehouse,
    table: TableDef,
    run: TableRun,
    whole: bool,
    columns: list[str],
) -> str | None:
    """Merge the stage's dropped rows into `quarantine`; `columns`: the definition's; `whole`:
    the stage holds the rows of the table's whole inputs, so they replace the table's
    quarantine rows (a purge). The run that last purged them, as quarantine now records it;
    the caller holds the lock."""
    has_rows, exists = run.quarantined > 0, lakehouse.exists(QUARANTINE_TABLE)
    purge = whole and exists
    # Created, empty, by the first table that could quarantine: queries on it work from then.
    create = not exists and any(e.action == "drop" for e in table.expectations)
    recorded = _purges(lakehouse) or {}
    if not (has_rows or purge or create):
        return recorded.get(table.name)
    if not has_rows and "__raw" not in columns:
        return recorded.get(table.name)  # rows without raw records (gold): none to purge
    # Carried forward in every commit: a purge whose table commit never landed is seen.
    purges = {**recorded, table.name: run.run_id} if purge else recorded
    # A view: the merge reads it once into its own typed copy.
    engine.view(QUAR, quarantine_sql(STAGE, table.name, run.run_id, columns))
    engine.merge(
        QUARANTINE_TABLE,
        QUAR,
        QUARANTINE_KEYS,
        # Rows from the whole inputs (a full refresh, an overwrite table) replace this table's
        # quarantine rows in the same commit: a row they hold no more is deleted, one held by
        # another rule or with another raw record (a replaced file's line) is updated.
        insert_only=not purge,
        update_when=RECORD_CHANGED if purge else None,
        delete_unmatched_where=f"t.table_name = '{table.name}'" if purge else None,
        metadata={"run_id": run.run_id, "table": table.name, PURGED: purges},
    )
    engine.drop(QUAR)
    # The merge commits on both engines, also when it changes no row: its record stands.
    return purges.get(table.name)


def _newer(latest_by: tuple[str, ...]) -> str | None:
    """SQL: the source row arrived after the target row (lexicographic on `latest_by`)."""
    if not latest_by:
        return None
    terms = []
    for i, column in enumerate(latest_by):
        equal = [f"s.{c} = t.{c}" for c in latest_by[:i]]
        terms.append("(" + " AND ".join([*equal, f"s.{column} > t.{column}"]) + ")")
    return " OR ".join(terms)
