"""Independent tables run at once: inputs first, at most `workers` at a time, errors after."""

from __future__ import annotations

import _thread
import datetime as dt
import threading
import time
from collections.abc import Callable

import duckdb
import pytest

from aerotwin.config import Settings
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.engine import Engine, open_engine
from aerotwin.pipeline import parallel
from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.events import TableRun
from aerotwin.pipeline.parallel import EnginePool, RunInterrupted, run_graph

NOW = dt.datetime.now(dt.UTC)


def _table(name: str, *inputs: str) -> TableDef:
    return TableDef(name=name, layer="gold", inputs=inputs, sql="SELECT 1 AS x", mode="overwrite")


def _recorder(
    fail: str | None = None,
) -> tuple[Callable[[TableDef], TableRun], list[tuple[str, str]], list[int]]:
    """A table run that sleeps, logging starts and ends and how many ran at once."""
    lock = threading.Lock()
    log: list[tuple[str, str]] = []
    live = [0, 0]  # running now, most at once

    def run_one(table: TableDef) -> TableRun:
        with lock:
            log.append(("start", table.name))
            live[0] += 1
            live[1] = max(live)
        time.sleep(0.05)
        with lock:
            live[0] -= 1
            log.append(("end", table.name))
        if table.name == fail:
            raise RuntimeError(f"{table.name} broke")
        return TableRun("r", table.name, table.layer, "duckdb", "incremental", NOW)

    return run_one, log, live


def test_a_table_starts_after_its_inputs_and_independent_ones_overlap() -> None:
    tables = [_table("a"), _table("b"), _table("c", "a", "b"), _table("d", "outside")]
    run_one, log, live = _recorder()
    done: list[str] = []
    run_graph(tables, 2, run_one, on_done=lambda run: done.append(run.table_name))
    assert sorted(done) == ["a", "b", "c", "d"]
    assert log.index(("start", "c")) > max(log.index(("end", "a")), log.index(("end", "b")))
    assert live[1] == 2  # never more than the workers, and they were used


def test_after_an_error_nothing_starts_and_the_running_table_finishes() -> None:
    tables = [_table("a"), _table("b"), _table("c", "a")]
    run_one, log, _ = _recorder(fail="a")
    with pytest.raises(RuntimeError, match="a broke"):
        run_graph(tables, 2, run_one)
    assert ("end", "b") in log  # started alongside `a`, allowed to finish
    assert ("start", "c") not in log


def test_ctrl_c_lets_the_running_tables_finish_and_names_those_not_started() -> None:
    tables = [_table("a"), _table("b"), _table("c", "a"), _table("d", "c")]
    run_one, log, _ = _recorder()
    done: list[str] = []

    def interrupting(table: TableDef) -> TableRun:
        if table.name == "a":
            _thread.interrupt_main()  # Ctrl-C reaches the main thread while it waits
        return run_one(table)

    with pytest.raises(RunInterrupted) as stopped:
        run_graph(tables, 2, interrupting, on_done=lambda run: done.append(run.table_name))
    assert sorted(done) == ["a", "b"]  # both were running: they finished and were reported
    assert [t.name for t in stopped.value.not_started] == ["c", "d"]
    assert ("start", "c") not in log


def test_a_second_ctrl_c_stops_at_once_naming_the_tables_cut_short() -> None:
    tables = [_table("a"), _table("b"), _table("c", "a")]
    release = threading.Event()

    def long_job(table: TableDef) -> TableRun:
        if table.name == "a":
            _thread.interrupt_main()
            time.sleep(0.5)  # the first Ctrl-C is noted before the second comes
            _thread.interrupt_main()
        release.wait(60)  # a Spark job that runs on
        return TableRun("r", table.name, table.layer, "spark", "incremental", NOW)

    started = time.monotonic()
    with pytest.raises(RunInterrupted) as stopped:
        run_graph(tables, 2, long_job)
    assert time.monotonic() - started < 5  # not waiting for the jobs
    release.set()
    assert sorted(t.name for t in stopped.value.cut_short) == ["a", "b"]
    assert [t.name for t in stopped.value.not_started] == ["c"]


def test_closing_the_engines_closes_each_also_after_one_fails_to(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Engine] = []

    def recorded(*args: object) -> Engine:
        opened.append(open_engine(*args))  # type: ignore[arg-type]
        return opened[-1]

    monkeypatch.setattr(parallel, "open_engine", recorded)
    pool = EnginePool("duckdb", Lakehouse.from_settings(settings), settings)
    views: list[Engine] = []
    for _ in range(2):  # a view of the engine per worker thread
        worker = threading.Thread(target=lambda: views.append(pool.get()))
        worker.start()
        worker.join()

    def broken() -> None:
        raise RuntimeError("view would not close")

    views[0].close = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="view would not close"):
        pool.close()
    for engine in (views[1], opened[0]):
        with pytest.raises(duckdb.ConnectionException):
            engine.rows("SELECT 1")  # closed all the same
