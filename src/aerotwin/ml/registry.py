"""Risk models in MLflow: one experiment and one registered model per component type.

Every new version gets alias `challenger`. It becomes `champion` only when it beats the current
champion's PR-AUC on the same fresh holdout by `ml.promotion_margin` (or when there is none).
A version whose holdout has no failures has no PR-AUC: it stays challenger, first version too.
Each decision is tagged on the version and logged as its own run, with both scores; a champion
that loses the alias is tagged `replaced` or `rolled_back`, so each version's tag is true now.
The registered model's `champion_history` tag remembers earlier champions for rollback.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.metrics import average_precision_score

from aerotwin.config import Settings
from aerotwin.ml.dataset import Split
from aerotwin.ml.model import RiskModel, RiskPyfunc
from aerotwin.ml.tracking import ensure_experiment, log_pickled_model
from aerotwin.ml.training import TrainResult, evaluate
from aerotwin.schemas import COMPONENT_TYPES

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
UNMEASURED = "holdout has no failures: cannot measure this version"
# Decisions (tag promotion_decision) that leave a version holding alias champion.
CHAMPION_DECISIONS = ("promoted", "promoted_manually", "restored_by_rollback")


class RegistryError(RuntimeError):
    """A registry operation cannot be done (unknown model or version, nothing to roll back)."""


def model_name(component_type: str) -> str:
    """Registered model (and experiment) name of one component type's risk model."""
    return f"aerotwin-{component_type}-risk"


@dataclass(frozen=True)
class Decision:
    """What happened to a new or promoted version, with the scores it was decided on."""

    component_type: str
    version: int
    promoted: bool
    challenger_pr_auc: float
    champion_pr_auc: float
    previous_champion: int | None
    reason: str


def _confusion_figure(metrics: dict[str, float], title: str) -> Figure:
    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    cells = np.array([[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]])
    ax.imshow(cells, cmap="Blues")
    for (i, j), value in np.ndenumerate(cells):
        ax.text(j, i, f"{int(value)}", ha="center", va="center")
    ax.set_xticks([0, 1], ["no alert", "alert"])
    ax.set_yticks([0, 1], ["no failure", "failure"])
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _importance_figure(model: RiskModel, top: int = 20) -> Figure:
    gains = model.booster.feature_importance("gain")
    order = np.argsort(gains)[::-1][:top][::-1]
    fig = Figure(figsize=(6, max(3, 0.3 * len(order))))
    ax = fig.subplots()
    ax.barh([model.features[i] for i in order], gains[order])
    ax.set_xlabel("gain")
    ax.set_title(f"{model.component_type}: feature importance")
    fig.tight_layout()
    return fig


def _finite(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in metrics.items() if v is not None and math.isfinite(v)}


def log_training(
    settings: Settings,
    client: MlflowClient,
    result: TrainResult,
    split: Split,
    baseline_pr_auc: float,
) -> tuple[str, int, dict[str, float]]:
    """Log one training as a run, register it, alias it challenger; (run_id, version, metrics)."""

    model = result.model
    name = model_name(model.component_type)
    holdout_scores = model.risk(split.holdout) if len(split.holdout) else np.array([])
    holdout = evaluate(split.holdout, holdout_scores, model.threshold) if len(split.holdout) else {}
    experiment_id = ensure_experiment(client, name, settings)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"train-{model.component_type}"
    ) as run:
        run_id = run.info.run_id
        mlflow.set_tags({"component_type": model.component_type, "kind": "training"})
        mlflow.log_params(
            {
                **{k: v for k, v in result.params.items() if k != "verbose"},
                "threshold": model.threshold,
                "horizon_days": model.horizon_days,
                "target_recall": settings.ml.target_recall,
                "min_precision": settings.ml.min_precision,
                "cutoff": str(split.cutoff),
                "features": len(model.features),
                "optuna_trials": result.trials,
                "train_rows": len(split.train),
                "validation_rows": len(split.validation),
                "holdout_rows": len(split.holdout),
                "train_aircraft": split.train["aircraft_id"].nunique(),
                "holdout_aircraft": split.holdout["aircraft_id"].nunique(),
            }
        )
        mlflow.log_metrics(
            {
                **_finite(holdout, "holdout_"),
                **_finite(result.validation_metrics, "validation_"),
                **_finite({"baseline_pr_auc": baseline_pr_auc}, "holdout_"),
                "train_seconds": result.train_seconds,
            }
        )
        if holdout:
            mlflow.log_figure(_confusion_figure(holdout, "holdout"), "confusion_matrix.png")
        mlflow.log_figure(_importance_figure(model), "feature_importance.png")
        mlflow.log_dict(model.reference, "training_reference.json")
        example = split.holdout.head(5) if len(split.holdout) else split.train.head(5)
        example = example[list(model.features)].astype("float64").reset_index(drop=True)
        info = log_pickled_model(model, RiskPyfunc(), "risk_model", example)
    version = int(mlflow.register_model(info.model_uri, name).version)
    client.set_model_version_tag(name, str(version), "threshold", f"{model.threshold:.6f}")
    client.set_model_version_tag(name, str(version), "horizon_days", str(model.horizon_days))
    client.set_registered_model_alias(name, CHALLENGER, str(version))
    return run_id, version, holdout


def current_champion(client: MlflowClient, component_type: str) -> int | None:
    """The version holding alias champion, or None."""
    try:
        found = client.get_model_version_by_alias(model_name(component_type), CHAMPION)
    except MlflowException:
        return None
    return int(found.version)


def load_version(component_type: str, version: int | str) -> RiskModel:
    """The RiskModel of one registered version (or alias), loaded through MLflow."""
    uri = f"models:/{model_name(component_type)}/{version}"
    if isinstance(version, str) and not version.isdigit():
        uri = f"models:/{model_name(component_type)}@{version}"
    loaded = mlflow.pyfunc.load_model(uri)
    model = loaded.unwrap_python_model().model
    if not isinstance(model, RiskModel):
        raise TypeError(f"{uri} is not an AeroTwin risk model")
    return model


def _pr_auc(model: RiskModel, holdout: pd.DataFrame) -> float:
    labels = holdout["label"].to_numpy()
    if labels.sum() == 0:
        return float("nan")
    return float(average_precision_score(labels, model.risk(holdout)))


def _history(client: MlflowClient, name: str) -> list[int]:
    raw = client.get_registered_model(name).tags.get(HISTORY_TAG)
    return [int(v) for v in json.loads(raw)] if raw else []


def _set_champion(client: MlflowClient, name: str, version: int, history: list[int]) -> None:
    client.set_registered_model_alias(name, CHAMPION, str(version))
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history[-50:]))


def _mark_demoted(
    client: MlflowClient, name: str, version: int | None, outcome: str, reason: str
) -> None:
    """Retag a champion that lost the alias, so its tag no longer says it was promoted."""
    if version is None:
        return
    client.set_model_version_tag(name, str(version), "promotion_decision", outcome)
    client.set_model_version_tag(name, str(version), "promotion_reason", reason)


def _log_decision(
    settings: Settings, client: MlflowClient, decision: Decision, outcome: str
) -> None:
    """Tag the version and write a run with both scores, so every decision can be audited."""

    name = model_name(decision.component_type)
    tags = {
        "promotion_decision": outcome,
        "promotion_reason": decision.reason,
        "challenger_pr_auc": f"{decision.challenger_pr_auc:.6f}",
        "champion_pr_auc": f"{decision.champion_pr_auc:.6f}",
        "previous_champion": str(decision.previous_champion),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, str(decision.version), key, value)
    experiment_id = ensure_experiment(client, name, settings)
    run = client.create_run(
        experiment_id,
        run_name=f"decision-v{decision.version}",
        tags={"kind": "promotion", "component_type": decision.component_type, **tags},
    )
    for key in ("challenger_pr_auc", "champion_pr_auc"):
        value = getattr(decision, key)
        if math.isfinite(value):
            client.log_metric(run.info.run_id, key, value)
    client.log_param(run.info.run_id, "version", decision.version)
    client.log_param(run.info.run_id, "margin", settings.ml.promotion_margin)
    client.set_terminated(run.info.run_id)


def decide(
    settings: Settings,
    client: MlflowClient,
    challenger: RiskModel,
    version: int,
    holdout: pd.DataFrame,
) -> Decision:
    """Champion or not: both models scored on the same holdout; the margin is on PR-AUC."""
    ct = challenger.component_type
    name = model_name(ct)
    previous = current_champion(client, ct)
    new_score = _pr_auc(challenger, holdout)
    old_score = float("nan")
    if not math.isfinite(new_score):
        # Unmeasured is not good enough, even with no champion: score would trust it blindly.
        promoted, reason = False, UNMEASURED
    elif previous is None:
        promoted, reason = True, "first model of this type"
    else:
        try:
            old_score = _pr_auc(load_version(ct, previous), holdout)
        except Exception as exc:  # a champion that cannot score the holdout cannot defend
            promoted, reason = True, f"champion v{previous} cannot score the holdout: {exc}"
        else:
            margin = settings.ml.promotion_margin
            if not math.isfinite(old_score) or new_score >= old_score + margin:
                promoted = True
                reason = f"PR-AUC {new_score:.4f} >= champion {old_score:.4f} + {margin}"
            else:
                promoted = False
                reason = f"PR-AUC {new_score:.4f} < champion {old_score:.4f} + {margin}"
    if promoted:
        _set_champion(client, name, version, [*_history(client, name), version])
        _mark_demoted(client, name, previous, "replaced", f"v{version} became champion")
    decision = Decision(ct, version, promoted, new_score, old_score, previous, reason)
    _log_decision(settings, client, decision, "promoted" if promoted else "kept_challenger")
    return decision


def _known(component_type: str) -> str:
    """`component_type` itself; RegistryError naming the valid types when it is not one."""
    if component_type not in COMPONENT_TYPES:
        valid = ", ".join(COMPONENT_TYPES)
        raise RegistryError(f"unknown component type {component_type!r}: one of {valid}")
    return component_type


def promote(
    settings: Settings, client: MlflowClient, component_type: str, version: int
) -> Decision:
    """Make `version` champion by hand (logged as a manual decision).

    When it already is, nothing changes and the decision says so (promoted False).
    """
    name = model_name(_known(component_type))
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(f"{name} has no version {version}") from None
    previous = current_champion(client, component_type)
    if previous == version:
        same = "already champion"
        return Decision(component_type, version, False, math.nan, math.nan, previous, same)
    _set_champion(client, name, version, [*_history(client, name), version])
    _mark_demoted(client, name, previous, "replaced", f"v{version} promoted manually")
    decision = Decision(component_type, version, True, math.nan, math.nan, previous, "manual")
    _log_decision(settings, client, decision, "promoted_manually")
    return decision


def rollback(settings: Settings, client: MlflowClient, component_type: str) -> Decision:
    """Give alias champion back to the previous champion; RegistryError when there is none."""
    name = model_name(_known(component_type))
    try:
        history = _history(client, name)
    except MlflowException:
        raise RegistryError(f"no registered model {name}") from None
    current = current_champion(client, component_type)
    if current is not None and history and history[-1] == current:
        history = history[:-1]
    if not history:
        raise RegistryError(f"{name}: no earlier champion to roll back to")
    target = history[-1]
    _set_champion(client, name, target, history)
    _mark_demoted(client, name, current, "rolled_back", f"rolled back to v{target}")
    decision = Decision(component_type, target, True, math.nan, math.nan, current, "rollback")
    _log_decision(settings, client, decision, "restored_by_rollback")
    return decision


@dataclass(frozen=True)
class VersionInfo:
    """One registered version as `aerotwin models list` shows it."""

    name: str
    version: int
    aliases: tuple[str, ...]
    holdout_pr_auc: float | None
    decision: str | None
    reason: str | None
    created_ms: int


def current_decision(decision: str | None, aliases: tuple[str, ...]) -> str | None:
    """The decision true now: a champion decision on a version without the alias was replaced.

    Stores written before demotions were tagged still say "promoted" on former champions.
    """
    if decision in CHAMPION_DECISIONS and CHAMPION not in aliases:
        return "replaced"
    return decision


def list_versions(client: MlflowClient) -> list[VersionInfo]:
    """Every version of every aerotwin risk model, newest first per model."""
    out = []
    for registered in client.search_registered_models():
        if not (registered.name.startswith("aerotwin-") and registered.name.endswith("-risk")):
            continue
        aliases: dict[str, list[str]] = {}
        for alias, version in (registered.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in client.search_model_versions(f"name = '{registered.name}'"):
            metric = None
            if mv.run_id:
                metric = client.get_run(mv.run_id).data.metrics.get("holdout_pr_auc")
            held = tuple(sorted(aliases.get(str(mv.version), [])))
            out.append(
                VersionInfo(
                    mv.name,
                    int(mv.version),
                    held,
                    metric,
                    current_decision(mv.tags.get("promotion_decision"), held),
                    mv.tags.get("promotion_reason"),
                    int(mv.creation_timestamp),
                )
            )
    return sorted(out, key=lambda v: (v.name, -v.version))
