"""The rules file: the bundled one is valid; an invalid one is rejected with its line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from aerotwin.config import Settings, with_section
from aerotwin.schemas import COMPONENT_TYPES, SENSORS
from aerotwin.twin.rules import RulesError, bundled_rules_path, load_rules, parse_rules

GOOD = """version: "t1"
engine:
  - id: egt_high
    sensor: egt_c
    direction: above
    warning: 600
    critical: 650
    unit: "°C"
    min_duration: {readings: 3}
    source: test
"""


def test_bundled_rules_cover_every_component_type_with_sources() -> None:
    rules = load_rules()
    assert rules.version
    assert {r.component_type for r in rules.rules} == set(COMPONENT_TYPES)
    for rule in rules.rules:
        assert rule.sensor in {s.name for s in SENSORS[rule.component_type]}
        assert rule.source.strip()


def test_a_valid_rule_is_read_with_its_fields() -> None:
    (rule,) = parse_rules(GOOD).rules
    assert (rule.column, rule.direction, rule.warning, rule.critical) == (
        "egt_c",
        "above",
        600,
        650,
    )
    assert (rule.min_readings, rule.min_hours, rule.unit) == (3, 0.0, "°C")


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        ("sensor: egt_c", "sensor: egt_f", 4, "unknown engine sensor 'egt_f'"),
        ("critical: 650", "critical: 550", 7, "direction above needs critical > warning"),
        ("direction: above", "direction: up", 5, "direction must be above or below"),
        ('    unit: "°C"\n', "", 3, "missing `unit`"),
        ('unit: "°C"', 'unit: "°F"', 8, "unit '°F' is not egt_c's unit '°C'"),
        ("warning: 600", "warning: hot", 6, "expected a number"),
        ("{readings: 3}", "{readings: 0}", 9, "whole number >= 1"),
        ("{readings: 3}", "{days: 3}", 9, "min_duration unit must be readings or hours"),
        ("source: test", "source: test\n    colour: red", 11, "unknown rule field 'colour'"),
        ("engine:", "engines:", 2, "unknown component type 'engines'"),
        ('version: "t1"\n', "", 1, "missing `version:`"),
        ("sensor: egt_c", "feature: avg_egt_c_90d", 4, "is not avg_<sensor>_7d"),
        ("    sensor: egt_c\n", "    sensor: egt_c\n    feature: avg_egt_c_7d\n", 3, "exactly one"),
        ("min_duration: {readings: 3}", "min_duration: {readings: 3", 10, "not valid YAML"),
        ("warning: 600", "warning: .nan", 6, "warning: expected a finite number, got '.nan'"),
        ("critical: 650", "critical: .inf", 7, "critical: expected a finite number"),
        ("{readings: 3}", "{hours: .inf}", 9, "min_duration: expected a finite number"),
        ("critical: 650", "critical: 650\n    warning: 610", 8, "duplicate key 'warning' (first"),
        ("engine:", 'version: "t2"\nengine:', 2, "duplicate key 'version' (first on line 1)"),
        ("source: test\n", "source: test\nengine: []\n", 11, "duplicate key 'engine'"),
    ],
)
def test_an_invalid_rules_file_is_rejected_with_the_line(
    old: str, new: str, line: int, reason: str
) -> None:
    assert old in GOOD
    with pytest.raises(RulesError) as err:
        parse_rules(GOOD.replace(old, new, 1), "rules.yaml")
    assert f"rules.yaml:{line}:" in str(err.value)
    assert reason in str(err.value)


def test_a_duplicate_rule_id_is_rejected() -> None:
    twice = GOOD + GOOD.split("engine:\n", 1)[1]
    with pytest.raises(RulesError, match=r":11: rule id 'egt_high' is used twice"):
        parse_rules(twice, "x")


def test_settings_rules_file_overrides_the_bundled_file(settings: Settings, tmp_path: Path) -> None:
    custom = tmp_path / "rules.yaml"
    custom.write_text(GOOD)
    assert load_rules(settings).version == load_rules().version
    overridden = with_section(settings, "twin", rules_file=custom)
    assert load_rules(overridden).version == "t1"
    missing = with_section(settings, "twin", rules_file=tmp_path / "nope.yaml")
    with pytest.raises(RulesError, match="rules file not found"):
        load_rules(missing)
    assert bundled_rules_path().exists()


def test_a_rules_path_that_cannot_be_read_as_text_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=f"^{tmp_path}: a folder, not a rules file$"):
        load_rules(path=tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(GOOD.encode("latin-1"))  # "°C" as one byte, 0xb0
    with pytest.raises(RulesError, match=rf"^{latin1}:8: not UTF-8 text \(byte \d+\)$"):
        load_rules(path=latin1)
