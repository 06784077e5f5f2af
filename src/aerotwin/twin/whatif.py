"""What-if: change a component's latest sensor readings and see its features and health move.

Reads the component's silver history (never the gold tables, never writing anything), applies
the overrides to its latest state, and recomputes features and health in memory with the
same SQL the pipeline runs (DuckDB over Arrow). The overridden state is assumed to have
lasted as long as the rules' duration guard needs (the latest readings within the longest
`min_duration` of the type), so the guard does not hide a sustained change.

Risk: pass `scorer`, a callable (component_type, latest feature row as Arrow) -> risk score;
the modelling layer plugs its champion in there. None leaves the risk columns empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.duckdb_engine import connect_utc
from aerotwin.lakehouse.sql_text import text_literal
from aerotwin.schemas import SENSORS, sensor_names
from aerotwin.twin.features import feature_table, features_sql, sensor_feature_columns
from aerotwin.twin.health import health_sql
from aerotwin.twin.rules import RuleSet, load_rules

RiskScorer = Callable[[str, pa.Table], float | None]
OVERRIDE = re.compile(
    r"^\s*([a-z0-9_]+)\s*=\s*([+-]?)\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(%?)\s*$"
)
HEALTH_FIELDS = ("component_health_status", "rules_fired", "rule_values")
USAGE_FIELDS = ("component_age_hours", "cycles_since_maint", "days_since_maint")


class WhatIfError(ValueError):
    """The aircraft, component, sensor or override is unknown or invalid; the message says which."""


@dataclass(frozen=True)
class Override:
    """One change to a sensor: absolute value, relative delta, or relative percent."""

    sensor: str
    kind: Literal["absolute", "delta", "percent"]
    value: float

    def apply(self, current: float) -> float:
        """The new value of a reading whose value is `current`."""
        if self.kind == "absolute":
            return self.value
        if self.kind == "delta":
            return current + self.value
        return current * (1 + self.value / 100)

    def __str__(self) -> str:
        if self.kind == "absolute":
            return f"{self.sensor}={self.value:g}"
        sign = "+" if self.value >= 0 else ""
        return f"{self.sensor}={sign}{self.value:g}{'%' if self.kind == 'percent' else ''}"


def parse_override(text: str) -> Override:
    """`egt_c=+20` (relative), `egt_c=-5`, `vibration_ips=2.5` (absolute), `x=+10%` (percent)."""
    match = OVERRIDE.match(text)
    if not match:
        raise WhatIfError(
            f"override {text!r}: expected SENSOR=VALUE, SENSOR=+DELTA, SENSOR=-DELTA or SENSOR=+N%"
        )
    sensor, sign, number, percent = match.groups()
    value = float(number) * (-1 if sign == "-" else 1)
    if percent:
        if not sign:
            raise WhatIfError(f"override {text!r}: a percentage needs a sign (+10% or -10%)")
        return Override(sensor, "percent", value)
    return Override(sensor, "delta" if sign else "absolute", value)


@dataclass
class WhatIfResult:
    """Before and after for one component's latest state."""

    aircraft_id: str
    component_id: str
    component_type: str
    reading_ts: Any
    overrides: tuple[Override, ...]
    before: dict[str, Any]
    after: dict[str, Any]
    compared: tuple[str, ...]
    risk_before: float | None = None
    risk_after: float | None = None
    sustained_readings: int = 1
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, Any, Any]]:
        """(name, before, after) for every compared field, risk last."""
        out = [(name, self.before.get(name), self.after.get(name)) for name in self.compared]
        out.append(("risk_score", self.risk_before, self.risk_after))
        return out


def what_if(
    settings: Any,
    aircraft_id: str,
    component: str,
    overrides: Sequence[str | Override],
    *,
    scorer: RiskScorer | None = None,
    rules: RuleSet | None = None,
) -> WhatIfResult:
    """Apply `overrides` to a component's latest state and compare features, health and risk.

    Raises WhatIfError for an unknown aircraft, component or sensor, or an out-of-range value.
    Reads the lakehouse; writes nothing.
    """
    lake = Lakehouse.from_settings(settings)
    ruleset = rules or load_rules(settings)
    for needed in ("aircraft", "components"):
        if not lake.exists(needed):
            raise WhatIfError(f"table {needed!r} does not exist: run `aerotwin pipeline run` first")
    aircraft_id = _resolve_aircraft(lake, aircraft_id)
    component_id, ctype = resolve_component(
        _read(lake, "components", "aircraft_id", aircraft_id), aircraft_id, component
    )
    parsed = tuple(o if isinstance(o, Override) else parse_override(o) for o in overrides)
    if not parsed:
        raise WhatIfError("give at least one override, e.g. --set egt_c=+20")
    sensors = sensor_names(ctype)
    for o in parsed:
        if o.sensor not in sensors:
            raise WhatIfError(
                f"unknown sensor {o.sensor!r} for {ctype} {component_id} "
                f"(sensors: {', '.join(sensors)})"
            )
    inputs = _inputs(lake, aircraft_id, component_id, ctype)
    telemetry = inputs[f"telemetry_{ctype}"]
    if telemetry.num_rows == 0:
        raise WhatIfError(f"component {component_id} has no readings yet: nothing to change")
    telemetry = telemetry.sort_by("reading_ts")
    count = sustain_count(telemetry, ruleset, ctype)
    changed = apply_overrides(telemetry, parsed, count, ctype)
    before = _evaluate(inputs, ctype, ruleset)
    after = _evaluate({**inputs, f"telemetry_{ctype}": changed}, ctype, ruleset)
    touched = [o.sensor for o in parsed]
    compared = (
        *touched,
        *(c for s in touched for c in sensor_feature_columns(s)),
        *(r.column for r in ruleset.for_type(ctype) if r.column not in touched),
        *HEALTH_FIELDS,
        *USAGE_FIELDS,
    )
    result = WhatIfResult(
        aircraft_id, component_id, ctype, before["reading_ts"], parsed,
        before, after, tuple(dict.fromkeys(compared)), sustained_readings=count,
    )  # fmt: skip
    if scorer is not None:
        result.risk_before = scorer(ctype, pa.Table.from_pylist([before]))
        result.risk_after = scorer(ctype, pa.Table.from_pylist([after]))
    return result


def resolve_component(components: pa.Table, aircraft_id: str, spec: str) -> tuple[str, str]:
    """(component_id, component_type) for a component id, slot (ENG1), position or type."""
    rows = components.to_pylist()
    wanted = spec.strip().lower()
    for key in ("component_id", "slot", "position", "component_type"):
        hits = [
            r for r in rows
            if (r["component_id"].removeprefix(f"{aircraft_id}-") if key == "slot" else r[key])
            .lower() == wanted
        ]  # fmt: skip
        if len(hits) == 1:
            return hits[0]["component_id"], hits[0]["component_type"]
        if len(hits) > 1:
            choices = ", ".join(sorted(r["component_id"] for r in hits))
            raise WhatIfError(f"component {spec!r} on {aircraft_id} is ambiguous: one of {choices}")
    known = ", ".join(sorted(r["component_id"] for r in rows))
    raise WhatIfError(f"unknown component {spec!r} on aircraft {aircraft_id} (components: {known})")


def sustain_count(telemetry: pa.Table, rules: RuleSet, component_type: str) -> int:
    """How many latest readings the override covers: the longest duration guard of the type."""
    typed = rules.for_type(component_type)
    count = max((r.min_readings for r in typed), default=1)
    hours = max((r.min_hours for r in typed), default=0.0)
    if hours > 0:
        ts = telemetry.column("reading_ts")
        last = pc.max(ts).as_py()
        cutoff = pa.scalar(last.timestamp() - hours * 3600)
        seconds = pc.divide(pc.cast(pc.cast(ts, pa.timestamp("us", "UTC")), pa.int64()), 1e6)
        # The readings after the cut-off, and the one at or before it where the run must start.
        count = max(count, int(pc.sum(pc.greater(seconds, cutoff)).as_py()) + 1)
    return min(count, telemetry.num_rows)


def apply_overrides(
    telemetry: pa.Table, overrides: Sequence[Override], count: int, component_type: str
) -> pa.Table:
    """`telemetry` (sorted by time) with the overrides applied to its last `count` readings."""
    limits = {s.name: s for s in SENSORS[component_type]}
    start = telemetry.num_rows - count
    for o in overrides:
        values = telemetry.column(o.sensor).to_pylist()
        new = [o.apply(v) if i >= start and v is not None else v for i, v in enumerate(values)]
        s = limits[o.sensor]
        for v in new[start:]:
            if v is not None and not s.low <= v <= s.high:
                raise WhatIfError(
                    f"override {o}: {o.sensor} would be {v:g} {s.unit}, outside its physical "
                    f"range {s.low:g}..{s.high:g}"
                )
        kind = telemetry.schema.field(o.sensor).type
        _check_whole(o, new[start:], kind)
        column = pa.array(new).cast(kind)
        telemetry = telemetry.set_column(
            telemetry.schema.get_field_index(o.sensor), o.sensor, column
        )
    return telemetry


def _check_whole(override: Override, values: Sequence[float | None], kind: pa.DataType) -> None:
    """WhatIfError when an integer sensor (a count) would get a fractional value."""
    # The cast to the column's integer type would fail with an ArrowInvalid traceback.
    if not pa.types.is_integer(kind):
        return
    for v in values:
        if v is not None and v != int(v):
            raise WhatIfError(
                f"override {override}: {override.sensor} counts whole units and would be "
                f"{v:g}; give a value that keeps it whole"
            )


def _resolve_aircraft(lake: Lakehouse, tail: str) -> str:
    ids = lake.read("aircraft", ["aircraft_id"]).column(0).to_pylist()
    for known in ids:
        if known.lower() == tail.strip().lower():
            return str(known)
    raise WhatIfError(f"unknown aircraft {tail!r} ({len(ids)} aircraft in the fleet)")


def _read(
    lake: Lakehouse, name: str, column: str | None = None, value: str | None = None
) -> pa.Table:
    # Through DuckDB (`catalog.query`): a pyarrow filter fails on files deltalake's merges
    # wrote (text as string_view), as every table on an object store has after a new day.
    columns = [c for c in lake.arrow_schema(name).names if not c.startswith("_")]
    listed = ", ".join(f'"{c}"' for c in columns)
    where = ""
    if column is not None and value is not None:
        where = f' WHERE "{column}" = {text_literal(value)}'
    return query(lake, f'SELECT {listed} FROM "{name}"{where}', [name])


def _inputs(
    lake: Lakehouse, aircraft_id: str, component_id: str, ctype: str
) -> dict[str, pa.Table]:
    telemetry = f"telemetry_{ctype}"
    if not lake.exists(telemetry):
        raise WhatIfError(f"table {telemetry!r} does not exist: run `aerotwin pipeline run` first")
    optional = {"flights": "aircraft_id", "maintenance_events": "component_id", "weather": None}
    keys = {"aircraft_id": aircraft_id, "component_id": component_id}
    tables: dict[str, pa.Table | None] = {
        "components": _read(lake, "components", "component_id", component_id),
        telemetry: _read(lake, telemetry, "component_id", component_id),
    }
    for name, column in optional.items():
        value = keys[column] if column else None
        tables[name] = _read(lake, name, column, value) if lake.exists(name) else None
    missing = [name for name, table in tables.items() if table is None]
    if missing:
        raise WhatIfError(f"table(s) {', '.join(missing)} missing: run `aerotwin pipeline run`")
    return {k: v for k, v in tables.items() if v is not None}


def _evaluate(inputs: dict[str, pa.Table], ctype: str, rules: RuleSet) -> dict[str, Any]:
    """Features and health of the latest reading, computed in memory by the pipeline's SQL."""
    con = connect_utc()
    try:
        for name, table in inputs.items():
            con.register(name, table)
        con.execute(f"CREATE TEMP TABLE {feature_table(ctype)} AS {features_sql(ctype)}")
        health = con.sql(health_sql(ctype, rules)).to_arrow_table()
        con.register("__health", health)
        latest = con.sql(
            f"SELECT f.*, {', '.join('h.' + c for c in HEALTH_FIELDS)} "
            f"FROM {feature_table(ctype)} AS f JOIN __health AS h "
            "ON h.component_id = f.component_id AND h.reading_ts = f.reading_ts "
            "ORDER BY f.reading_ts DESC LIMIT 1"
        ).to_arrow_table()
        return latest.to_pylist()[0]
    finally:
        con.close()
