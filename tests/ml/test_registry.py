"""Champion and challenger against a real MLflow SQLite registry."""

from __future__ import annotations

import numpy as np
import pytest

from aerotwin.config import load_settings, with_section
from aerotwin.ml.dataset import Split, build_dataset, split_dataset
from aerotwin.ml.registry import (
    CHALLENGER,
    UNMEASURED,
    RegistryError,
    current_champion,
    decide,
    list_versions,
    log_training,
    model_name,
    promote,
    rollback,
)
from aerotwin.ml.synthetic import synthetic_fleet
from aerotwin.ml.tracking import mlflow_session
from aerotwin.ml.training import train_risk_model

pytestmark = pytest.mark.slow


def _scrambled(split: Split, seed: int) -> Split:
    """The same split with training features shuffled across rows: an uninformative model."""
    rng = np.random.default_rng(seed)
    train = split.train.copy()
    for column in split.features:
        train[column] = rng.permutation(train[column].to_numpy())
    return Split(train, split.validation, split.holdout, split.cutoff, split.features)


def test_better_promoted_worse_kept_and_rollback_restores(tmp_path) -> None:
    settings = with_section(load_settings(None, data_dir=tmp_path / "data"), "ml", tuning_seconds=0)
    fleet = synthetic_fleet("engine", aircraft=24, days=200, seed=5)
    split = split_dataset(build_dataset(fleet.features, fleet.failures, 14, fleet.health), 14)
    name = model_name("engine")

    def train_and_decide(part: Split):
        result = train_risk_model("engine", part, 14, tuning_seconds=0)
        with mlflow_session(settings) as client:
            _, version, _ = log_training(settings, client, result, split, float("nan"))
            # Always judged on the real (unscrambled) holdout: the same fresh data for both.
            decision = decide(settings, client, result.model, version, split.holdout)
            return version, decision

    weak, first = train_and_decide(_scrambled(split, 1))
    assert first.promoted and first.reason == "first model of this type"

    strong, second = train_and_decide(split)
    assert second.promoted and second.previous_champion == weak
    assert second.challenger_pr_auc > second.champion_pr_auc + settings.ml.promotion_margin

    worse, third = train_and_decide(_scrambled(split, 2))
    assert not third.promoted
    assert third.champion_pr_auc > third.challenger_pr_auc
    with mlflow_session(settings) as client:
        assert current_champion(client, "engine") == strong
        assert int(client.get_model_version_by_alias(name, CHALLENGER).version) == worse
        tags = client.get_model_version(name, str(worse)).tags
        assert tags["promotion_decision"] == "kept_challenger"
        assert float(tags["champion_pr_auc"]) == pytest.approx(third.champion_pr_auc, abs=1e-6)
        assert float(tags["challenger_pr_auc"]) == pytest.approx(third.challenger_pr_auc, abs=1e-6)
        decision_runs = client.search_runs(
            [client.get_experiment_by_name(name).experiment_id], "tags.kind = 'promotion'"
        )
        assert len(decision_runs) == 3
        assert {"challenger_pr_auc", "champion_pr_auc"} <= set(decision_runs[0].data.metrics)

        back = rollback(settings, client, "engine")
        assert back.version == weak and current_champion(client, "engine") == weak
        with pytest.raises(RegistryError, match="no earlier champion"):
            rollback(settings, client, "engine")
        promote(settings, client, "engine", worse)
        assert current_champion(client, "engine") == worse
        with pytest.raises(RegistryError, match="no version 99"):
            promote(settings, client, "engine", 99)
        with pytest.raises(RegistryError, match=r"unknown component type 'foo': one of .*engine"):
            promote(settings, client, "foo", 1)
        with pytest.raises(RegistryError, match="unknown component type 'foo'"):
            rollback(settings, client, "foo")
        again = promote(settings, client, "engine", worse)
        assert not again.promoted and again.reason == "already champion"
        assert (
            len(
                client.search_runs([decision_runs[0].info.experiment_id], "tags.kind = 'promotion'")
            )
            == 5
        )
        listed = list_versions(client)
        assert [v.version for v in listed] == [worse, strong, weak]
        assert "champion" in listed[0].aliases
        # What is true now: promoted by hand; rolled back; replaced by the manual promotion.
        assert [v.decision for v in listed] == ["promoted_manually", "rolled_back", "replaced"]
        run = client.get_run(client.get_model_version(name, str(strong)).run_id)
        assert {"holdout_pr_auc", "holdout_roc_auc", "holdout_median_lead_days"} <= set(
            run.data.metrics
        )
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"confusion_matrix.png", "feature_importance.png"} <= artifacts


def test_unmeasured_version_stays_challenger_even_as_the_first(tmp_path) -> None:
    settings = with_section(load_settings(None, data_dir=tmp_path / "data"), "ml", tuning_seconds=0)
    fleet = synthetic_fleet("engine", aircraft=12, days=150, seed=5)
    split = split_dataset(build_dataset(fleet.features, fleet.failures, 14, fleet.health), 14)
    result = train_risk_model("engine", split, 14, tuning_seconds=0)
    no_failures = split.holdout.assign(label=0)  # a holdout that cannot measure the model
    with mlflow_session(settings) as client:
        _, version, _ = log_training(settings, client, result, split, float("nan"))
        decision = decide(settings, client, result.model, version, no_failures)
        assert not decision.promoted and decision.reason == UNMEASURED
        assert current_champion(client, "engine") is None
        [listed] = list_versions(client)
    assert listed.aliases == (CHALLENGER,)
    assert (listed.decision, listed.reason) == ("kept_challenger", UNMEASURED)
