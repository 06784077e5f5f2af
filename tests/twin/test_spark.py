"""The gold tables on Spark: the same declarations give the same rows as on DuckDB."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from aerotwin.config import load_settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.sql_text import number_text
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import run_pipeline
from aerotwin.testing import simulate_small_fleet
from aerotwin.twin.gold import pipeline_tables, view_tables

from .test_health import NUMBER_TEXTS
from .test_incremental_gold import (
    EVENTS,
    TELEMETRY,
    _assert_same_gold,
    _copy,
    _export_components,
    _move,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _rows(lake: Lakehouse, name: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return query(lake, f"SELECT * FROM {name} ORDER BY {', '.join(keys)}", [name]).to_pylist()


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


# The feature and health SQL is one template per component type: one type's tables on Spark
# (a Spark table costs seconds of fixed overhead), the views over every type's, the risk tables.
ON_SPARK = ("features_engine", "component_health_engine")


def test_spark_builds_the_same_gold_tables_as_duckdb(tmp_path: Path, spark_session: Any) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine, to_spark_sql

    # Values this fleet's health rows do not reach, shown as DuckDB shows them.
    values = ", ".join(f"(CAST({v!r} AS DOUBLE))" for v in NUMBER_TEXTS)
    sql = f"SELECT x, {number_text('x')} FROM (VALUES {values}) AS v(x)"
    assert dict(tuple(r) for r in spark_session.sql(to_spark_sql(sql)).collect()) == NUMBER_TEXTS

    settings = load_settings(None, data_dir=tmp_path / "duck")
    simulate_small_fleet(settings, aircraft=3, days=12, seed=18, bad_record_rate=0.0)
    # The reference as an airline exports it mid-history: ages count back from its as_of_date,
    # and the part a replacement before it removed is aged from that event.
    assert _export_components(settings.landing_dir, "2026-01-08")
    declared = pipeline_tables(settings)
    upstream = [t for t in declared if t.layer != "gold"]
    run_pipeline(settings, tables=upstream)
    shutil.copytree(tmp_path / "duck", tmp_path / "spark")
    spark_settings = load_settings(None, data_dir=tmp_path / "spark")

    duck = run_pipeline(settings, tables=declared)
    gold = [t for t in declared if t.layer == "gold"]
    views = {t.name for t in view_tables()}
    on_spark = [t for t in gold if t.name in (*ON_SPARK, *views) or t.external is not None]
    run_pipeline(spark_settings, tables=[t for t in gold if t not in on_spark])  # on DuckDB
    spark_lake = Lakehouse.from_settings(spark_settings)
    spark = run_pipeline(
        spark_settings, engine=SparkEngine(spark_lake, session=spark_session), tables=on_spark
    )
    assert spark.engine == "spark"
    built = {t.table_name for t in spark.changed}
    assert built == {t.name for t in on_spark} and built >= {*ON_SPARK, *views}
    assert {t.name for t in gold} == {t.table_name for t in duck.changed}
    duck_lake = Lakehouse.from_settings(settings)
    for table in (t for t in gold if t.external is None):  # the risk tables: empty until scored
        a, b = _rows(duck_lake, table.name, table.keys), _rows(spark_lake, table.name, table.keys)
        assert len(a) == len(b) > 0, table.name
        for x, y in zip(a, b, strict=True):
            assert x.keys() == y.keys(), table.name
            diff = {k: (x[k], y[k]) for k in x if not _close(x[k], y[k])}
            assert not diff, (table.name, diff)


def test_incremental_gold_on_spark_matches_a_one_shot_duckdb_build(
    tmp_path: Path, spark_session: Any
) -> None:
    """Spark runs incremental gold over a lakehouse DuckDB built up to the day before: a late
    day of flights and telemetry lands with a day's readings, whose flights and weather land
    after them (the `new_<input>` scope views, the transpiled `changed_sql`, Spark's merges)."""
    from aerotwin.lakehouse.spark_engine import SparkEngine

    source = load_settings(None, data_dir=tmp_path / "source")
    simulate_small_fleet(source, aircraft=2, days=8, seed=7, bad_record_rate=0.01)
    expected = _copy(source, tmp_path / "expected")
    run_pipeline(expected)
    settings, parked = _copy(source, tmp_path / "data"), tmp_path / "parked"
    late, last = ("flights", "telemetry_engine"), "2026-01-08"
    _move(settings.landing_dir, parked, late, "2026-01-04")
    _move(settings.landing_dir, parked, (*TELEMETRY, *EVENTS), last)
    run_pipeline(settings)  # DuckDB, as daily operation built it
    declared = load_tables()
    upstream = [t for t in declared if t.layer != "gold"]
    # One component type's features and health on Spark (ON_SPARK), the rest of gold on DuckDB.
    spark_gold = [t for t in declared if t.name in ON_SPARK]
    duck_gold = [t for t in declared if t.layer == "gold" and t.name not in ON_SPARK]
    spark = SparkEngine(Lakehouse.from_settings(settings), session=spark_session)
    _move(parked, settings.landing_dir, late, "2026-01-04")
    for feeds in (TELEMETRY, EVENTS):
        _move(parked, settings.landing_dir, feeds, last)
        run_pipeline(settings, tables=upstream)
        result = run_pipeline(settings, engine=spark, tables=spark_gold)
        assert result.engine == "spark"
        assert {t.table_name: t.refresh for t in result.changed} == dict.fromkeys(
            ON_SPARK, "incremental"
        ), feeds
        run_pipeline(settings, tables=duck_gold)
    _assert_same_gold(settings, expected)
