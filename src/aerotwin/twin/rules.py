"""Health rules: load and validate the versioned rules file (YAML) into typed rules.

The file's format is described at the top of the bundled `rules/health_rules.yaml`. Every
error names the file, the line and the reason, so a maintenance engineer editing thresholds
sees exactly what to fix.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from aerotwin.schemas import COMPONENT_TYPES, SENSORS

Direction = Literal["above", "below"]
RULE_KEYS = frozenset(
    {
        "id",
        "sensor",
        "feature",
        "direction",
        "warning",
        "critical",
        "unit",
        "min_duration",
        "source",
    }
)
FEATURE_PATTERN = re.compile(r"^(avg|dev|trend)_(.+)_(7d|30d)$")
STATUSES = ("Nominal", "Warning", "Critical")


class RulesError(ValueError):
    """The rules file is invalid; the message names the file, the line and the reason."""


@dataclass(frozen=True)
class Rule:
    """One threshold rule on a sensor or a rolling feature column of a feature table."""

    id: str
    component_type: str
    column: str  # the feature-table column it reads: a sensor or a rolling feature
    sensor: str  # the sensor behind the column
    direction: Direction
    warning: float
    critical: float
    unit: str
    min_readings: int  # consecutive readings the condition must hold (1 = at once)
    min_hours: float  # hours the condition must hold (0 = no time guard)
    source: str

    def level(self, value: float | None) -> int:
        """0 Nominal, 1 Warning, 2 Critical for one value (thresholds inclusive)."""
        if value is None:
            return 0
        if self.direction == "above":
            return 2 if value >= self.critical else 1 if value >= self.warning else 0
        return 2 if value <= self.critical else 1 if value <= self.warning else 0


@dataclass(frozen=True)
class RuleSet:
    """All rules of one rules file and its version."""

    version: str
    rules: tuple[Rule, ...]
    path: str

    def for_type(self, component_type: str) -> tuple[Rule, ...]:
        """The rules of one component type, in file order."""
        return tuple(r for r in self.rules if r.component_type == component_type)


def bundled_rules_path() -> Path:
    """The rules file shipped with AeroTwin."""
    return Path(str(resources.files("aerotwin.twin") / "rules" / "health_rules.yaml"))


def rules_path(settings: Any | None) -> Path:
    """settings.twin.rules_file when set, else the bundled file."""
    custom = settings.twin.rules_file if settings is not None else None
    return Path(custom) if custom else bundled_rules_path()


def load_rules(settings: Any | None = None, path: Path | None = None) -> RuleSet:
    """Read and validate the rules file (`path`, else settings, else bundled); RulesError.

    A file the settings name that cannot be read is reported with the key and where its
    value came from: "/x/rules.yaml: rules file not found (twin.rules_file, from /x/a.toml)".
    """
    source = path or rules_path(settings)
    setting = ""
    if path is None and settings is not None and settings.twin.rules_file:
        setting = f" (twin.rules_file, from {settings.origin('twin.rules_file')})"
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{source}: rules file not found{setting}") from None
    except IsADirectoryError:
        raise RulesError(f"{source}: a folder, not a rules file{setting}") from None
    except UnicodeDecodeError as exc:
        line = Path(source).read_bytes()[: exc.start].count(b"\n") + 1
        raise RulesError(f"{source}:{line}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise RulesError(f"{source}: cannot read the rules file: {exc.strerror}{setting}") from None
    return parse_rules(text, str(source))


def parse_rules(text: str, name: str = "<rules>") -> RuleSet:
    """Validate rules YAML text into a RuleSet; RulesError with `name:line: reason`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise RulesError(f"{name}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(root, yaml.MappingNode):
        raise RulesError(f"{name}:1: the rules file must be a mapping of component types")
    rules: list[Rule] = []
    version: str | None = None
    seen: set[str] = set()
    for key_node, value_node in _pairs(root, name):
        key = key_node.value
        if key == "version":
            version = _scalar_text(value_node, name, "version")
            continue
        if key not in COMPONENT_TYPES:
            _fail(name, key_node, f"unknown component type {key!r} ({', '.join(COMPONENT_TYPES)})")
        if not isinstance(value_node, yaml.SequenceNode):
            _fail(name, value_node, f"{key}: expected a list of rules")
        for item in value_node.value:
            rule = _rule(item, key, name)
            if rule.id in seen:
                _fail(name, item, f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
            rules.append(rule)
    if version is None:
        raise RulesError(f"{name}:1: missing `version:` (rules files are versioned)")
    return RuleSet(version, tuple(rules), name)


def _fail(name: str, node: yaml.Node, reason: str) -> Any:
    raise RulesError(f"{name}:{node.start_mark.line + 1}: {reason}")


def _pairs(node: yaml.MappingNode, name: str) -> list[tuple[yaml.Node, yaml.Node]]:
    """The mapping's (key, value) nodes; RulesError at a repeated key."""
    # YAML lets the last of two equal keys win silently; in a rules file that hides an edit.
    first: dict[str, int] = {}
    for key_node, _ in node.value:
        if key_node.value in first:
            line = first[key_node.value]
            _fail(name, key_node, f"duplicate key {key_node.value!r} (first on line {line})")
        first[key_node.value] = key_node.start_mark.line + 1
    return list(node.value)


def _scalar_text(node: yaml.Node, name: str, field: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        _fail(name, node, f"{field}: expected a non-empty text")
    return str(node.value)


def _number(node: yaml.Node, name: str, field: str) -> float:
    value = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _fail(name, node, f"{field}: expected a number, got {getattr(node, 'value', '?')!r}")
    if not math.isfinite(value):
        # .nan / .inf would reach the health SQL as `egt_c >= nan`, which DuckDB cannot bind.
        return _fail(name, node, f"{field}: expected a finite number, got {node.value!r}")
    return float(value)


def _rule(node: yaml.Node, component_type: str, name: str) -> Rule:
    if not isinstance(node, yaml.MappingNode):
        _fail(name, node, f"{component_type}: each rule must be a mapping")
    fields = {k.value: (k, v) for k, v in _pairs(node, name)}
    for key, (key_node, _) in fields.items():
        if key not in RULE_KEYS:
            _fail(name, key_node, f"unknown rule field {key!r} ({', '.join(sorted(RULE_KEYS))})")
    where = f"{component_type} rule"

    def need(field: str) -> yaml.Node:
        if field not in fields:
            _fail(name, node, f"{where}: missing `{field}`")
        return fields[field][1]

    rule_id = _scalar_text(need("id"), name, "id")
    where = f"{component_type} rule {rule_id}"
    column, sensor = _target(fields, component_type, name, node, where)
    direction_node = need("direction")
    direction = _scalar_text(direction_node, name, "direction")
    if direction not in ("above", "below"):
        _fail(name, direction_node, f"{where}: direction must be above or below, got {direction!r}")
    warning = _number(need("warning"), name, f"{where}: warning")
    critical_node = need("critical")
    critical = _number(critical_node, name, f"{where}: critical")
    if direction == "above" and critical <= warning:
        _fail(name, critical_node, f"{where}: direction above needs critical > warning")
    if direction == "below" and critical >= warning:
        _fail(name, critical_node, f"{where}: direction below needs critical < warning")
    unit_node = need("unit")
    unit = _scalar_text(unit_node, name, f"{where}: unit")
    expected = _unit(component_type, sensor, column)
    if unit != expected:
        _fail(name, unit_node, f"{where}: unit {unit!r} is not {column}'s unit {expected!r}")
    readings, hours = _duration(need("min_duration"), name, where)
    source = _scalar_text(need("source"), name, f"{where}: source")
    return Rule(
        rule_id, component_type, column, sensor, direction,  # type: ignore[arg-type]
        warning, critical, unit, readings, hours, source,
    )  # fmt: skip


def _target(
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    component_type: str,
    name: str,
    node: yaml.Node,
    where: str,
) -> tuple[str, str]:
    sensors = {s.name for s in SENSORS[component_type]}
    if ("sensor" in fields) == ("feature" in fields):
        _fail(name, node, f"{where}: give exactly one of `sensor` or `feature`")
    if "sensor" in fields:
        value_node = fields["sensor"][1]
        sensor = _scalar_text(value_node, name, "sensor")
        if sensor not in sensors:
            _fail(name, value_node, f"{where}: unknown {component_type} sensor {sensor!r}")
        return sensor, sensor
    value_node = fields["feature"][1]
    feature = _scalar_text(value_node, name, "feature")
    match = FEATURE_PATTERN.match(feature)
    if not match or (match.group(1) != "avg" and match.group(3) != "7d"):
        _fail(
            name,
            value_node,
            f"{where}: feature {feature!r} is not avg_<sensor>_7d/_30d, dev_ or trend_<sensor>_7d",
        )
    sensor = match.group(2)  # type: ignore[union-attr]
    if sensor not in sensors:
        _fail(name, value_node, f"{where}: feature {feature!r}: unknown sensor {sensor!r}")
    return feature, sensor


def _unit(component_type: str, sensor: str, column: str) -> str:
    unit = next(s.unit for s in SENSORS[component_type] if s.name == sensor)
    return f"{unit}/day" if column.startswith("trend_") else unit


def _duration(node: yaml.Node, name: str, where: str) -> tuple[int, float]:
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        _fail(name, node, f"{where}: min_duration must be {{readings: N}} or {{hours: H}}")
    key_node, value_node = node.value[0]
    value = _number(value_node, name, f"{where}: min_duration")
    if key_node.value == "readings":
        if value < 1 or value != int(value):
            _fail(name, value_node, f"{where}: min_duration readings must be a whole number >= 1")
        return int(value), 0.0
    if key_node.value == "hours":
        if value < 0:
            _fail(name, value_node, f"{where}: min_duration hours must be >= 0")
        return 1, value
    return _fail(name, key_node, f"{where}: min_duration unit must be readings or hours")
