"""The same declarations on Spark: identical silver tables, quarantine and event counts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import run_pipeline

from .conftest import (
    assert_corrections_counted,
    assert_corrections_won,
    content,
    copy_landing,
    land_corrections,
    plant_bad_event_rows,
    plant_implausible_rows,
    plant_mistyped_rows,
    rows_from,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]


# Telemetry silver is one template per type: engine's (doubles) and avionics' (an integer
# sensor) on Spark; the other types' (the same SQL over other doubles) on DuckDB, as a Spark
# table costs seconds of fixed overhead.
SAME_SHAPE = tuple(
    f"{prefix}telemetry_{ct}"
    for ct in ("landing_gear", "cabin_pressurization", "airframe")
    for prefix in ("bronze_", "")
)


def _plant_bad_rows(landing: Path) -> None:
    """Rows of every kind silver quarantines (unknown references, wrong types, impossible
    values, a byte that is not UTF-8), appended to the landing zone."""
    plant_bad_event_rows(landing)
    plant_mistyped_rows(landing)
    plant_implausible_rows(landing)
    weather = sorted(landing.glob("weather/date=*/*.csv"))[1]
    with weather.open("ab") as f:  # a Latin-1 byte
        f.write(b"QQ\xe9,2026-01-02,1.0,50.0,5.0,false,0.0\n")


def test_spark_and_duckdb_build_identical_silver_tables(
    fresh_landing: Settings, tmp_path: Path, spark_session: Any
) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine

    _plant_bad_rows(fresh_landing.landing_dir)
    duck_settings = copy_landing(fresh_landing, tmp_path / "duck")
    # Bronze and silver (this area); gold tables have their own engine tests.
    layered = load_tables(layers=("bronze", "silver"))
    duck_result = run_pipeline(duck_settings, tables=layered)
    lakehouse = Lakehouse.from_settings(fresh_landing)
    engine = SparkEngine(lakehouse, session=spark_session)
    declared = [t for t in layered if t.name not in SAME_SHAPE]
    result = run_pipeline(fresh_landing, engine=engine, tables=declared)
    assert result.engine == "spark"
    assert {t.table_name for t in result.tables} == {t.name for t in declared}
    run_pipeline(fresh_landing, tables=[t for t in layered if t.name in SAME_SHAPE])
    duck = Lakehouse.from_settings(duck_settings)
    silver = [t.name for t in layered if t.layer == "silver"]
    for name in silver:
        spark_rows, duck_rows = content(lakehouse, name), content(duck, name)
        assert spark_rows == duck_rows, name
        spark_schema = lakehouse.table(name).schema().to_arrow()
        assert [f.name for f in spark_schema] == [
            f.name for f in duck.table(name).schema().to_arrow()
        ]
    quarantine = "SELECT table_name, rule, record_id, raw_record FROM quarantine ORDER BY ALL"
    quarantined = query(duck, quarantine, ["quarantine"]).to_pylist()
    assert {(r["table_name"], r["rule"]) for r in quarantined} >= {
        ("flights", "unknown_aircraft"),
        ("weather", "unknown_airport"),
        ("weather", "parse_error"),
        ("maintenance_events", "unknown_component"),
        ("flights", "wrong_type"),
        ("aircraft", "wrong_type"),
        ("flights", "out_of_range"),
        ("flights", "arrival_before_departure"),
        ("weather", "out_of_range"),
        ("maintenance_events", "out_of_range"),
    }
    assert query(lakehouse, quarantine, ["quarantine"]).to_pylist() == quarantined
    assert lakehouse.arrow_schema("quarantine") == duck.arrow_schema("quarantine")
    by_table = {t.table_name: t for t in duck_result.tables}
    for run in result.tables:
        twin = by_table[run.table_name]
        assert run.status == twin.status == "ok", run.table_name
        assert (run.rows_in, run.rows_out, run.quarantined, run.duplicates) == (
            twin.rows_in,
            twin.rows_out,
            twin.quarantined,
            twin.duplicates,
        ), run.table_name

    # Incremental on Spark as well: nothing new, nothing written.
    assert run_pipeline(fresh_landing, engine=engine, tables=declared).changed == []

    # A file resent into a day's folder by a later run wins on Spark too: merged in, and
    # rebuilt from bronze (the two corrected tables only: the rest was compared above).
    landed = land_corrections(fresh_landing.landing_dir)
    before = {t: rows_from(lakehouse, t, files[:1]) for t, files in landed.items()}
    corrected = run_pipeline(fresh_landing, engine=engine, tables=declared)
    assert_corrections_won(lakehouse, landed, before)
    assert_corrections_counted(corrected, landed, before)  # as DuckDB counts them
    rebuilt = [t for t in declared if t.name in landed]
    run_pipeline(fresh_landing, engine=engine, tables=rebuilt, full_refresh=True)
    assert_corrections_won(lakehouse, landed, before)

    # A new day whose one engine reading is out of range: the merge has nothing to write, yet
    # the batch is done (counted as DuckDB counts it, watermark moved on): a rerun writes nothing.
    feed = fresh_landing.landing_dir / "telemetry_engine"
    newest = sorted(feed.glob("date=*/part-00000.jsonl"))[-1]
    reading = {**json.loads(newest.read_text().splitlines()[0]), "egt_c": 99999.0}
    day = dt.date.fromisoformat(newest.parent.name.removeprefix("date=")) + dt.timedelta(days=1)
    (feed / f"date={day}").mkdir()
    (feed / f"date={day}" / "part-00000.jsonl").write_text(json.dumps(reading) + "\n")
    runs = run_pipeline(fresh_landing, engine=engine, tables=declared).tables
    silver = next(t for t in runs if t.table_name == "telemetry_engine")
    assert (silver.status, silver.rows_in, silver.quarantined) == ("ok", 1, 1)
    assert (silver.rows_out, silver.duplicates) == (0, 0)
    assert run_pipeline(fresh_landing, engine=engine, tables=declared).changed == []


def test_spark_commits_count_the_rows_they_inserted_and_updated(
    tmp_path: Path, spark_session: Any, write_counts_of: Callable[..., list[tuple[int, int]]]
) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine

    engine = SparkEngine(Lakehouse(str(tmp_path)), session=spark_session)
    # Spark's merge records its output rows (updated and copied) too: they are no inserts.
    assert write_counts_of(engine) == [(48, 0), (0, 12), (12, 8), (48, 0)]


def test_spark_engine_close_drops_every_cached_view_when_one_fails(
    tmp_path: Path, spark_session: Any
) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine

    class Stuck:
        def unpersist(self) -> None:
            raise RuntimeError("executor lost")

    engine = SparkEngine(Lakehouse(str(tmp_path)), session=spark_session)
    engine.materialize("close_a", "SELECT 1 AS x")
    engine.materialize("close_b", "SELECT 2 AS x")
    engine._cached["close_a"] = Stuck()  # fails; close_b is dropped all the same
    with pytest.raises(RuntimeError, match="executor lost"):
        engine.close()
    exists = spark_session.catalog.tableExists
    assert not exists("close_b") and exists("close_a")  # b dropped although a failed
    spark_session.catalog.dropTempView("close_a")
