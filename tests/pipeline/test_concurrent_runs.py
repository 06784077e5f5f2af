"""Two pipeline runs at once on one lakehouse: the second stops, and nothing is ingested twice."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

import pytest
from typer.testing import CliRunner, Result

from aerotwin.cli import app
from aerotwin.config import Settings, with_section
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.run_lock import LOCK_FILE, LakehouseBusy, exclusive_run
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline
from aerotwin.pipeline.silver_telemetry import bronze_name, silver_name
from aerotwin.schemas import COMPONENT_TYPES

T = TypeVar("T")
CLI = [sys.executable, "-c", "from aerotwin.cli import app; app()"]


def _at_once(call: Callable[[], T]) -> T:
    """`call`'s result, asserting it came back in under a second (no wait for the holder)."""
    started = time.monotonic()
    out = call()
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"refused after {elapsed:.2f} s, not at once"
    return out


def _refused_run(settings: Settings) -> LakehouseBusy:
    with pytest.raises(LakehouseBusy) as busy:
        run_pipeline(settings)
    return busy.value


def test_a_run_stops_at_once_while_another_holds_the_lakehouse(fresh_landing: Settings) -> None:
    settings = fresh_landing
    lakehouse = Lakehouse.from_settings(settings)
    cli = ["--data-dir", str(settings.data_dir)]

    def invoke(*args: str) -> Result:
        return _at_once(lambda: CliRunner().invoke(app, [*cli, *args]))

    with exclusive_run(lakehouse, "pipeline run holder00run1"):
        message = str(_at_once(lambda: _refused_run(settings)))
        assert "in use by another run (pipeline run holder00run1, process" in message
        assert "changed nothing" in message
        # The first call imports the pipeline modules (~0.5 s, more on a busy machine): untimed.
        CliRunner().invoke(app, [*cli, "pipeline", "run"])
        result = invoke("pipeline", "run")
        assert result.exit_code == 1 and "pipeline run holder00run1" in result.output
    assert lakehouse.names() == []  # neither run read or wrote a table
    with exclusive_run(lakehouse, "aerotwin optimize"):
        result = invoke("pipeline", "run")
        assert result.exit_code == 1 and "(aerotwin optimize, process" in result.output

    assert run_pipeline(settings).changed  # the lock went with its holder
    assert (Path(settings.lakehouse_root) / LOCK_FILE).read_text() == ""
    with exclusive_run(lakehouse, "pipeline run holder00run2"):
        result = invoke("optimize")
        assert result.exit_code == 1 and "pipeline run holder00run2" in result.output
    result = CliRunner().invoke(app, [*cli, "optimize"])
    assert result.exit_code == 0, result.output


def _lines(lakehouse: Lakehouse, table: str) -> tuple[int, int]:
    sql = f"SELECT count(*), count(DISTINCT (_source_file, _line)) FROM {table}"
    rows, distinct = query(lakehouse, sql, [table]).to_pylist()[0].values()
    return int(rows), int(distinct)


@pytest.mark.slow
def test_a_second_process_started_mid_run_ingests_nothing_twice(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult]
) -> None:
    settings = fresh_landing
    tables = load_tables(layers=("bronze", "silver"))
    command = [*CLI, "--data-dir", str(settings.data_dir), "pipeline", "run"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marker = Path(settings.lakehouse_root) / "bronze_flights" / "_delta_log"
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert first.poll() is None, "the first run ended before the second could start"
        assert time.monotonic() < deadline, f"{marker} never appeared"
        time.sleep(0.005)
    with pytest.raises(LakehouseBusy, match="in use by another run"):
        run_pipeline(settings, tables=tables)
    output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, output

    lakehouse, alone = Lakehouse.from_settings(settings), Lakehouse.from_settings(first_run[0])
    for ct in COMPONENT_TYPES:
        rows, distinct = _lines(lakehouse, bronze_name(ct))
        assert rows == distinct == _lines(alone, bronze_name(ct))[0], ct
        assert lakehouse.state(silver_name(ct)).rows == alone.state(silver_name(ct)).rows


def test_a_run_told_to_wait_starts_when_the_other_ends_or_gives_up(
    fresh_landing: Settings, lock_held_for: Callable[..., AbstractContextManager[None]]
) -> None:
    lakehouse = Lakehouse.from_settings(fresh_landing)
    told: list[str] = []
    patient = with_section(fresh_landing, "pipeline", lock_wait_s=30)
    with lock_held_for(lakehouse, "pipeline run earlier0001", 0.5):
        started = time.monotonic()
        result = run_pipeline(patient, tables=load_tables(layers=("bronze",)), on_wait=told.append)
        assert result.changed and time.monotonic() - started >= 0.5
    assert len(told) == 1 and told[0].startswith("pipeline run earlier0001, process")

    cli = ["--data-dir", str(fresh_landing.data_dir), "pipeline", "run", "--wait", "0.3"]
    no_wait = {"AEROTWIN_PIPELINE__LOCK_WAIT_S": "0"}  # the option wins over the variable
    with exclusive_run(lakehouse, "pipeline run earlier0002"):
        started = time.monotonic()
        result = CliRunner().invoke(app, cli, env=no_wait)
        assert time.monotonic() - started >= 0.3
    assert result.exit_code == 1, result.output
    assert "waiting up to 0.3 s for pipeline run earlier0002" in result.output
    assert "after waiting 0.3 s" in result.output
