"""What-if building blocks on small Arrow tables: override syntax, sustain window, lookup."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.twin.rules import parse_rules
from aerotwin.twin.whatif import (
    Override,
    WhatIfError,
    _read,
    apply_overrides,
    parse_override,
    resolve_component,
    sustain_count,
)


@pytest.mark.parametrize(
    ("text", "kind", "value", "result"),
    [
        ("egt_c=+20", "delta", 20.0, 620.0),
        ("egt_c=-5", "delta", -5.0, 595.0),
        ("egt_c=2.5", "absolute", 2.5, 2.5),
        ("egt_c=+10%", "percent", 10.0, 660.0),
        ("egt_c = -50% ", "percent", -50.0, 300.0),
        ("egt_c=1e3", "absolute", 1000.0, 1000.0),
    ],
)
def test_override_syntax(text: str, kind: str, value: float, result: float) -> None:
    override = parse_override(text)
    assert (override.sensor, override.kind, override.value) == ("egt_c", kind, value)
    assert override.apply(600.0) == pytest.approx(result)


@pytest.mark.parametrize("text", ["egt_c", "egt_c=", "=5", "egt_c=10%", "egt_c=+x"])
def test_bad_override_is_rejected(text: str) -> None:
    with pytest.raises(WhatIfError, match="override"):
        parse_override(text)


RULES = """version: "w"
engine:
  - {id: a, sensor: egt_c, direction: above, warning: 1, critical: 2, unit: "°C",
     min_duration: {readings: 2}, source: t}
  - {id: b, sensor: oil_temp_c, direction: above, warning: 1, critical: 2, unit: "°C",
     min_duration: {hours: 3}, source: t}
"""


def telemetry(n: int) -> pa.Table:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return pa.table(
        {
            "reading_ts": pa.array(
                [t0 + dt.timedelta(hours=i) for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "egt_c": pa.array([500.0] * n),
        }
    )


def test_overrides_cover_the_longest_duration_guard() -> None:
    rules = parse_rules(RULES)
    # Hourly readings: 3 hours back from the last reading holds 4 readings (both ends).
    assert sustain_count(telemetry(10), rules, "engine") == 4
    assert sustain_count(telemetry(2), rules, "engine") == 2
    changed = apply_overrides(telemetry(6), [Override("egt_c", "delta", 10.0)], 4, "engine")
    assert changed.column("egt_c").to_pylist() == [500.0, 500.0, 510.0, 510.0, 510.0, 510.0]


@pytest.mark.parametrize(
    ("override", "value"), [("=2.5", "2.5"), ("=+33%", "3.99"), ("=-0.5", "2.5")]
)
def test_a_fractional_count_is_rejected_naming_sensor_and_value(override: str, value: str) -> None:
    counts = pa.table({"error_count": pa.array([3, 3], pa.int64())})
    whole = apply_overrides(counts, [parse_override("error_count=+1")], 1, "avionics")
    assert whole.column("error_count").to_pylist() == [3, 4]
    with pytest.raises(WhatIfError, match=f"error_count counts whole units and would be {value};"):
        apply_overrides(counts, [parse_override(f"error_count{override}")], 1, "avionics")


def test_component_lookup_by_id_slot_position_and_type() -> None:
    components = pa.Table.from_pylist(
        [
            {"component_id": "N1-ENG1", "component_type": "engine", "position": "engine_1"},
            {"component_id": "N1-ENG2", "component_type": "engine", "position": "engine_2"},
            {"component_id": "N1-LDG", "component_type": "landing_gear", "position": "main_gear"},
        ]
    )
    for spec in ("N1-ENG2", "eng2", "engine_2"):
        assert resolve_component(components, "N1", spec) == ("N1-ENG2", "engine")
    assert resolve_component(components, "N1", "landing_gear") == ("N1-LDG", "landing_gear")
    with pytest.raises(WhatIfError, match="ambiguous: one of N1-ENG1, N1-ENG2"):
        resolve_component(components, "N1", "engine")
    with pytest.raises(WhatIfError, match="unknown component 'APU'"):
        resolve_component(components, "N1", "APU")


def test_a_table_deltalake_merged_is_read_by_component(tmp_path: Path) -> None:
    # deltalake's merges write text as string_view (every table on an object store gets
    # them): a pyarrow filter on such files failed; the read filters in DuckDB.
    lake = Lakehouse(str(tmp_path))
    rows = pa.table({"component_id": ["A", "B"], "v": [1.0, 2.0], "_line": [1, 2]})
    lake.write("telemetry_engine", rows, "append")
    incoming = pa.table({"component_id": ["B", "C"], "v": [5.0, 6.0], "_line": [3, 4]})
    lake.merge("telemetry_engine", incoming, ["component_id"], delete_unmatched_where="t.v < 0")
    assert _read(lake, "telemetry_engine", "component_id", "C").to_pylist() == [
        {"component_id": "C", "v": 6.0}
    ]
    assert _read(lake, "telemetry_engine").num_rows == 3
