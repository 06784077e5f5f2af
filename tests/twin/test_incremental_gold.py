"""Incremental gold: any order in which the landing zone fills gives a one-shot build's tables."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from aerotwin.config import Settings, load_settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import run_pipeline

if TYPE_CHECKING:
    from aerotwin.sim.history import SimSummary

TELEMETRY = (
    "telemetry_engine",
    "telemetry_landing_gear",
    "telemetry_avionics",
    "telemetry_cabin_pressurization",
    "telemetry_airframe",
)
EVENTS = ("flights", "weather", "maintenance_events", "failures")


def _copy(source: Settings, data_dir: Path) -> Settings:
    shutil.copytree(source.landing_dir, data_dir / "landing")
    return load_settings(None, data_dir=data_dir)


def _move(src: Path, dst: Path, feeds: tuple[str, ...], day: str) -> None:
    """Move the `day` folders of `feeds` from landing zone (or parking) `src` to `dst`."""
    for feed in feeds:
        (dst / feed).mkdir(parents=True, exist_ok=True)
        shutil.move(src / feed / f"date={day}", dst / feed / f"date={day}")


def _same(x: object, y: object) -> bool:
    # Sums over a window run in another order when its partition grew: the last bits differ.
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
    return x == y


def _assert_same_gold(settings: Settings, expected: Settings) -> None:
    """Every gold table holds in `settings`' lakehouse what it holds in `expected`'s."""
    ours, theirs = Lakehouse.from_settings(settings), Lakehouse.from_settings(expected)
    for table in load_tables(layers=("gold",)):
        sql = f"SELECT * FROM {table.name} ORDER BY ALL"
        got = query(ours, sql, [table.name]).to_pylist()
        want = query(theirs, sql, [table.name]).to_pylist()
        assert len(got) == len(want), table.name
        wrong = [
            (g.get("component_id", g.get("aircraft_id")), column, g[column], w[column])
            for g, w in zip(got, want, strict=True)
            for column in w
            if not _same(g[column], w[column])
        ]
        assert not wrong, (table.name, len(wrong), wrong[:3])


def test_a_day_of_flights_and_telemetry_landing_late(
    small_fleet_landing: tuple[Settings, SimSummary], gold_fleet: Settings, tmp_path: Path
) -> None:
    """Days after it are built before it lands: their usage, windows and ages must follow."""
    settings = _copy(small_fleet_landing[0], tmp_path / "data")
    late = ("flights", "telemetry_engine")
    _move(settings.landing_dir, tmp_path / "parked", late, "2026-01-10")
    run_pipeline(settings)
    _move(tmp_path / "parked", settings.landing_dir, late, "2026-01-10")
    run_pipeline(settings)
    _assert_same_gold(settings, gold_fleet)


def test_telemetry_landing_before_its_days_flights_and_weather(
    small_fleet_landing: tuple[Settings, SimSummary], gold_fleet: Settings, tmp_path: Path
) -> None:
    """As live mode lands a day: its readings are built before its flights, weather, events."""
    settings = _copy(small_fleet_landing[0], tmp_path / "data")
    parked, days = tmp_path / "parked", ("2026-01-29", "2026-01-30")
    for day in days:
        _move(settings.landing_dir, parked, (*TELEMETRY, *EVENTS), day)
    run_pipeline(settings)
    for day in days:
        _move(parked, settings.landing_dir, TELEMETRY, day)
        run_pipeline(settings)
        _move(parked, settings.landing_dir, EVENTS, day)
        run_pipeline(settings)
    _assert_same_gold(settings, gold_fleet)
