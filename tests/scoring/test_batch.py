"""Batch scoring with the champions: result tables, alias moves, failures write nothing."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from aerotwin.config import Settings, load_settings, with_section
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.ml.drift import drift_frame
from aerotwin.ml.registry import model_name, promote
from aerotwin.ml.synthetic import synthetic_fleet
from aerotwin.ml.tracking import mlflow_session
from aerotwin.ml.train_job import read_table, train_all
from aerotwin.scoring.batch import ScoringError, load_champion, score
from aerotwin.twin.risk_tables import (
    AIRCRAFT_SCORES,
    COMPONENT_SCORES,
    FEATURE_DRIFT,
    MODEL_PERFORMANCE,
    PREDICTIONS,
)
from aerotwin.twin.views import COMPONENT_VIEW

pytestmark = pytest.mark.slow
OUTPUTS = (
    COMPONENT_SCORES,
    AIRCRAFT_SCORES,
    PREDICTIONS,
    FEATURE_DRIFT,
    MODEL_PERFORMANCE,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A lakehouse with engine features, failures and health, and two trained versions."""
    data_dir = tmp_path_factory.mktemp("scoring") / "data"
    settings = with_section(load_settings(None, data_dir=data_dir), "ml", tuning_seconds=0)
    fleet = synthetic_fleet("engine", aircraft=20, days=200, seed=9)
    lake = Lakehouse.from_settings(settings)
    lake.write("features_engine", pa.Table.from_pandas(fleet.features), "overwrite")
    lake.write("failures", pa.Table.from_pandas(fleet.failures), "overwrite")
    lake.write("component_health_engine", pa.Table.from_pandas(fleet.health), "overwrite")
    # A type with features but too few failures to train: scored runs skip it.
    untrained = synthetic_fleet("airframe", aircraft=3, days=20, seed=2).features
    lake.write("features_airframe", pa.Table.from_pandas(untrained), "overwrite")
    components = fleet.features["component_id"].unique()
    reports = train_all(settings, ["engine"]) + train_all(settings, ["engine"])
    return settings, lake, reports, len(components)


def _versions(lake: Lakehouse) -> dict[str, int | None]:
    return {name: lake.version(name) for name in OUTPUTS}


def _assert_rollup_of(aircraft: pd.DataFrame, comp: pd.DataFrame) -> None:
    """`aircraft` (anomaly_alerts) is the per-aircraft rollup of `comp`, computed here apart."""
    expected = comp.groupby("aircraft_id").agg(
        scored_ts=("scored_ts", "first"),
        max_risk_score=("risk_score", "max"),
        predicted_alerts=("predicted_alert", "sum"),
        components_scored=("component_id", "count"),
        max_anomaly_score=("anomaly_score", "max"),
        run_id=("run_id", "first"),
    )
    got = aircraft.set_index("aircraft_id").sort_index()
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False)
    assert got["predicted_alert"].tolist() == (expected["predicted_alerts"] > 0).tolist()
    assert aircraft["max_risk_score"].is_monotonic_decreasing
    # The worst component is one of the aircraft's with its highest risk (ties either way).
    worst = got.reset_index().merge(
        comp,
        left_on=["aircraft_id", "worst_component_id"],
        right_on=["aircraft_id", "component_id"],
        validate="one_to_one",
    )
    assert len(worst) == len(aircraft)
    assert (worst["risk_score"] == worst["max_risk_score"]).all()
    assert (worst["component_type"] == worst["worst_component_type"]).all()


def _assert_drift_of_last_week(settings: Settings, drift: pd.DataFrame) -> None:
    """`drift` holds the champion reference's PSI and out-of-range share of the features of
    the 7 days up to the newest reading, recomputed here from the feature table."""
    features = read_table(settings, "features_engine")
    features["reading_ts"] = pd.to_datetime(features["reading_ts"], utc=True)
    week = features[features["reading_ts"] >= features["reading_ts"].max() - pd.Timedelta(days=7)]
    reference = load_champion(settings, "engine").model.reference
    expected = drift_frame(reference, week).set_index("feature").sort_index()
    got = drift.set_index("feature").sort_index()
    assert got["rows"].tolist() == expected["rows"].tolist()
    assert got["psi"].to_numpy() == pytest.approx(expected["psi"].to_numpy())
    assert got["out_of_range_share"].to_numpy() == pytest.approx(
        expected["out_of_range_share"].to_numpy()
    )
    # The drift is measured, not a constant: some features moved off the training bins.
    assert got["psi"].gt(0).any()


def test_training_from_lakehouse_beats_baseline_and_first_is_champion(trained) -> None:
    _, _, reports, _ = trained
    first, second = reports
    assert first.decision.promoted and not second.decision.promoted
    assert first.holdout["pr_auc"] > first.baseline_pr_auc


def test_scoring_writes_tables_and_follows_the_alias(trained) -> None:
    settings, _, reports, n_components = trained
    result = score(settings)
    assert result.skipped == ["airframe"]
    comp = read_table(settings, COMPONENT_SCORES)
    assert len(comp) == n_components
    assert set(comp["model_version"]) == {reports[0].version}
    assert comp["risk_score"].between(0, 1).all() and comp["anomaly_score"].notna().all()
    aircraft = read_table(settings, AIRCRAFT_SCORES)
    assert aircraft["aircraft_id"].nunique() == len(aircraft) == 20
    _assert_rollup_of(aircraft, comp)
    # No pipeline built the other inputs of the twin views: scoring does not make them up.
    assert COMPONENT_VIEW not in result.versions and not Lakehouse.from_settings(settings).exists(
        COMPONENT_VIEW
    )
    drift = read_table(settings, FEATURE_DRIFT)
    assert set(drift["feature"]) == set(result.drift["feature"]) and len(drift) > 10
    _assert_drift_of_last_week(settings, drift)

    with mlflow_session(settings) as client:
        promote(settings, client, "engine", reports[1].version)
    score(settings)
    latest = read_table(settings, PREDICTIONS)
    newest = latest[latest["scored_ts"] == latest["scored_ts"].max()]
    assert set(newest["model_version"]) == {reports[1].version}
    assert len(latest) == 2 * n_components


def test_a_registered_type_without_champion_is_skipped(trained) -> None:
    settings, _, _, _ = trained
    with mlflow_session(settings) as client:  # as a challenger the holdout could not measure
        client.create_registered_model(model_name("airframe"))
    result = score(settings, write=False)
    assert result.skipped == ["airframe"]
    assert set(result.components["component_type"]) == {"engine"}


def test_no_champion_at_all_says_why_per_type_and_writes_nothing(trained) -> None:
    settings, lake, reports, _ = trained
    score(settings)
    before = _versions(lake)
    name = model_name("engine")
    with mlflow_session(settings) as client:
        client.delete_registered_model_alias(name, "champion")
    try:
        with pytest.raises(ScoringError) as caught:
            score(settings)
        lines = str(caught.value).splitlines()
        assert lines[0] == "no component type has a champion model yet, nothing to score:"
        engine, airframe = lines[1:]
        v1, v2 = (r.version for r in reports)
        assert engine.startswith(f"  engine: no champion among v{v2} challenger, v{v1} no alias")
        assert engine.endswith(f"`aerotwin models promote engine {v2}`")
        assert airframe == (
            "  airframe: never trained; run `aerotwin train --component-type airframe`"
        )
        assert _versions(lake) == before
    finally:
        with mlflow_session(settings) as client:
            client.set_registered_model_alias(name, "champion", str(reports[0].version))


def test_corrupt_champion_fails_clearly_and_writes_nothing(trained) -> None:
    settings, lake, _, _ = trained
    score(settings)
    before = _versions(lake)
    pickles = list(settings.mlflow_artifact_root.rglob("risk_model.pkl"))
    assert pickles
    saved = {p: p.read_bytes() for p in pickles}
    try:
        for p in pickles:
            p.write_bytes(b"not a model")
        expected = r"cannot load models:/aerotwin-engine-risk@champion"
        with pytest.raises(ScoringError, match=expected):
            score(settings)
        assert _versions(lake) == before
    finally:
        for p, content in saved.items():
            p.write_bytes(content)


def test_named_untrained_type_is_an_error(trained) -> None:
    settings, lake, _, _ = trained
    before = _versions(lake)
    with pytest.raises(ScoringError, match="aerotwin-airframe-risk@champion"):
        score(settings, ["engine", "airframe"])
    assert _versions(lake) == before


def test_no_feature_tables_is_a_clear_error(settings) -> None:
    with pytest.raises(ScoringError, match="no feature tables"):
        score(settings)


def test_whatif_scorer_uses_the_champion_and_none_without_one(trained) -> None:
    from aerotwin.scoring.batch import latest_features
    from aerotwin.scoring.whatif import champion_scorer

    settings, lake, _, _ = trained
    latest = latest_features(lake, "features_engine").head(1)
    scorer = champion_scorer(settings)
    risk = scorer("engine", pa.Table.from_pandas(latest, preserve_index=False))
    expected = score(settings, ["engine"], write=False).components
    row = expected[expected["component_id"] == latest["component_id"].iloc[0]]
    assert risk == pytest.approx(float(row["risk_score"].iloc[0]))
    assert scorer("landing_gear", pa.Table.from_pandas(latest, preserve_index=False)) is None
