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
from aerotwin.pipeline.runner import run_pipeline
from aerotwin.testing import simulate_small_fleet
from aerotwin.twin.gold import pipeline_tables

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _rows(lake: Lakehouse, name: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return query(lake, f"SELECT * FROM {name} ORDER BY {', '.join(keys)}", [name]).to_pylist()


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_spark_builds_the_same_gold_tables_as_duckdb(tmp_path: Path, spark_session: Any) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine

    settings = load_settings(None, data_dir=tmp_path / "duck")
    simulate_small_fleet(settings, aircraft=3, days=12, seed=11, bad_record_rate=0.0)
    declared = pipeline_tables(settings)
    upstream = [t for t in declared if t.layer != "gold"]
    run_pipeline(settings, tables=upstream)
    shutil.copytree(tmp_path / "duck", tmp_path / "spark")
    spark_settings = load_settings(None, data_dir=tmp_path / "spark")

    duck = run_pipeline(settings, tables=declared)
    spark_lake = Lakehouse.from_settings(spark_settings)
    spark = run_pipeline(
        spark_settings, engine=SparkEngine(spark_lake, session=spark_session), tables=declared
    )
    assert spark.engine == "spark"
    gold = [t for t in declared if t.layer == "gold"]
    built = {t.table_name for t in spark.changed}
    assert built == {t.name for t in gold} == {t.table_name for t in duck.changed}
    duck_lake = Lakehouse.from_settings(settings)
    for table in (t for t in gold if t.external is None):  # the risk tables: empty until scored
        a, b = _rows(duck_lake, table.name, table.keys), _rows(spark_lake, table.name, table.keys)
        assert len(a) == len(b) > 0, table.name
        for x, y in zip(a, b, strict=True):
            assert x.keys() == y.keys(), table.name
            diff = {k: (x[k], y[k]) for k in x if not _close(x[k], y[k])}
            assert not diff, (table.name, diff)
