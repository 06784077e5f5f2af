"""Crash safety: a pipeline killed with SIGKILL part-way leaves consistent tables, and the next
run completes with no duplicates and no loss."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline
from aerotwin.pipeline.silver_telemetry import silver_name
from aerotwin.schemas import COMPONENT_TYPES

from .conftest import assert_same_tables, content

CLI = [sys.executable, "-c", "from aerotwin.cli import app; app()"]


def _write_patched(on_write: str) -> str:
    """A child script's start: the engine's write of table `victim` (argv) runs `on_write`
    (statements, indented 8 spaces) first."""
    return f"""
import os, signal, sys, time
from aerotwin.lakehouse.duckdb_engine import DuckDBEngine

data_dir, victim = sys.argv[1:]
write = DuckDBEngine.write

def patched(self, table, *args, **kwargs):
    if table == victim:
{on_write}
    return write(self, table, *args, **kwargs)

DuckDBEngine.write = patched
"""


# A full refresh of bronze, `victim` and its inputs that kills itself as it starts writing
# `victim`: after the table's quarantine commit, before its own.
KILLED_WRITING = (
    _write_patched("        os.kill(os.getpid(), signal.SIGKILL)")
    + """
from aerotwin.config import load_settings
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import run_pipeline

declared = load_tables(layers=("bronze", "silver"))
inputs = next(t.inputs for t in declared if t.name == victim)
tables = [t for t in declared if t.layer == "bronze" or t.name in (victim, *inputs)]
run_pipeline(load_settings(None, data_dir=data_dir), full_refresh=True, tables=tables)
"""
)

# `aerotwin pipeline run` whose write of `victim` gets Ctrl-C twice, then runs on for a
# minute, as a Spark job does that nothing cancels.
CTRL_C_TWICE = (
    _write_patched(
        """        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the first is noted before the second comes
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(60)"""
    )
    + """
from aerotwin.cli import app

app(["--data-dir", data_dir, "pipeline", "run"])
"""
)


def _history(settings: Settings) -> str:
    """What `aerotwin pipeline history` prints."""
    command = [*CLI, "--data-dir", str(settings.data_dir), "pipeline", "history"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _kill_when(settings: Settings, marker: Path, timeout: float = 60.0) -> None:
    """Start `aerotwin pipeline run` and SIGKILL it as soon as `marker` exists."""
    command = [*CLI, "--data-dir", str(settings.data_dir), "pipeline", "run"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"pipeline finished before {marker.name} appeared: kill came too late")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{marker} never appeared")
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize(
    "marker", ["bronze_telemetry_avionics/_delta_log", "quarantine/_delta_log"]
)
def test_sigkill_part_way_then_rerun_completes_without_loss_or_duplicates(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult], marker: str
) -> None:
    settings = fresh_landing
    lakehouse = Lakehouse.from_settings(settings)
    _kill_when(settings, Path(settings.lakehouse_root) / marker)

    # Every table that exists is readable at its last committed version: all its files exist.
    names = lakehouse.names()
    assert names, "the kill came before anything was committed"
    for name in names:
        table = lakehouse.table(name)
        # Exactly the rows its committed files hold by the log: no half-written file read.
        count = query(lakehouse, f"SELECT count(*) FROM {name}", [name]).column(0)[0].as_py()
        assert count == lakehouse.state(name).rows, name
        assert all(Path(uri.removeprefix("file://")).exists() for uri in table.file_uris())
    done = (
        set(query(lakehouse, "SELECT table_name FROM pipeline_events").column(0).to_pylist())
        if (lakehouse.exists("pipeline_events"))
        else set()
    )
    assert silver_name("airframe") not in done  # the kill really was part-way

    medallion = load_tables(layers=("bronze", "silver"))  # the kill came before gold
    run_pipeline(settings, tables=medallion)
    reference = Lakehouse.from_settings(first_run[0])
    for ct in COMPONENT_TYPES:
        name = silver_name(ct)
        assert content(lakehouse, name) == content(reference, name)
    quarantine = query(
        lakehouse,
        "SELECT count(*) AS n, count(DISTINCT (table_name, record_id)) AS d FROM quarantine",
        ["quarantine"],
    ).to_pylist()[0]
    assert quarantine["n"] == quarantine["d"] == reference.state("quarantine").rows
    assert run_pipeline(settings, tables=medallion).changed == []


@pytest.mark.slow
def test_ctrl_c_lets_running_tables_commit_records_the_rest_and_the_rerun_completes(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult]
) -> None:
    settings = fresh_landing
    lakehouse = Lakehouse.from_settings(settings)
    command = [*CLI, "--data-dir", str(settings.data_dir), "pipeline", "run"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    marker = Path(settings.lakehouse_root) / "bronze_telemetry_avionics" / "_delta_log"
    deadline = time.monotonic() + 60
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert "pipeline interrupted: the tables running finished and committed" in stderr.decode()
    assert "Traceback" not in stderr.decode()

    events = query(lakehouse, "SELECT table_name, status FROM pipeline_events").to_pylist()
    status = {e["table_name"]: e["status"] for e in events}
    assert status[silver_name("airframe")] == "interrupted"  # it came part-way through bronze
    # Every table the run committed has its event: none was cut off between the two.
    committed = set(lakehouse.names()) - {"pipeline_events"}
    assert committed and all(status.get(name) == "ok" for name in committed)
    history = _history(settings)
    assert "  INTERRUPTED: " in history and " tables not started" in history

    medallion = load_tables(layers=("bronze", "silver"))
    run_pipeline(settings, tables=medallion)
    reference = Lakehouse.from_settings(first_run[0])
    silver = [t.name for t in medallion if t.layer == "silver"]
    assert_same_tables(lakehouse, reference, silver)


def _full_refresh_killed_writing(settings: Settings, table: str) -> None:
    """Run `KILLED_WRITING` in a process of its own; it must die by SIGKILL."""
    command = [sys.executable, "-c", KILLED_WRITING, str(settings.data_dir), table]
    process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_full_refresh_killed_after_its_quarantine_commit_is_completed_by_the_next_run(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult]
) -> None:
    settings = fresh_landing
    medallion = load_tables(layers=("bronze", "silver"))
    # An aircraft's telemetry held as unknown_aircraft until its reference file catches up.
    reference = settings.landing_dir / "reference" / "aircraft.csv"
    complete = reference.read_text()
    late = complete.splitlines()[1]
    reference.write_text(complete.replace(late + "\n", ""))
    run_pipeline(settings, tables=medallion)
    reference.write_text(complete)
    run_pipeline(settings, tables=medallion)
    lakehouse = Lakehouse.from_settings(settings)
    engine, aircraft = silver_name("engine"), late.split(",")[0]
    held = (
        f"SELECT count(*) FROM quarantine WHERE table_name = '{engine}' "
        f"AND rule = 'unknown_aircraft' AND raw_record LIKE '%\"{aircraft}\"%'"
    )
    kept = f"SELECT count(*) FROM {engine} WHERE aircraft_id = '{aircraft}'"
    assert query(lakehouse, held, ["quarantine"]).column(0).to_pylist()[0] > 0

    _full_refresh_killed_writing(settings, engine)
    # The purge committed, the table's rebuild did not: the rows are in neither table.
    assert query(lakehouse, held, ["quarantine"]).column(0).to_pylist() == [0]
    assert query(lakehouse, kept, [engine]).column(0).to_pylist() == [0]

    result = run_pipeline(settings, tables=medallion)  # incremental: no input changed
    event = next(t for t in result.tables if t.table_name == engine)
    assert (event.status, event.refresh) == ("ok", "full")
    assert "interrupted full refresh" in event.message
    # What an uninterrupted full refresh gives (test_incremental: the same as `first_run`).
    assert_same_tables(lakehouse, Lakehouse.from_settings(first_run[0]), [engine])
    assert run_pipeline(settings, tables=medallion).changed == []


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once_and_the_run_is_recorded_as_interrupted(
    fresh_landing: Settings,
) -> None:
    settings = fresh_landing
    victim = silver_name("engine")
    command = [sys.executable, "-c", CTRL_C_TWICE, str(settings.data_dir), victim]
    started = time.monotonic()
    one_at_a_time = {**os.environ, "AEROTWIN_PIPELINE__WORKERS": "1"}  # the victim alone
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=one_at_a_time)
    assert done.returncode == 130, done.stderr
    assert time.monotonic() - started < 45  # not the minute the table's write takes
    assert "pipeline interrupted: stopped at once (second Ctrl-C): 1 table(s) cut short" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr

    lakehouse = Lakehouse.from_settings(settings)
    events = query(lakehouse, "SELECT table_name, status, message FROM pipeline_events")
    by_table = {e["table_name"]: e for e in events.to_pylist()}
    assert by_table[victim]["status"] == "interrupted"
    assert by_table[victim]["message"].startswith("stopped part-way by a second Ctrl-C")
    assert not lakehouse.exists(victim)  # its write never ran
    history = _history(settings)
    assert " tables not started, 1 cut short" in history
