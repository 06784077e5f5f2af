"""A data contract that gains a sensor: history stays in silver without it; new lines must
carry it. Adding a sensor to `aerotwin.schemas` is the documented way to extend a feed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aerotwin import schemas
from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline

from .conftest import content, hold_back_last_day, land_held_back

pytestmark = pytest.mark.slow

NEW = schemas.Sensor("n1_speed_pct", "%", 0, 120, "fan speed, a sensor added to the contract")


def _add_field(day: Path) -> tuple[str, int]:
    """Give every JSON line of the day's engine files the new sensor but one; that one's
    file (relative to the feed's folder) and line number."""
    skipped: tuple[str, int] | None = None
    for path in sorted(day.glob("*.jsonl")):
        out = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                out.append(line)  # a planted bad line stays as it was
                continue
            if skipped is None and isinstance(record, dict) and len(record) > 4:
                skipped = (f"{day.name}/{path.name}", number)
                out.append(line)
                continue
            out.append(json.dumps({**record, NEW.name: 90.0}) if isinstance(record, dict) else line)
        path.write_text("\n".join(out) + "\n")
    assert skipped is not None
    return skipped


def add_sensor(monkeypatch: pytest.MonkeyPatch, landing: Path, last: str) -> tuple[str, int]:
    """The contract gains NEW; the engine lines landed for day `last` carry it but one: that
    one's file (relative to the feed's folder) and line number."""
    monkeypatch.setitem(schemas.SENSORS, "engine", (*schemas.SENSORS["engine"], NEW))
    return _add_field(landing / "telemetry_engine" / last)


def assert_sensor_added(
    lakehouse: Lakehouse, day: RunResult, reference: Lakehouse, last: str, skipped: tuple[str, int]
) -> None:
    """After `day` ran the new day under the new contract: bronze gained the column, silver
    was rebuilt with it, the line without it quarantined, and every other row is where a run
    under the old contract (`reference`) put it, history included."""
    folder, line = skipped
    assert NEW.name in lakehouse.arrow_schema("bronze_telemetry_engine").names
    engine_run = next(t for t in day.tables if t.table_name == "telemetry_engine")
    assert engine_run.refresh == "full"  # the definition changed: rebuilt from bronze
    record_id = f"telemetry_engine/{folder}:{line}"
    quarantined = query(
        lakehouse,
        f"SELECT rule FROM quarantine WHERE record_id = '{record_id}'",
        ["quarantine"],
    ).to_pylist()
    assert quarantined == [{"rule": "missing_field"}]

    # Every other row is where a run under the old contract put it: history included.
    rows = content(lakehouse, "telemetry_engine")
    before = [
        r
        for r in content(reference, "telemetry_engine")
        if (r["_source_file"], r["_line"]) != (f"telemetry_engine/{folder}", line)
    ]
    assert [{k: v for k, v in r.items() if k != NEW.name} for r in rows] == before
    new_day = [r for r in rows if f"/{last}/" in r["_source_file"]]
    assert new_day and all(r[NEW.name] == 90.0 for r in new_day)
    assert all(r[NEW.name] is None for r in rows if r not in new_day)


# On an object store (bronze's appends through write_deltalake): in test_object_store's
# history test, which shares this one's setup.
@pytest.mark.parametrize("where", ["folder", pytest.param("spark", marks=pytest.mark.spark)])
def test_a_sensor_added_to_the_contract_keeps_history_and_is_required_from_then_on(
    where: str,
    fresh_landing: Settings,
    first_run: tuple[Settings, RunResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    settings = fresh_landing
    landing = settings.landing_dir
    parking = tmp_path / "parked"
    last = hold_back_last_day(landing, parking)
    run_pipeline(settings, tables=load_tables(layers=("bronze", "silver")))

    land_held_back(parking, landing)
    skipped = add_sensor(monkeypatch, landing, last)
    lakehouse = Lakehouse.from_settings(settings)
    engine: Any = None
    declared = load_tables(layers=("bronze", "silver"))
    if where == "spark":  # Spark rebuilds silver from the bronze table that gained a column
        from aerotwin.lakehouse.spark_engine import SparkEngine

        engine = SparkEngine(lakehouse, session=request.getfixturevalue("spark_session"))
        declared = [t for t in declared if t.layer == "bronze" or t.name == "telemetry_engine"]
    day = run_pipeline(settings, engine=engine, tables=declared)

    reference = Lakehouse.from_settings(first_run[0])
    assert_sensor_added(Lakehouse.from_settings(settings), day, reference, last, skipped)
