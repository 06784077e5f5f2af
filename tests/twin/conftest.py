"""Twin fixtures: the session's small simulated fleet, run once through the DuckDB pipeline."""

from __future__ import annotations

import shutil

import pytest

from aerotwin.config import Settings, load_settings
from aerotwin.pipeline.runner import run_pipeline
from aerotwin.sim.history import SimSummary


@pytest.fixture(scope="session")
def gold_fleet(
    small_fleet_landing: tuple[Settings, SimSummary], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """A lakehouse with every table, gold included, built from a copy of the small fleet.

    Read-only: tests that write must work on their own copy.
    """
    source, _ = small_fleet_landing
    data_dir = tmp_path_factory.mktemp("gold_fleet") / "data"
    shutil.copytree(source.landing_dir, data_dir / "landing")
    settings = load_settings(None, data_dir=data_dir)
    run_pipeline(settings)
    return settings
