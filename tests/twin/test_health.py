"""Health SQL on hand-built feature rows: thresholds, the duration guard, rules-file edits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pytest

from aerotwin.lakehouse.duckdb_engine import connect_utc
from aerotwin.lakehouse.sql_text import number_text
from aerotwin.twin.health import health_sql
from aerotwin.twin.rules import Rule, RuleSet, load_rules, parse_rules

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
BUNDLED = load_rules()
# A value and its text in `rule_values`, the same on both engines (tests/twin/test_spark.py):
# Spark wrote 1.0E-4 and 1.2345678E7, rounded the decimal text (.1235) and never gave -0.0.
NUMBER_TEXTS = {
    671.23456: "671.2346",
    29.0: "29.0",
    0.93: "0.93",
    12345678.0: "12345678.0",
    0.000123456: "0.0001",
    0.00025: "0.0003",
    -1e-05: "0.0",
    123456789.12345: "123456789.1235",
}


def features(
    rules: Sequence[Rule],
    column: str,
    values: Sequence[float],
    step_hours: float = 1.0,
    component_id: str = "C-1",
) -> pa.Table:
    """One component's feature rows: `column` takes `values`, other rule columns are NULL."""
    n = len(values)
    data: dict[str, pa.Array] = {
        "component_id": pa.array([component_id] * n),
        "aircraft_id": pa.array(["A-1"] * n),
        "reading_ts": pa.array(
            [T0 + dt.timedelta(hours=i * step_hours) for i in range(n)], pa.timestamp("us", "UTC")
        ),
    }
    for name in sorted({r.column for r in rules}):
        data[name] = pa.array(values if name == column else [None] * n, pa.float64())
    return pa.table(data)


def statuses(component_type: str, rules: RuleSet, table: pa.Table) -> list[dict]:
    con = connect_utc()
    con.execute("SET threads = 1")  # tiny inputs: thread start-up costs more than it saves
    con.register("feat", table)
    sql = health_sql(component_type, rules, source="feat") + " ORDER BY reading_ts"
    return con.sql(sql).to_arrow_table().to_pylist()


def nudge(rule: Rule, threshold: float) -> float:
    """A value just on the safe side of `threshold`."""
    eps = max(abs(threshold) * 1e-6, 1e-9)
    return threshold - eps if rule.direction == "above" else threshold + eps


@pytest.mark.parametrize("rule", BUNDLED.rules, ids=lambda r: r.id)
def test_each_rule_fires_at_its_threshold_and_not_just_below(rule: Rule) -> None:
    typed = BUNDLED.for_type(rule.component_type)
    cases = [
        (rule.critical, "Critical"),
        (nudge(rule, rule.critical), "Warning"),
        (rule.warning, "Warning"),
        (nudge(rule, rule.warning), "Nominal"),
    ]
    # One component per case, each held for the rule's minimum duration; one query.
    table = pa.concat_tables(
        features(typed, rule.column, [value] * rule.min_readings, component_id=f"C-{i}")
        for i, (value, _) in enumerate(cases)
    )
    rows = statuses(rule.component_type, BUNDLED, table)
    last = {r["component_id"]: r for r in rows}  # rows are in time order
    for i, (value, expected) in enumerate(cases):
        got = last[f"C-{i}"]
        assert got["component_health_status"] == expected, (rule.id, value)
        assert got["rules_version"] == BUNDLED.version
        if expected == "Nominal":
            assert got["rules_fired"] is None and got["fired_rule_count"] == 0
        else:
            assert got["rules_fired"] == rule.id
            assert got["rule_values"].startswith(f"{rule.id} {expected}: {rule.column}=")


GUARDED = """version: "g1"
engine:
  - id: egt_high
    sensor: egt_c
    direction: above
    warning: 600
    critical: 650
    unit: "°C"
    min_duration: {readings: 3}
    source: test
  - id: oil_low
    sensor: oil_pressure_psi
    direction: below
    warning: 40
    critical: 30
    unit: "psi"
    min_duration: {hours: 2}
    source: test
"""


def test_duration_guard_stops_a_noisy_reading_from_flapping_the_status() -> None:
    rules = parse_rules(GUARDED)
    egt = [500, 700, 500, 700, 500, 610, 620, 700, 700, 700, 500]
    got = [
        r["component_health_status"]
        for r in statuses("engine", rules, features(rules.rules, "egt_c", egt))
    ]
    assert got == [
        "Nominal", "Nominal", "Nominal", "Nominal", "Nominal",  # isolated spikes: no flap
        "Nominal", "Nominal", "Warning",  # third reading at Warning or worse
        "Warning", "Critical",  # third consecutive Critical
        "Nominal",  # back to normal at once
    ]  # fmt: skip


def test_duration_guard_in_hours() -> None:
    rules = parse_rules(GUARDED)
    oil = [35, 35, 35, 35, 25, 25]
    table = features(rules.rules, "oil_pressure_psi", oil, step_hours=1.0)
    got = [r["component_health_status"] for r in statuses("engine", rules, table)]
    # Warning once 35 psi has lasted 2 h; Critical would need 2 h at 25 psi.
    assert got == ["Nominal", "Nominal", "Warning", "Warning", "Warning", "Warning"]
    slow = features(rules.rules, "oil_pressure_psi", [25, 25], step_hours=2.0)
    assert [r["health_level"] for r in statuses("engine", rules, slow)] == [0, 2]


def test_worst_rule_wins_and_every_fired_rule_is_listed() -> None:
    rules = parse_rules(GUARDED.replace("{hours: 2}", "{readings: 1}"))
    table = features(rules.rules, "egt_c", [610, 610, 660])
    table = table.set_column(
        table.schema.get_field_index("oil_pressure_psi"),
        "oil_pressure_psi",
        pa.array([50.0, 39.0, 29.0]),
    )
    rows = statuses("engine", rules, table)
    assert [r["component_health_status"] for r in rows] == ["Nominal", "Warning", "Critical"]
    assert rows[2]["rules_fired"] == "egt_high,oil_low"
    assert rows[2]["fired_rule_count"] == 2
    assert "oil_low Critical: oil_pressure_psi=29.0" in rows[2]["rule_values"]


def test_rule_values_show_a_value_rounded_to_4_places_as_on_spark() -> None:
    values = ", ".join(f"(CAST({v!r} AS DOUBLE))" for v in NUMBER_TEXTS)
    sql = f"SELECT x, {number_text('x')} FROM (VALUES {values}) AS v(x)"
    assert dict(duckdb.sql(sql).fetchall()) == NUMBER_TEXTS


def test_editing_the_rules_changes_the_statuses() -> None:
    before = parse_rules(GUARDED)
    after = parse_rules(GUARDED.replace("warning: 600", "warning: 560").replace('"g1"', '"g2"'))
    table = features(before.rules, "egt_c", [580, 580, 580])
    old = statuses("engine", before, table)[-1]
    new = statuses("engine", after, table)[-1]
    assert (old["component_health_status"], old["rules_version"]) == ("Nominal", "g1")
    assert (new["component_health_status"], new["rules_version"]) == ("Warning", "g2")
