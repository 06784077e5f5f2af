"""The same declarations on Spark: identical silver tables, quarantine and event counts."""

from __future__ import annotations

from typing import Any

import pytest

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _content(lakehouse: Lakehouse, name: str) -> list[dict[str, Any]]:
    # Ingestion time and batch ids differ between two runs by construction; all else must not.
    sql = f"SELECT * EXCLUDE (_ingested_ts, _batch_id) FROM {name} ORDER BY ALL"
    return query(lakehouse, sql, [name]).to_pylist()


def test_spark_and_duckdb_build_identical_silver_tables(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult], spark_session: Any
) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine

    lakehouse = Lakehouse.from_settings(fresh_landing)
    engine = SparkEngine(lakehouse, session=spark_session)
    # Bronze and silver (this area); gold tables have their own engine tests.
    declared = [t for t in load_tables() if t.layer in ("bronze", "silver")]
    result = run_pipeline(fresh_landing, engine=engine, tables=declared)
    assert result.engine == "spark"
    duck_settings, duck_result = first_run
    duck = Lakehouse.from_settings(duck_settings)
    silver = [t.name for t in load_tables() if t.layer == "silver"]
    for name in silver:
        spark_rows, duck_rows = _content(lakehouse, name), _content(duck, name)
        assert spark_rows == duck_rows, name
        spark_schema = lakehouse.table(name).schema().to_arrow()
        assert [f.name for f in spark_schema] == [
            f.name for f in duck.table(name).schema().to_arrow()
        ]
    quarantine = "SELECT table_name, rule, record_id, raw_record FROM quarantine ORDER BY ALL"
    assert query(lakehouse, quarantine).to_pylist() == query(duck, quarantine).to_pylist()
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
