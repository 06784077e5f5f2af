"""A data folder is self-contained: moved or copied, it scores and trains with its own models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from aerotwin.config import Settings, load_settings, with_section
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.ml.synthetic import synthetic_fleet
from aerotwin.ml.train_job import train_all
from aerotwin.scoring.batch import ScoringError, latest_features, score
from aerotwin.scoring.whatif import champion_scorer

pytestmark = pytest.mark.slow


def _settings(data_dir: Path) -> Settings:
    return with_section(load_settings(None, data_dir=data_dir), "ml", tuning_seconds=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data folder of 12 aircraft with one trained avionics champion."""
    settings = _settings(tmp_path_factory.mktemp("relocation") / "data")
    fleet = synthetic_fleet("avionics", aircraft=12, days=160, seed=4, components_per_aircraft=1)
    lake = Lakehouse.from_settings(settings)
    lake.write("features_avionics", pa.Table.from_pandas(fleet.features), "overwrite")
    lake.write("failures", pa.Table.from_pandas(fleet.failures), "overwrite")
    assert train_all(settings, ["avionics"])[0].decision.promoted
    return settings


def _artifacts(settings: Settings) -> dict[str, bytes]:
    root = settings.mlflow_artifact_root
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_moved_folder_scores_with_its_own_champion(trained, tmp_path) -> None:
    moved = tmp_path / "moved"
    trained.data_dir.rename(moved)  # moved back below: the fixture is shared
    try:
        settings = _settings(moved)
        result = score(settings, write=False)
        assert set(result.components["model_version"]) == {1} and len(result.components) == 12
        latest = latest_features(Lakehouse.from_settings(settings), "features_avionics")
        rows = pa.Table.from_pandas(latest.head(1), preserve_index=False)
        assert champion_scorer(settings)("avionics", rows) is not None  # what-if's risk
    finally:
        moved.rename(trained.data_dir)
    assert len(score(trained, write=False).components) == 12  # and back again


def test_training_in_a_copy_writes_only_into_the_copy(trained, tmp_path) -> None:
    before = _artifacts(trained)
    copy = _settings(tmp_path / "copy")
    shutil.copytree(trained.data_dir, copy.data_dir)
    report = train_all(copy, ["avionics"])[0]
    assert report.version == 2
    assert _artifacts(trained) == before
    assert len(_artifacts(copy)) > len(before)  # the new run's and model's files
    assert len(score(copy, write=False).components) == 12


def test_missing_artifacts_fail_in_one_line_naming_model_and_path(trained, tmp_path) -> None:
    copy = _settings(tmp_path / "copy")
    shutil.copytree(trained.data_dir, copy.data_dir)
    shutil.rmtree(copy.mlflow_artifact_root)
    with pytest.raises(ScoringError) as failed:
        score(copy, write=False)
    message = str(failed.value)
    assert "aerotwin-avionics-risk" in message and "version 1" in message
    assert str(copy.mlflow_artifact_root) in message and "\n" not in message
