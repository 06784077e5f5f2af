"""`aerotwin score`: the champions score the latest features of every component.

Models are loaded by alias (`models:/aerotwin-<type>-risk@champion`) at each run, so a new
champion is used as soon as the alias moves. Everything is computed before anything is
written: a missing or unloadable model stops the run with a clear error and no table changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from aerotwin.config import Settings
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.ml.drift import drift_frame
from aerotwin.ml.model import RiskModel
from aerotwin.schemas import COMPONENT_TYPES

COMPONENT_ALERTS = "anomaly_alerts_component"
AIRCRAFT_ALERTS = "anomaly_alerts"
PREDICTIONS = "predictions"
FEATURE_DRIFT = "feature_drift"
TWIN_VIEW = "digital_twin_component_view"
MODEL_PERFORMANCE = "model_performance"
DRIFT_WINDOW_DAYS = 7


class ScoringError(RuntimeError):
    """Scoring cannot run (no features, missing or corrupt champion); nothing was written."""


@dataclass(frozen=True)
class Champion:
    """A loaded champion and where it came from."""

    component_type: str
    name: str
    version: int
    model: RiskModel


@dataclass
class ScoringResult:
    """What one scoring run produced (frames) and the table versions it wrote."""

    run_id: str
    scored_ts: pd.Timestamp
    components: pd.DataFrame
    aircraft: pd.DataFrame
    drift: pd.DataFrame
    versions: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def load_champion(settings: Settings, component_type: str) -> Champion:
    """Load `models:/aerotwin-<type>-risk@champion`; ScoringError naming the model otherwise."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from aerotwin.ml.registry import CHAMPION, model_name
    from aerotwin.ml.tracking import mlflow_session

    name = model_name(component_type)
    uri = f"models:/{name}@{CHAMPION}"
    with mlflow_session(settings) as client:
        try:
            version = int(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            raise ScoringError(
                f"no champion model {uri}: run `aerotwin train` (or `aerotwin models promote`)"
            ) from None
        try:
            loaded = mlflow.pyfunc.load_model(uri)
            model = loaded.unwrap_python_model().model
        except Exception as exc:  # any load failure means the registered model is unusable
            raise ScoringError(f"cannot load {uri} (version {version}): {exc}") from None
    if not isinstance(model, RiskModel):
        raise ScoringError(f"{uri} (version {version}) is not an AeroTwin risk model")
    return Champion(component_type, name, version, model)


def score_components(
    champion: Champion, latest: pd.DataFrame, scored_ts: pd.Timestamp
) -> pd.DataFrame:
    """One row per component: risk_score, predicted_alert, anomaly_score, model and times."""
    try:
        out = champion.model.predict(latest)
    except ValueError as exc:
        raise ScoringError(f"{champion.name} v{champion.version}: {exc}") from None
    return pd.DataFrame(
        {
            "component_id": latest["component_id"].astype(str).to_numpy(),
            "aircraft_id": latest["aircraft_id"].astype(str).to_numpy(),
            "component_type": champion.component_type,
            "scored_ts": scored_ts,
            "feature_ts": latest["reading_ts"].to_numpy(),
            "risk_score": out["risk_score"].to_numpy(),
            "predicted_alert": out["predicted_alert"].to_numpy(dtype=bool),
            "anomaly_score": out["anomaly_score"].to_numpy(),
            "threshold": champion.model.threshold,
            "horizon_days": champion.model.horizon_days,
            "model_name": champion.name,
            "model_version": champion.version,
        }
    )


def aircraft_rollup(components: pd.DataFrame) -> pd.DataFrame:
    """Per aircraft: worst component by risk, its risk, alert count, highest anomaly score."""
    if components.empty:
        return pd.DataFrame()
    worst = components.sort_values("risk_score", ascending=False).groupby("aircraft_id").head(1)
    counts = components.groupby("aircraft_id").agg(
        predicted_alerts=("predicted_alert", "sum"),
        components_scored=("component_id", "count"),
        max_anomaly_score=("anomaly_score", "max"),
    )
    out = worst.set_index("aircraft_id")[
        ["scored_ts", "risk_score", "component_id", "component_type"]
    ].rename(
        columns={
            "risk_score": "max_risk_score",
            "component_id": "worst_component_id",
            "component_type": "worst_component_type",
        }
    )
    out = out.join(counts).reset_index()
    out["predicted_alerts"] = out["predicted_alerts"].astype("int64")
    out["predicted_alert"] = out["predicted_alerts"] > 0
    return out.sort_values("max_risk_score", ascending=False).reset_index(drop=True)


def registered_types(settings: Settings) -> set[str]:
    """Component types that have a registered risk model (any version, any alias)."""
    from aerotwin.ml.registry import model_name
    from aerotwin.ml.tracking import mlflow_session

    with mlflow_session(settings) as client:
        names = {m.name for m in client.search_registered_models()}
    return {ct for ct in COMPONENT_TYPES if model_name(ct) in names}


def latest_features(lake: Lakehouse, table: str) -> pd.DataFrame:
    """The newest row of each component of a feature table (DuckDB over the Delta files)."""
    from aerotwin.lakehouse.catalog import query

    sql = f"""SELECT * FROM {table}
        QUALIFY row_number() OVER (PARTITION BY component_id ORDER BY reading_ts DESC) = 1"""
    return _pandas(query(lake, sql, [table]))


def recent_features(lake: Lakehouse, table: str, days: int) -> pd.DataFrame:
    """The rows of the last `days` days of a feature table (the drift window)."""
    from aerotwin.lakehouse.catalog import query

    sql = f"""SELECT * FROM {table}
        WHERE reading_ts >= (SELECT max(reading_ts) FROM {table}) - INTERVAL {int(days)} DAYS"""
    return _pandas(query(lake, sql, [table]))


def _pandas(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas()
    frame["reading_ts"] = pd.to_datetime(frame["reading_ts"], utc=True)
    return frame


def score(
    settings: Settings,
    component_types: Iterable[str] | None = None,
    write: bool = True,
) -> ScoringResult:
    """Score every component type that has a feature table; write the result tables.

    Without `component_types`, types that have never had a model registered are skipped
    (listed in `skipped`); named types must all have a champion. Raises ScoringError,
    before writing anything, when there is nothing to score or a champion is missing or
    cannot be loaded.
    """
    from aerotwin.twin.features import feature_table

    lake = Lakehouse.from_settings(settings)
    wanted = list(component_types or COMPONENT_TYPES)
    present = [ct for ct in wanted if lake.exists(feature_table(ct))]
    if not present:
        raise ScoringError("no feature tables to score: run `aerotwin pipeline run` first")
    skipped: list[str] = []
    if component_types is None:
        # Types never trained (too few failures) are skipped; a trained type must score.
        registered = registered_types(settings)
        skipped = [ct for ct in present if ct not in registered]
        present = [ct for ct in present if ct in registered] or present
    run_id = uuid.uuid4().hex
    scored_ts = pd.Timestamp(dt.datetime.now(dt.UTC)).floor("us")
    champions = {ct: load_champion(settings, ct) for ct in present}
    parts, drifts = [], []
    for ct, champion in champions.items():
        latest = latest_features(lake, feature_table(ct))
        if latest.empty:
            continue
        parts.append(score_components(champion, latest, scored_ts))
        recent = recent_features(lake, feature_table(ct), DRIFT_WINDOW_DAYS)
        drift = drift_frame(champion.model.reference, recent)
        drifts.append(
            drift.assign(
                scored_ts=scored_ts,
                component_type=ct,
                model_name=champion.name,
                model_version=champion.version,
            )
        )
    components = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if components.empty:
        raise ScoringError("the feature tables have no rows to score")
    components["run_id"] = run_id
    result = ScoringResult(
        run_id,
        scored_ts,
        components,
        aircraft_rollup(components),
        pd.concat(drifts, ignore_index=True),
        skipped=skipped,
    )
    if write:
        result.versions = write_results(settings, result)
    return result


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)


def write_results(settings: Settings, result: ScoringResult) -> dict[str, int]:
    """Append the run to the alert, prediction and drift tables; fill the twin view's risk."""
    lake = Lakehouse.from_settings(settings)
    comp = result.components
    alert_cols = [
        "component_id",
        "aircraft_id",
        "component_type",
        "scored_ts",
        "feature_ts",
        "risk_score",
        "predicted_alert",
        "anomaly_score",
        "model_name",
        "model_version",
        "run_id",
    ]
    versions = {
        COMPONENT_ALERTS: lake.write(COMPONENT_ALERTS, _arrow(comp[alert_cols]), "append"),
        AIRCRAFT_ALERTS: lake.write(
            AIRCRAFT_ALERTS, _arrow(result.aircraft.assign(run_id=result.run_id)), "append"
        ),
        PREDICTIONS: lake.write(PREDICTIONS, _arrow(comp), "append"),
        FEATURE_DRIFT: lake.write(
            FEATURE_DRIFT, _arrow(result.drift.assign(run_id=result.run_id)), "append"
        ),
    }
    if lake.exists("failures"):
        versions[MODEL_PERFORMANCE] = write_performance(lake)
    if lake.exists(TWIN_VIEW):
        versions[TWIN_VIEW] = fill_twin_view(lake, comp)
    return versions


def write_performance(lake: Lakehouse) -> int:
    """Rebuild model_performance: every matured prediction joined to the failures after it."""
    from aerotwin.ml.monitoring import outcomes, performance_over_time

    predictions = lake.dataset(PREDICTIONS).to_table().to_pandas()
    failures = lake.dataset("failures").to_table(columns=["component_id", "failure_ts"])
    as_of = pd.to_datetime(predictions["feature_ts"], utc=True).max()
    perf = performance_over_time(outcomes(predictions, failures.to_pandas(), as_of))
    return lake.write(MODEL_PERFORMANCE, _arrow(perf), "overwrite")


def fill_twin_view(lake: Lakehouse, components: pd.DataFrame) -> int:
    """Set risk_score, predicted_alert, model_name, model_version of the twin view's rows."""
    table = lake.table(TWIN_VIEW)
    target = pa.schema(table.schema())
    source = _arrow(
        components[["component_id", "risk_score", "predicted_alert", "model_name"]].assign(
            model_version=components["model_version"].astype(str)
        )
    )
    # Match the view's declared types (it may store the version as text or as a number).
    columns = []
    for name in source.column_names:
        column = source.column(name)
        if name in target.names and not pa.types.is_null(target.field(name).type):
            column = column.cast(target.field(name).type)
        columns.append(column)
    source = pa.table(columns, names=source.column_names)
    settable = [c for c in source.column_names if c != "component_id" and c in target.names]
    updates = {c: f"s.{c}" for c in settable}
    (
        table.merge(
            source,
            predicate="t.component_id = s.component_id",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_update(updates=updates)
        .execute()
    )
    return lake.table(TWIN_VIEW).version()
