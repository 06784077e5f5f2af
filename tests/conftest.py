"""Shared fixtures: settings rooted in a temp dir; a small fleet built once per session."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from aerotwin.config import Settings, load_settings

if TYPE_CHECKING:
    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.sim.history import SimSummary


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data lives in this test's temp dir."""
    return load_settings(None, data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def small_fleet_landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, SimSummary]:
    """A landing zone of 6 aircraft x 30 days (seed 7, 1 % bad records), built once per session.

    Returns (settings, summary); the files are under `settings.landing_dir`. Treat as read-only:
    copy it before changing anything.
    """
    from aerotwin.testing import simulate_small_fleet

    settings = load_settings(None, data_dir=tmp_path_factory.mktemp("small_fleet") / "data")
    return settings, simulate_small_fleet(settings)


@pytest.fixture(scope="session")
def gold_fleet(
    small_fleet_landing: tuple[Settings, SimSummary], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """A lakehouse with every table, gold included, built by DuckDB from a copy of the small fleet.

    Read-only (tests/twin, tests/scoring): tests that write must work on their own copy.
    """
    import shutil

    from aerotwin.pipeline.runner import run_pipeline

    source, _ = small_fleet_landing
    data_dir = tmp_path_factory.mktemp("gold_fleet") / "data"
    shutil.copytree(source.landing_dir, data_dir / "landing")
    settings = load_settings(None, data_dir=data_dir)
    run_pipeline(settings)
    return settings


@pytest.fixture(scope="session")
def spark_session():  # type: ignore[no-untyped-def]
    """One local Spark session with Delta for the whole test run (start-up takes seconds)."""
    from aerotwin.lakehouse.spark_engine import build_session

    session = build_session("local[2]", shuffle_partitions=2, small_data=True)
    yield session
    session.stop()


# Reads a table and exits at once: the exit is where an Arrow thread still freeing
# deltalake's Python filesystem aborted the process (code 134).
READ_AND_EXIT = (
    "import json, sys; from aerotwin.lakehouse.delta import Lakehouse; "
    "print(Lakehouse(sys.argv[1], json.loads(sys.argv[2])).read(sys.argv[3]).num_rows)"
)


@pytest.fixture
def read_and_exit() -> Callable[[str, Mapping[str, str], str, int], list[tuple[int, str]]]:
    """Runs `times` fresh processes that read a table and exit: [(exit code, output)]."""

    def run(root: str, options: Mapping[str, str], table: str, times: int) -> list[tuple[int, str]]:
        command = [sys.executable, "-c", READ_AND_EXIT, root, json.dumps(options), table]
        done = [
            subprocess.run(command, capture_output=True, text=True, timeout=120)
            for _ in range(times)
        ]
        return [(d.returncode, (d.stdout + d.stderr).strip()) for d in done]

    return run


@pytest.fixture
def lock_held_for() -> Callable[[Lakehouse, str, float], AbstractContextManager[None]]:
    """Another run, in a thread, holds the lakehouse's run lock and lets go after `seconds`."""
    from aerotwin.lakehouse.run_lock import exclusive_run

    @contextmanager
    def hold(lakehouse: Lakehouse, holder: str, seconds: float) -> Iterator[None]:
        held, release = threading.Event(), threading.Event()

        def earlier_run() -> None:
            with exclusive_run(lakehouse, holder):
                held.set()
                release.wait(30)

        thread = threading.Thread(target=earlier_run)
        thread.start()
        assert held.wait(10), f"{holder} never took the lock"
        threading.Timer(seconds, release.set).start()
        try:
            yield
        finally:
            release.set()
            thread.join()

    return hold


@pytest.fixture
def write_counts_of() -> Callable[..., list[tuple[int, int]]]:
    """Writes, merges and overwrites table `t` through an engine, as a pipeline run does:
    `write_counts` of each commit in its history, oldest first. They are 48 rows written;
    12 of them updated (none inserted); 8 updated and 12 inserted; 48 written over them."""
    from aerotwin.lakehouse.delta import write_counts

    def run(engine: Any, partition_by: Sequence[str] = ()) -> list[tuple[int, int]]:
        def rows(keys: range, v: int) -> pa.Table:
            return pa.table({"k": list(keys), "v": [v] * len(keys), "g": ["x"] * len(keys)})

        engine.register_arrow("w", rows(range(48), 0))
        engine.write("t", "w", "append", partition_by=partition_by)
        for i, keys in enumerate((range(12), range(40, 60))):
            # A merge rewrites whole files: its output rows also count the rows it copied.
            engine.register_arrow(f"m{i}", rows(keys, 1))
            engine.merge("t", f"m{i}", ["k"], update_when="s.v > t.v", partition_by=partition_by)
        engine.write("t", "w", "overwrite", partition_by=partition_by)
        history = engine.lakehouse.table("t").history()
        return [write_counts(commit) for commit in reversed(history)]

    return run
