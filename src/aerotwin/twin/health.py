"""Component health: Nominal / Warning / Critical per reading, generated from the rules file.

The SQL (DuckDB dialect, engine-neutral) reads a feature table, so a rule may watch a raw
sensor or a rolling feature. Per rule, each reading gets a level (0, 1, 2; thresholds
inclusive). The duration guard: a level counts only once it has held for the rule's
`min_duration` (consecutive readings at that level or worse, and/or hours since the first of
them); until then the status stays at the level below that has held long enough. The status
is the worst guarded level over the rules; `rules_fired` and `rule_values` say which and why.
"""

from __future__ import annotations

from aerotwin.lakehouse.sql_text import number_text, text_literal
from aerotwin.twin.features import HISTORY, changed_sql, feature_table
from aerotwin.twin.rules import STATUSES, Rule, RuleSet

HEALTH_TABLES = {
    "engine": "component_health_engine",
    "landing_gear": "component_health_landing_gear",
    "avionics": "component_health_avionics",
    "cabin_pressurization": "component_health_cabin",
    "airframe": "component_health_airframe",
}
HEALTH_COLUMNS = (
    "component_id",
    "aircraft_id",
    "component_type",
    "reading_ts",
    "component_health_status",
    "health_level",
    "rules_fired",
    "rule_values",
    "fired_rule_count",
    "rules_version",
)


def health_table(component_type: str) -> str:
    """Name of the gold health table of one component type."""
    return HEALTH_TABLES[component_type]


def _level(rule: Rule) -> str:
    op = ">=" if rule.direction == "above" else "<="
    return (
        f"CASE WHEN {rule.column} {op} {rule.critical!r} THEN 2 "
        f"WHEN {rule.column} {op} {rule.warning!r} THEN 1 ELSE 0 END"
    )


def _held(i: int, level: int, rule: Rule) -> str:
    """SQL: the run of readings at `level` or worse has lasted long enough."""
    readings = f"__rn - __run{level}_rn_{i} + 1 >= {rule.min_readings}"
    if rule.min_hours <= 0:
        return readings
    hours = f"(epoch(reading_ts) - epoch(__run{level}_ts_{i})) / CAST(3600 AS DOUBLE)"
    hours += f" >= {rule.min_hours!r}"
    return f"{readings} AND {hours}"


def health_sql(
    component_type: str, rules: RuleSet, source: str | None = None, incremental: bool = False
) -> str:
    """DuckDB SQL of one health table over the feature table `source` (default: gold's).

    incremental: only the components whose features this run may change
    (`features.changed_sql`), rows from the earliest that may on; the duration guard looks
    back `HISTORY` before it (so a guard may span up to that long).
    """
    table = source or feature_table(component_type)
    typed = rules.for_type(component_type)
    part = "PARTITION BY component_id ORDER BY reading_ts"
    cumulative = f"OVER ({part} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    columns = sorted({r.column for r in typed})
    levels = [f"{_level(r)} AS __lvl_{i}" for i, r in enumerate(typed)]
    prev = [f"lag(__lvl_{i}) OVER ({part}) AS __prev_{i}" for i in range(len(typed))]
    starts, runs, guarded = [], [], []
    for i, rule in enumerate(typed):
        for lv in (1, 2):
            begins = f"__lvl_{i} >= {lv} AND coalesce(__prev_{i}, -1) < {lv}"
            starts += [
                f"CASE WHEN {begins} THEN __rn END AS __start{lv}_rn_{i}",
                f"CASE WHEN {begins} THEN reading_ts END AS __start{lv}_ts_{i}",
            ]
            runs += [
                f"max(__start{lv}_rn_{i}) {cumulative} AS __run{lv}_rn_{i}",
                f"max(__start{lv}_ts_{i}) {cumulative} AS __run{lv}_ts_{i}",
            ]
        guarded.append(
            f"CASE WHEN __lvl_{i} >= 2 AND {_held(i, 2, rule)} THEN 2 "
            f"WHEN __lvl_{i} >= 1 AND {_held(i, 1, rule)} THEN 1 ELSE 0 END AS __g_{i}"
        )
    n = len(typed)
    level = f"greatest({', '.join(f'__g_{i}' for i in range(n))})" if n > 1 else "__g_0"
    if n == 0:
        level = "0"
    fired = [f"CASE WHEN __g_{i} > 0 THEN {text_literal(r.id)} END" for i, r in enumerate(typed)]
    values = [
        f"CASE WHEN __g_{i} > 0 THEN concat({text_literal(r.id + ' ')}, "
        f"CASE WHEN __g_{i} = 2 THEN 'Critical' ELSE 'Warning' END, "
        f"{text_literal(': ' + r.column + '=')}, {number_text(r.column)}) END"
        for i, r in enumerate(typed)
    ]
    count = " + ".join(f"CASE WHEN __g_{i} > 0 THEN 1 ELSE 0 END" for i in range(n)) or "0"
    keys = "component_id, aircraft_id, reading_ts"
    select_cols = ", ".join([keys, *columns])
    status = f"CASE {level} WHEN 2 THEN '{STATUSES[2]}' WHEN 1 THEN '{STATUSES[1]}' ELSE '{STATUSES[0]}' END"  # noqa: E501
    fired_sql = f"nullif(concat_ws(',', {', '.join(fired)}), '')" if n else "CAST(NULL AS VARCHAR)"
    values_sql = (
        f"nullif(concat_ws('; ', {', '.join(values)}), '')" if n else "CAST(NULL AS VARCHAR)"
    )
    scope, since = "", ""
    if incremental:
        scope = (
            f"JOIN changed AS ch ON ch.component_id = x.component_id "
            f"WHERE ch.since IS NULL OR x.reading_ts >= ch.since - {HISTORY}"
        )
        since = "\nWHERE __since IS NULL OR reading_ts >= __since"
    base = ", ".join(f"x.{c}" for c in select_cols.split(", "))
    steps = [
        *([f"changed AS ({changed_sql(component_type)})"] if incremental else []),
        f"f AS (SELECT {base}, {'ch.since' if incremental else 'NULL'} AS __since, "
        "row_number() OVER (PARTITION BY x.component_id ORDER BY x.reading_ts) AS __rn "
        f"FROM {table} AS x {scope})",
        f"l AS (SELECT f.*{''.join(', ' + x for x in levels)} FROM f)",
        f"p AS (SELECT l.*{''.join(', ' + x for x in prev)} FROM l)",
        f"s AS (SELECT p.*{''.join(', ' + x for x in starts)} FROM p)",
        f"r AS (SELECT s.*{''.join(', ' + x for x in runs)} FROM s)",
        f"g AS (SELECT r.*{''.join(', ' + x for x in guarded)} FROM r)",
    ]
    ctes = ",\n".join(steps)
    return f"""WITH {ctes}
SELECT component_id, aircraft_id, '{component_type}' AS component_type, reading_ts,
       {status} AS component_health_status,
       CAST({level} AS INTEGER) AS health_level,
       {fired_sql} AS rules_fired,
       {values_sql} AS rule_values,
       CAST({count} AS INTEGER) AS fired_rule_count,
       {text_literal(rules.version)} AS rules_version
FROM g{since}"""
