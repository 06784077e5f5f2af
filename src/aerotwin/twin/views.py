"""The digital twin views: latest state per engine, per component, and per aircraft.

Engine-neutral DuckDB SQL over the gold feature and health tables. "Latest" is a
row_number() window (not QUALIFY or ASOF), which both engines run identically. Risk comes
from the latest scoring run of each component (`anomaly_alerts_component`, written by
`aerotwin score`), so rebuilding a view keeps it; NULL until a component is scored.
"""

from __future__ import annotations

from aerotwin.schemas import COMPONENT_TYPES, SENSORS
from aerotwin.twin.features import feature_columns, feature_table
from aerotwin.twin.health import health_table
from aerotwin.twin.risk_tables import COMPONENT_SCORES

ENGINE_VIEW = "digital_twin_engine_view"
COMPONENT_VIEW = "digital_twin_component_view"
SUMMARY = "aircraft_status_summary"
HEALTH_OUT = ("component_health_status", "health_level", "rules_fired", "rule_values")
RISK_OUT = (
    "risk_score",
    "predicted_alert",
    "anomaly_score",
    "model_name",
    "model_version",
    "risk_scored_ts",
    "risk_feature_ts",
)


def all_sensors() -> tuple[str, ...]:
    """Every sensor of every component type (names are unique across types)."""
    return tuple(s.name for ct in COMPONENT_TYPES for s in SENSORS[ct])


def _latest(component_type: str) -> str:
    """SQL: the latest feature row of each component of a type, with its health."""
    health = ", ".join(f"h.{c}" for c in (*HEALTH_OUT, "rules_version"))
    return f"""SELECT * FROM (
  SELECT f.*, {health},
         row_number() OVER (PARTITION BY f.component_id ORDER BY f.reading_ts DESC) AS __rn
  FROM {feature_table(component_type)} AS f
  LEFT JOIN {health_table(component_type)} AS h
    ON h.component_id = f.component_id AND h.reading_ts = f.reading_ts
) AS x WHERE __rn = 1"""


def latest_scores_sql() -> str:
    """SQL: each component's score from its latest scoring run (risk, alert, anomaly, model)."""
    return f"""SELECT component_id, risk_score, predicted_alert, anomaly_score, model_name,
       model_version, scored_ts AS risk_scored_ts, feature_ts AS risk_feature_ts
FROM (
  SELECT s.*, row_number() OVER (
           PARTITION BY s.component_id ORDER BY s.scored_ts DESC, s.run_id DESC) AS __rn
  FROM {COMPONENT_SCORES} AS s
) AS s WHERE __rn = 1"""


def installed_sql() -> str:
    """SQL: each replaced component's serial and install date, from its latest replacement."""
    # The simulator's reference keeps the first part's serial; a replacement installs a new one.
    return """SELECT component_id, new_serial, event_date AS installed_date
FROM (
  SELECT m.component_id, m.new_serial, m.event_date,
         row_number() OVER (
           PARTITION BY m.component_id ORDER BY m.event_ts DESC, m.event_id DESC) AS __rn
  FROM maintenance_events AS m WHERE m.event_type = 'replacement'
) AS p WHERE __rn = 1"""


# The installed part: the latest replacement's, unless the reference's part is as new or
# newer (a reference exported after the replacements on record, which names what they fitted).
REFERENCE_PART = (
    "p.component_id IS NULL OR p.new_serial = c.serial OR p.installed_date < c.install_date"
)
SERIAL = f"CASE WHEN {REFERENCE_PART} THEN c.serial ELSE p.new_serial END AS serial"
INSTALL_DATE = (
    f"CASE WHEN {REFERENCE_PART} THEN c.install_date ELSE p.installed_date END AS install_date"
)


def engine_view_inputs() -> tuple[str, ...]:
    """Tables the engine view reads."""
    engine = (feature_table("engine"), health_table("engine"))
    return (*engine, COMPONENT_SCORES, "components", "aircraft", "maintenance_events")


def engine_view_sql() -> str:
    """Latest state per engine: readings, rolling features, usage, health, fuel efficiency, risk."""
    return f"""WITH latest AS ({_latest("engine")}),
risk AS ({latest_scores_sql()}),
p AS ({installed_sql()})
SELECT c.component_id, c.aircraft_id, a.model, c.position, {SERIAL},
       l.reading_ts AS last_reading_ts,
       {", ".join(f"l.{c}" for c in _engine_columns())},
       {", ".join(f"l.{c}" for c in (*HEALTH_OUT, "rules_version"))},
       {", ".join(f"r.{c}" for c in RISK_OUT)}
FROM components AS c
JOIN aircraft AS a ON a.aircraft_id = c.aircraft_id
LEFT JOIN latest AS l ON l.component_id = c.component_id
LEFT JOIN risk AS r ON r.component_id = c.component_id
LEFT JOIN p ON p.component_id = c.component_id
WHERE c.component_type = 'engine'"""


def _engine_columns() -> tuple[str, ...]:
    skip = {"component_id", "aircraft_id", "component_type", "reading_ts"}
    return tuple(c for c in feature_columns("engine") if c not in skip)


def component_view_inputs() -> tuple[str, ...]:
    """Tables the component view reads."""
    tables = [t for ct in COMPONENT_TYPES for t in (feature_table(ct), health_table(ct))]
    return (*tables, COMPONENT_SCORES, "components", "aircraft", "maintenance_events")


def component_view_sql() -> str:
    """Every component of every aircraft: latest readings (wide), health, age, latest risk."""
    sensors = all_sensors()
    parts = []
    for ct in COMPONENT_TYPES:
        own = {s.name for s in SENSORS[ct]}
        cols = [
            f"CAST({s} AS DOUBLE) AS {s}" if s in own else f"CAST(NULL AS DOUBLE) AS {s}"
            for s in sensors
        ]
        usage = ("component_age_hours", "cycles_since_maint", "days_since_maint")
        parts.append(
            f"SELECT component_id, reading_ts, {', '.join(cols)}, "
            f"{', '.join((*usage, *HEALTH_OUT, 'rules_version'))} FROM ({_latest(ct)}) AS l_{ct}"
        )
    union = "\nUNION ALL\n".join(parts)
    return f"""WITH latest AS (
{union}
),
risk AS ({latest_scores_sql()}),
p AS ({installed_sql()})
SELECT c.component_id, c.aircraft_id, a.model AS aircraft_model, c.component_type, c.position,
       {SERIAL}, {INSTALL_DATE}, l.reading_ts AS last_reading_ts,
       {", ".join(f"l.{s}" for s in sensors)},
       {", ".join(f"l.{c}" for c in HEALTH_OUT)}, l.rules_version,
       coalesce(l.component_age_hours, c.hours_since_new) AS component_age_hours,
       l.cycles_since_maint, l.days_since_maint,
       {", ".join(f"r.{c}" for c in RISK_OUT)}
FROM components AS c
JOIN aircraft AS a ON a.aircraft_id = c.aircraft_id
LEFT JOIN latest AS l ON l.component_id = c.component_id
LEFT JOIN risk AS r ON r.component_id = c.component_id
LEFT JOIN p ON p.component_id = c.component_id"""


def summary_inputs() -> tuple[str, ...]:
    """Tables the aircraft summary reads."""
    return ("aircraft", COMPONENT_VIEW, "maintenance_events")


def summary_sql() -> str:
    """One row per aircraft: engine health, alerts, last maintenance, worst component, risk.

    max_risk_score and predicted_alert_count are NULL until a component of it is scored.
    """
    names = "CASE {x} WHEN 2 THEN 'Critical' WHEN 1 THEN 'Warning' WHEN 0 THEN 'Nominal' END"
    return f"""WITH v AS (
  SELECT v.*, coalesce(v.health_level, -1) AS lvl FROM {COMPONENT_VIEW} AS v
),
worst AS (
  SELECT * FROM (
    SELECT aircraft_id, component_id, component_type, component_health_status, rules_fired,
           row_number() OVER (PARTITION BY aircraft_id
             ORDER BY lvl DESC, coalesce(risk_score, -1) DESC, component_id) AS __rn
    FROM v
  ) AS w WHERE __rn = 1
),
agg AS (
  SELECT aircraft_id,
         max(CASE WHEN component_type = 'engine' THEN health_level END) AS engine_level,
         max(health_level) AS aircraft_level,
         sum(CASE WHEN health_level >= 1 THEN 1 ELSE 0 END) AS alert_count,
         sum(CASE WHEN health_level = 2 THEN 1 ELSE 0 END) AS critical_count,
         sum(CASE WHEN health_level = 1 THEN 1 ELSE 0 END) AS warning_count,
         count(*) AS component_count,
         max(risk_score) AS max_risk_score,
         sum(CASE WHEN predicted_alert THEN 1 WHEN predicted_alert IS NOT NULL THEN 0 END)
           AS predicted_alerts
  FROM v GROUP BY aircraft_id
),
maint AS (
  SELECT aircraft_id, max(event_date) AS last_maintenance_date
  FROM maintenance_events GROUP BY aircraft_id
)
SELECT a.aircraft_id, a.model, a.base_airport_code,
       {names.format(x="g.engine_level")} AS engine_health_status,
       {names.format(x="g.aircraft_level")} AS aircraft_health_status,
       CAST(coalesce(g.alert_count, 0) AS BIGINT) AS alert_count,
       CAST(coalesce(g.critical_count, 0) AS BIGINT) AS critical_count,
       CAST(coalesce(g.warning_count, 0) AS BIGINT) AS warning_count,
       CAST(coalesce(g.component_count, 0) AS BIGINT) AS component_count,
       m.last_maintenance_date,
       w.component_id AS worst_component_id, w.component_type AS worst_component_type,
       w.component_health_status AS worst_component_status,
       w.rules_fired AS worst_component_rules,
       g.max_risk_score,
       CAST(g.predicted_alerts AS BIGINT) AS predicted_alert_count
FROM aircraft AS a
LEFT JOIN agg AS g ON g.aircraft_id = a.aircraft_id
LEFT JOIN worst AS w ON w.aircraft_id = a.aircraft_id
LEFT JOIN maint AS m ON m.aircraft_id = a.aircraft_id"""
