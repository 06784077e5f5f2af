"""The risk tables `aerotwin score` writes, declared so the pipeline and the catalog know them.

Scoring runs the champion models in Python, not SQL, so these are external tables: the runner
never computes them, and creates each empty with its schema when it is missing, so the twin
views can always join the latest scores. Scoring writes exactly these schemas. Listed in
`aerotwin.pipeline.registry.PIPELINE_MODULES`; no scoring or ML code is imported here.
"""

from __future__ import annotations

import pyarrow as pa

from aerotwin.pipeline.definitions import External, TableDef

COMPONENT_SCORES = "anomaly_alerts_component"
AIRCRAFT_SCORES = "anomaly_alerts"
PREDICTIONS = "predictions"
FEATURE_DRIFT = "feature_drift"
MODEL_PERFORMANCE = "model_performance"
WRITER = "aerotwin score"

_TS = pa.timestamp("us", tz="UTC")
_SCORE = [
    ("component_id", pa.string()),
    ("aircraft_id", pa.string()),
    ("component_type", pa.string()),
    ("scored_ts", _TS),
    ("feature_ts", _TS),
    ("risk_score", pa.float64()),
    ("predicted_alert", pa.bool_()),
    ("anomaly_score", pa.float64()),
]
_MODEL = [("model_name", pa.string()), ("model_version", pa.int64())]
_RUN = [("run_id", pa.string())]

SCHEMAS: dict[str, pa.Schema] = {
    COMPONENT_SCORES: pa.schema([*_SCORE, *_MODEL, *_RUN]),
    AIRCRAFT_SCORES: pa.schema(
        [
            ("aircraft_id", pa.string()),
            ("scored_ts", _TS),
            ("max_risk_score", pa.float64()),
            ("worst_component_id", pa.string()),
            ("worst_component_type", pa.string()),
            ("predicted_alerts", pa.int64()),
            ("components_scored", pa.int64()),
            ("max_anomaly_score", pa.float64()),
            ("predicted_alert", pa.bool_()),
            *_RUN,
        ]
    ),
    PREDICTIONS: pa.schema(
        [*_SCORE, ("threshold", pa.float64()), ("horizon_days", pa.int64()), *_MODEL, *_RUN]
    ),
    FEATURE_DRIFT: pa.schema(
        [
            ("feature", pa.string()),
            ("psi", pa.float64()),
            ("out_of_range_share", pa.float64()),
            ("rows", pa.int64()),
            ("scored_ts", _TS),
            ("component_type", pa.string()),
            *_MODEL,
            *_RUN,
        ]
    ),
    MODEL_PERFORMANCE: pa.schema(
        [
            ("component_type", pa.string()),
            ("model_version", pa.int64()),
            ("period_start", _TS),
            ("predictions", pa.int64()),
            ("tp", pa.int64()),
            ("fp", pa.int64()),
            ("fn", pa.int64()),
            ("tn", pa.int64()),
            ("precision", pa.float64()),
            ("recall", pa.float64()),
            ("f1", pa.float64()),
        ]
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    COMPONENT_SCORES: ("component_id", "scored_ts"),
    AIRCRAFT_SCORES: ("aircraft_id", "scored_ts"),
    PREDICTIONS: ("component_id", "scored_ts"),
    FEATURE_DRIFT: ("component_type", "feature", "scored_ts"),
    MODEL_PERFORMANCE: ("component_type", "model_version", "period_start"),
}

DESCRIPTIONS = {
    COMPONENT_SCORES: "per component and scoring run: risk, predicted alert, anomaly, model",
    AIRCRAFT_SCORES: "per aircraft and scoring run: highest risk, worst component, alert count",
    PREDICTIONS: "every prediction with threshold and horizon, later joined to failures",
    FEATURE_DRIFT: "per scoring run and feature: PSI and out-of-training-range share",
    MODEL_PERFORMANCE: "matured predictions, each once however many runs scored it: "
    "confusion counts and metrics per model and week",
}


def tables() -> list[TableDef]:
    """The risk tables as external gold tables: keys and schemas, written by scoring."""
    return [
        TableDef(
            name=name,
            layer="gold",
            external=External(WRITER, schema),
            keys=KEYS[name],
            description=f"{DESCRIPTIONS[name]}; written by `{WRITER}`",
        )
        for name, schema in SCHEMAS.items()
    ]
