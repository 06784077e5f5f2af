"""The gold layer's declarations: feature tables, health tables and twin views.

Listed in `aerotwin.pipeline.registry.PIPELINE_MODULES`, so `aerotwin pipeline run` builds
them after silver, on DuckDB or Spark, from the same SQL. Health SQL is generated from the
rules file: `tables()` uses the bundled rules; `pipeline_tables(settings)` swaps in the rules
named by `settings.twin.rules_file`.

Incremental: feature and health tables are merged on (component_id, reading_ts); a run
recomputes only the components that a new row of any feature input reaches (telemetry,
flights, weather, maintenance events, the components reference; late rows included), from
the earliest reading it can change on, with 30 days of history before it
(`features.changed_sql`). So any sequence of incremental runs gives a full rebuild's rows.
"""

from __future__ import annotations

from typing import Any

from aerotwin.pipeline.definitions import Expectation, TableDef
from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.twin import views
from aerotwin.twin.features import (
    SCOPE_INPUTS,
    bronze_table,
    changed_inputs,
    feature_inputs,
    feature_table,
    features_sql,
)
from aerotwin.twin.health import health_sql, health_table
from aerotwin.twin.rules import RuleSet, load_rules

KEYS = ("component_id", "reading_ts")


def feature_tables() -> list[TableDef]:
    """One feature table per component type: a row per reading, point-in-time features."""
    return [
        TableDef(
            name=feature_table(ct),
            layer="gold",
            inputs=tuple(dict.fromkeys((*changed_inputs(ct), *feature_inputs(ct)))),
            sql=features_sql(ct, incremental=True),
            mode="merge",
            incremental_input=bronze_table(ct),
            scope_inputs=SCOPE_INPUTS,
            expectations=(Expectation("age_known", "component_age_hours IS NOT NULL", "warn"),),
            keys=KEYS,
            description=f"{ct} features per reading: 7/30-day means, deviations, trends, usage",
        )
        for ct in COMPONENT_TYPES
    ]


def health_tables(rules: RuleSet) -> list[TableDef]:
    """One health table per component type, from the rules file."""
    return [
        TableDef(
            name=health_table(ct),
            layer="gold",
            # The features' scope: health changes where the features do.
            inputs=(*changed_inputs(ct), feature_table(ct)),
            sql=health_sql(ct, rules, incremental=True),
            mode="merge",
            incremental_input=bronze_table(ct),
            scope_inputs=SCOPE_INPUTS,
            expectations=(
                Expectation(
                    "status_known",
                    "component_health_status IN ('Nominal', 'Warning', 'Critical')",
                    "fail",
                ),
            ),
            keys=KEYS,
            description=f"{ct} health per reading (rules {rules.version}): status, rules fired",
            tags=(f"rules_version={rules.version}",),
        )
        for ct in COMPONENT_TYPES
    ]


def view_tables() -> list[TableDef]:
    """The digital twin views and the aircraft summary."""
    return [
        TableDef(
            name=views.ENGINE_VIEW,
            layer="gold",
            inputs=views.engine_view_inputs(),
            sql=views.engine_view_sql(),
            keys=("component_id",),
            description="latest state per engine, fuel efficiency included",
        ),
        TableDef(
            name=views.COMPONENT_VIEW,
            layer="gold",
            inputs=views.component_view_inputs(),
            sql=views.component_view_sql(),
            keys=("component_id",),
            description="every component: latest readings, health, age, risk (from scoring)",
        ),
        TableDef(
            name=views.SUMMARY,
            layer="gold",
            inputs=views.summary_inputs(),
            sql=views.summary_sql(),
            keys=("aircraft_id",),
            description="per aircraft: engine health, alerts, last maintenance, worst component",
        ),
    ]


def tables(rules: RuleSet | None = None) -> list[TableDef]:
    """Every gold table of the twin (bundled rules unless `rules` is given)."""
    ruleset = rules or load_rules()
    return [*feature_tables(), *health_tables(ruleset), *view_tables()]


def pipeline_tables(settings: Any) -> list[TableDef]:
    """Every declared pipeline table, with health SQL from `settings.twin.rules_file`."""
    from aerotwin.pipeline.registry import load_tables, ordered

    custom = {t.name: t for t in health_tables(load_rules(settings))}
    return ordered([custom.get(t.name, t) for t in load_tables()])
