"""`aerotwin train`: per component type, gold features -> dataset -> model -> MLflow decision."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from aerotwin.config import Settings
from aerotwin.ml.baseline import baseline_pr_auc
from aerotwin.ml.dataset import build_dataset, split_dataset
from aerotwin.ml.labels import interventions
from aerotwin.ml.registry import Decision, decide, log_training
from aerotwin.ml.training import train_risk_model
from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.twin.features import feature_table
from aerotwin.twin.health import health_table


@dataclass(frozen=True)
class TrainReport:
    """One component type's training: where it landed and how it compares."""

    component_type: str
    run_id: str
    version: int
    decision: Decision
    holdout: dict[str, float]
    baseline_pr_auc: float
    train_seconds: float
    rows: int


def read_table(settings: Settings, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A Delta table as pandas, through the Arrow dataset (see DESIGN: not to_pyarrow_table)."""
    from aerotwin.lakehouse.delta import Lakehouse

    lake = Lakehouse.from_settings(settings)
    if columns is not None:
        columns = [c for c in columns if c in lake.arrow_schema(name).names]
    return lake.read(name, columns).to_pandas()


def load_inputs(
    settings: Settings, component_type: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Features, failures (of this type) and health statuses from the lakehouse."""
    from aerotwin.lakehouse.delta import Lakehouse

    lake = Lakehouse.from_settings(settings)
    name = feature_table(component_type)
    if not lake.exists(name):
        raise KeyError(f"feature table {name!r} does not exist: run `aerotwin pipeline run` first")
    features = read_table(settings, name)
    if not lake.exists("failures"):
        raise KeyError("table 'failures' does not exist: no labels to train on")
    failures = read_table(settings, "failures", ["component_id", "component_type", "failure_ts"])
    if "component_type" in failures:
        failures = failures[failures["component_type"] == component_type]
    health = None
    if lake.exists(health_table(component_type)):
        cols = ["component_id", "reading_ts", "component_health_status"]
        health = read_table(settings, health_table(component_type), cols)
    return features, failures, health


def load_interventions(settings: Settings, component_type: str) -> pd.DataFrame | None:
    """Repairs and replacements of one type not caused by a failure (`labels.interventions`)."""
    from aerotwin.lakehouse.delta import Lakehouse

    if not Lakehouse.from_settings(settings).exists("maintenance_events"):
        return None
    cols = ["component_id", "component_type", "event_ts", "event_type", "trigger"]
    events = read_table(settings, "maintenance_events", cols)
    if "component_type" in events:
        events = events[events["component_type"].eq(component_type)]
    return interventions(events)


def train_component(
    settings: Settings,
    component_type: str,
    features: pd.DataFrame,
    failures: pd.DataFrame,
    health: pd.DataFrame | None,
    interventions: pd.DataFrame | None = None,
) -> TrainReport:
    """Train one component type from frames, log and register it, decide on promotion."""
    from aerotwin.ml.tracking import mlflow_session

    ml = settings.ml
    data = build_dataset(features, failures, ml.horizon_days, health, interventions)
    split = split_dataset(data, ml.horizon_days, ml.holdout_aircraft_share, ml.holdout_time_share)
    result = train_risk_model(
        component_type,
        split,
        ml.horizon_days,
        target_recall=ml.target_recall,
        min_precision=ml.min_precision,
        tuning_seconds=ml.tuning_seconds,
        tuning_trials=ml.tuning_trials,
        num_threads=ml.num_threads,
        seed=settings.sim.seed,
    )
    baseline = baseline_pr_auc(split.holdout)
    with mlflow_session(settings) as client:
        run_id, version, holdout = log_training(settings, client, result, split, baseline)
        decision = decide(settings, client, result.model, version, split.holdout)
    return TrainReport(
        component_type,
        run_id,
        version,
        decision,
        holdout,
        baseline,
        result.train_seconds,
        len(data),
    )


def skip_message(component_type: str, error: Exception) -> str:
    """One line for a type `train_all` skipped: the type, then the reason, the type only once."""
    # A KeyError's str() is its message quoted; the message itself reads better.
    reason = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    prefix = f"{component_type}: "
    return reason if reason.startswith(prefix) else prefix + reason


def train_all(
    settings: Settings,
    component_types: Iterable[str] | None = None,
    on_done: Callable[[str, TrainReport | Exception], None] | None = None,
) -> list[TrainReport]:
    """Train every component type whose feature table exists; failures are reported, not fatal."""
    reports = []
    for component_type in component_types or COMPONENT_TYPES:
        if component_type not in COMPONENT_TYPES:
            raise ValueError(f"component type {component_type!r} is not one of {COMPONENT_TYPES}")
        try:
            features, failures, health = load_inputs(settings, component_type)
            fixes = load_interventions(settings, component_type)
            report = train_component(settings, component_type, features, failures, health, fixes)
        except (KeyError, ValueError) as exc:
            if on_done:
                on_done(component_type, exc)
            continue
        reports.append(report)
        if on_done:
            on_done(component_type, report)
    return reports
