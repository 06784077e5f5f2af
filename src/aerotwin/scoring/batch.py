"""`aerotwin score`: the champions score the latest features of every component.

Models are loaded by alias (`models:/aerotwin-<type>-risk@champion`) at each run, so a new
champion is used as soon as the alias moves. Everything is computed before anything is
written: a missing or unloadable model stops the run with a clear error and no table changes.
The tables written are declared in `aerotwin.twin.risk_tables` (names, keys, schemas); after
writing them, the pipeline tables that read them (twin views, aircraft summary) are rebuilt
through their declarations by the runner, so a later pipeline run keeps the same risk.
A scoring run is a writer like a pipeline run: it holds the lakehouse's run lock from before
it reads the features until the views are rebuilt.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from aerotwin.config import Settings
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.run_lock import exclusive_run
from aerotwin.ml.drift import drift_frame
from aerotwin.ml.model import RiskModel
from aerotwin.pipeline.definitions import TableDef
from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.twin.risk_tables import (
    AIRCRAFT_SCORES,
    COMPONENT_SCORES,
    FEATURE_DRIFT,
    MODEL_PERFORMANCE,
    PREDICTIONS,
    SCHEMAS,
)

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
    """Load `models:/aerotwin-<type>-risk@champion`; ScoringError naming the model otherwise.

    Only reads: without an MLflow store yet, there is no champion and none is created.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from aerotwin.ml.registry import CHAMPION, model_name
    from aerotwin.ml.tracking import check_model_files, mlflow_session, stores_exist

    name = model_name(component_type)
    uri = f"models:/{name}@{CHAMPION}"
    missing = f"no champion model {uri}: run `aerotwin train` (or `aerotwin models promote`)"
    if not stores_exist(settings):
        raise ScoringError(missing)
    with mlflow_session(settings) as client:
        try:
            version = int(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            raise ScoringError(missing) from None
        try:
            check_model_files(client, name, version)
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


def champion_types(settings: Settings) -> set[str]:
    """Component types whose risk model has a version with alias champion."""
    from aerotwin.ml.registry import CHAMPION, model_name
    from aerotwin.ml.tracking import mlflow_session

    with mlflow_session(settings) as client:
        names = {m.name for m in client.search_registered_models() if CHAMPION in (m.aliases or {})}
    return {ct for ct in COMPONENT_TYPES if model_name(ct) in names}


def no_champion_message(settings: Settings, component_types: Iterable[str]) -> str:
    """Why none of `component_types` can be scored: per type, never trained, or its versions
    (none holding the champion alias) with the newest one's reason and how to promote it."""
    from aerotwin.ml.registry import list_versions, model_name
    from aerotwin.ml.tracking import mlflow_session

    with mlflow_session(settings) as client:
        versions = list_versions(client)  # newest first per model
    lines = ["no component type has a champion model yet, nothing to score:"]
    for ct in component_types:
        mine = [v for v in versions if v.name == model_name(ct)]
        if not mine:
            lines.append(f"  {ct}: never trained; run `aerotwin train --component-type {ct}`")
            continue
        newest = mine[0]
        held = ", ".join(f"v{v.version} {'/'.join(v.aliases) or 'no alias'}" for v in mine)
        why = f" ({newest.reason})" if newest.reason else ""
        lines.append(
            f"  {ct}: no champion among {held}{why}; "
            f"to score with it anyway: `aerotwin models promote {ct} {newest.version}`"
        )
    return "\n".join(lines)


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
    on_wait: Callable[[str], None] | None = None,
) -> ScoringResult:
    """Score every component type that has a feature table; write the result tables.

    Without `component_types`, types without a champion (never trained, or only challengers
    the holdout could not measure) are skipped (listed in `skipped`); when no type has one,
    ScoringError says why for each. Named types must all have a champion. Raises
    ScoringError, before writing anything, when there is nothing to score or a champion is
    missing or cannot be loaded.

    With `write`, the run holds the lakehouse's run lock throughout; another run holding it
    is waited for up to `pipeline.lock_wait_s` seconds (`on_wait` is told once whom for),
    then LakehouseBusy, before anything is read or written.
    """
    if not write:
        return _score(settings, component_types)
    lake = Lakehouse.from_settings(settings)
    wait_s = settings.pipeline.lock_wait_s
    with exclusive_run(lake, "aerotwin score", wait_s, on_wait):
        result = _score(settings, component_types)
        result.versions = write_results(settings, result)
    return result


def _score(settings: Settings, component_types: Iterable[str] | None) -> ScoringResult:
    """The scoring run's result, computed from the lakehouse and the champions; no writes."""
    from aerotwin.twin.features import feature_table

    lake = Lakehouse.from_settings(settings)
    wanted = list(component_types or COMPONENT_TYPES)
    present = [ct for ct in wanted if lake.exists(feature_table(ct))]
    if not present:
        raise ScoringError("no feature tables to score: run `aerotwin pipeline run` first")
    skipped: list[str] = []
    if component_types is None:
        # Types with no champion (too few failures to train or to measure) are skipped.
        have_champion = champion_types(settings)
        skipped = [ct for ct in present if ct not in have_champion]
        present = [ct for ct in present if ct in have_champion]
        if not present:
            raise ScoringError(no_champion_message(settings, skipped))
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
    return ScoringResult(
        run_id,
        scored_ts,
        components,
        aircraft_rollup(components),
        pd.concat(drifts, ignore_index=True),
        skipped=skipped,
    )


def _arrow(frame: pd.DataFrame, name: str) -> pa.Table:
    """`frame` as table `name`'s declared schema (its columns, in order, cast)."""
    schema = SCHEMAS[name]
    missing = [c for c in schema.names if c not in frame.columns]
    if missing:
        raise ScoringError(f"table {name}: column(s) {', '.join(missing)} missing from the result")
    data = frame[schema.names].reset_index(drop=True)
    return pa.Table.from_pandas(data, schema=schema, preserve_index=False)


def write_results(settings: Settings, result: ScoringResult) -> dict[str, int]:
    """Append the run to the score tables, rebuild model_performance, refresh the twin views.

    The caller holds the lakehouse's run lock (`exclusive_run`). Returns the new version of
    every table written, views included.
    """
    lake = Lakehouse.from_settings(settings)
    views = score_readers(settings)  # declarations first: a bad rules file stops before writing
    run = {"run_id": result.run_id}
    rows = {
        COMPONENT_SCORES: _arrow(result.components, COMPONENT_SCORES),
        AIRCRAFT_SCORES: _arrow(result.aircraft.assign(**run), AIRCRAFT_SCORES),
        PREDICTIONS: _arrow(result.components, PREDICTIONS),
        FEATURE_DRIFT: _arrow(result.drift.assign(**run), FEATURE_DRIFT),
    }
    versions = {name: lake.write(name, data, "append") for name, data in rows.items()}
    if lake.exists("failures"):
        versions[MODEL_PERFORMANCE] = write_performance(lake)
    versions.update(refresh_views(settings, views))
    return versions


def score_readers(settings: Settings) -> list[TableDef]:
    """The declared pipeline tables that read the score tables, directly or not, in order."""
    from aerotwin.twin.gold import pipeline_tables

    reached = set(SCHEMAS)
    readers = []
    for table in pipeline_tables(settings):  # dependency order: inputs come first
        if reached.intersection(table.inputs):
            reached.add(table.name)
            readers.append(table)
    return readers


def refresh_views(settings: Settings, tables: list[TableDef]) -> dict[str, int]:
    """Run `tables` (the score readers) through the pipeline runner, under the run lock the
    caller holds; their new versions.

    A table whose other inputs do not exist yet (no pipeline run so far) is left alone.
    """
    from aerotwin.pipeline.runner import run_pipeline

    result = run_pipeline(settings, tables=tables, lock_held=True)
    return {t.table_name: t.table_version for t in result.changed if t.table_version is not None}


def write_performance(lake: Lakehouse) -> int:
    """Rebuild model_performance: every matured prediction joined to the failures after it
    (those whose horizon holds a repair that prevented a failure are left out)."""
    from aerotwin.ml.labels import interventions
    from aerotwin.ml.monitoring import outcomes, performance_over_time

    predictions = lake.read(PREDICTIONS).to_pandas()
    failures = lake.read("failures", ["component_id", "failure_ts"])
    fixes = None
    if lake.exists("maintenance_events"):
        columns = ["component_id", "event_ts", "event_type", "trigger"]
        events = lake.read("maintenance_events", columns).to_pandas()
        fixes = interventions(events)
    as_of = pd.to_datetime(predictions["feature_ts"], utc=True).max()
    perf = performance_over_time(outcomes(predictions, failures.to_pandas(), as_of, fixes))
    return lake.write(MODEL_PERFORMANCE, _arrow(perf, MODEL_PERFORMANCE), "overwrite")
