"""Tables that do not depend on each other run at once, each on its own view of the engine.

On a new day most of a table's run is fixed cost (a few DuckDB statements, Delta log reads,
a commit), mostly waiting rather than computing, so two tables side by side on two cores
take little more than one. A table starts once every input declared in the run is done;
among the ready ones, declaration order decides.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Any

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.engine import Engine, open_engine
from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.events import TableRun


class EnginePool:
    """The run's engine, opened on first need, and one view of it per worker thread.

    DuckDB gives each thread its own connection to the same database (`fork`), so the temp
    tables of tables running at once never collide. An engine that cannot fork (Spark) is
    shared, and the run uses one worker.
    """

    def __init__(self, engine: str | Engine | None, lakehouse: Lakehouse, settings: Any) -> None:
        self.owned = not hasattr(engine, "materialize")
        self._root: Engine | None = None if self.owned else engine  # type: ignore[assignment]
        self._name = engine if isinstance(engine, str) else settings.pipeline.engine
        self._lakehouse, self._settings = lakehouse, settings
        self._lock = threading.Lock()
        self._local = threading.local()
        self._forks: list[Engine] = []

    @property
    def name(self) -> str:
        return self._root.name if self._root is not None else str(self._name)

    @property
    def can_fork(self) -> bool:
        return hasattr(self._root, "fork") if self._root is not None else self._name == "duckdb"

    def get(self) -> Engine:
        """This thread's engine (opening the run's engine the first time one is needed)."""
        engine: Engine | None = getattr(self._local, "engine", None)
        if engine is None:
            with self._lock:
                if self._root is None:
                    self._root = open_engine(str(self._name), self._lakehouse, self._settings)
                fork = getattr(self._root, "fork", None)
                engine = fork() if fork is not None else self._root
                if engine is not self._root:
                    self._forks.append(engine)
            self._local.engine = engine
        return engine

    def cancel(self) -> None:
        """Stop the work the engine is doing for the run's threads now, where it can (Spark:
        its jobs); those threads then fail."""
        cancel = getattr(self._root, "cancel", None)
        if cancel is not None:
            cancel()

    def close(self) -> None:
        """Close the workers' views, and the engine itself when the run opened it: each of
        them, also after one failed to close (its error is raised once all were tried)."""
        with ExitStack() as closing:  # callbacks run last in, first out: the engine last
            if self.owned and self._root is not None:
                closing.callback(self._root.close)
            for fork in self._forks:
                closing.callback(fork.close)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run: the tables running then finished (each commit is whole);
    `not_started` never began. After a second Ctrl-C, `cut_short` were still running and
    were not waited for (each may or may not have committed, as after a kill)."""

    def __init__(self, not_started: list[TableDef], cut_short: Sequence[TableDef] = ()) -> None:
        super().__init__(f"interrupted before {len(not_started)} table(s)")
        self.not_started = not_started
        self.cut_short = list(cut_short)


def run_graph(
    tables: list[TableDef],
    workers: int,
    run_one: Callable[[TableDef], TableRun],
    on_start: Callable[[TableDef], None] | None = None,
    on_done: Callable[[TableRun], None] | None = None,
) -> None:
    """Run `run_one` on every table (in dependency order), up to `workers` at once.

    After an error no table starts; those running finish, then the first error is raised.
    Ctrl-C likewise: the running tables finish, then RunInterrupted names those not started.
    A second Ctrl-C stops at once: RunInterrupted also names the tables still running
    (`cut_short`), whose threads are left to the caller to stop (or to the process's end).
    """
    declared = {t.name for t in tables}
    pending, done = list(tables), set[str]()
    running: dict[Future[TableRun], TableDef] = {}
    error: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    cut_short = False
    try:
        with _ctrl_c_noted() as interrupted:
            while pending or running:
                for table in [] if error or interrupted.is_set() else list(pending):
                    if len(running) >= workers:
                        break
                    if all(i in done or i not in declared for i in table.inputs):
                        pending.remove(table)
                        if on_start:
                            on_start(table)
                        running[pool.submit(run_one, table)] = table
                if not running:
                    break
                # A bounded wait: a Ctrl-C noted meanwhile is acted on within a quarter second.
                finished, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished:
                    table = running.pop(future)
                    try:
                        run = future.result()
                    except BaseException as exc:  # re-raised once the running tables finish
                        error = error or exc
                        continue
                    done.add(table.name)
                    if on_done:
                        on_done(run)
    except KeyboardInterrupt:  # the second Ctrl-C (the first only sets `interrupted`)
        cut_short = True
    finally:
        # Not waiting for the tables running: a Spark job may take minutes to end.
        pool.shutdown(wait=not cut_short, cancel_futures=True)
    if cut_short:
        raise RunInterrupted(pending, list(running.values()))
    if error is not None:
        raise error
    if interrupted.is_set():
        raise RunInterrupted(pending)


@contextmanager
def _ctrl_c_noted() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C instead of KeyboardInterrupt, which could land
    between a table's end and its report; the second Ctrl-C raises as usual. Only the main
    thread may handle signals: elsewhere the event is never set."""
    noted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def note(signum: int, frame: FrameType | None) -> None:
        noted.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)
