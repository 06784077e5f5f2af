"""The risk model on the simulated fleet, through the real pipeline and gold tables.

A fleet large enough to have engine failures in training and in the holdout (the session's
small fleet has one or two): 40 aircraft x 240 days, only the tables the engine model needs.
"""

from __future__ import annotations

import pytest

from aerotwin.config import load_settings, with_section
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.ml.dataset import build_dataset, split_dataset
from aerotwin.ml.train_job import TrainReport, load_inputs, load_interventions, train_component
from aerotwin.scoring.batch import score
from aerotwin.twin.views import COMPONENT_VIEW

pytestmark = pytest.mark.slow
NEEDED = (
    "features_engine",
    "component_health_engine",
    "failures",
    "maintenance_events",
    COMPONENT_VIEW,
)


def _closure(tables, wanted):
    """The declared tables `wanted` needs (inputs, transitively), in pipeline order."""
    by_name = {t.name: t for t in tables}
    keep, todo = set(), list(wanted)
    while todo:
        name = todo.pop()
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        todo.extend(by_name[name].inputs)
    return [t for t in tables if t.name in keep]


@pytest.fixture(scope="module")
def fleet_settings(tmp_path_factory):
    from aerotwin.pipeline.registry import load_tables
    from aerotwin.pipeline.runner import run_pipeline
    from aerotwin.testing import simulate_small_fleet

    base = load_settings(None, data_dir=tmp_path_factory.mktemp("fleet") / "data")
    settings = with_section(base, "ml", tuning_seconds=0)
    simulate_small_fleet(settings, aircraft=40, days=240, seed=7, bad_record_rate=0.002)
    run_pipeline(settings, tables=_closure(load_tables(), NEEDED))
    return settings


@pytest.fixture(scope="module")
def engine_report(fleet_settings) -> TrainReport:
    """The engine model trained, registered and promoted once, for every test of the module."""
    features, failures, health = load_inputs(fleet_settings, "engine")
    fixes = load_interventions(fleet_settings, "engine")
    return train_component(fleet_settings, "engine", features, failures, health, fixes)


def test_engine_model_beats_rule_baseline_on_held_out_aircraft(
    fleet_settings, engine_report: TrainReport
) -> None:
    features, failures, health = load_inputs(fleet_settings, "engine")
    fixes = load_interventions(fleet_settings, "engine")
    assert fixes is not None and len(fixes) > 0  # defects found and fixed before failing
    data = build_dataset(features, failures, 14, health, fixes)
    split = split_dataset(data, 14)  # asserts no aircraft / no future leak
    assert split.holdout["label"].sum() >= 10
    assert set(split.train["aircraft_id"]).isdisjoint(split.holdout["aircraft_id"])

    report = engine_report
    assert report.decision.promoted
    assert report.holdout["pr_auc"] > report.baseline_pr_auc + 0.1
    assert report.holdout["recall"] > 0.5


def test_scoring_fills_the_real_twin_view(fleet_settings, engine_report: TrainReport) -> None:
    result = score(fleet_settings, ["engine"])
    lake = Lakehouse.from_settings(fleet_settings)
    view = lake.dataset(COMPONENT_VIEW).to_table().to_pandas()
    engines = view[view["component_type"] == "engine"]
    others = view[view["component_type"] != "engine"]
    assert len(engines) == len(result.components) >= 80  # two or four engines per aircraft
    assert engines["risk_score"].notna().all() and others["risk_score"].isna().all()
    assert set(engines["model_name"]) == {"aerotwin-engine-risk"}
    assert set(result.components["model_version"]) == {engine_report.version}
