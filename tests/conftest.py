"""Shared fixtures: settings rooted in a temp dir; a small fleet built once per session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aerotwin.config import Settings, load_settings

if TYPE_CHECKING:
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
