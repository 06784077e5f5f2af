"""The pipeline on an object-store root: S3 served on loopback by moto's server.

Tables go through deltalake's object store (its storage options passed through unchanged);
the same landing zone gives the same silver tables as on a local folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from aerotwin.cli import app
from aerotwin.config import Settings, with_section
from aerotwin.lakehouse.catalog import query, table_names
from aerotwin.lakehouse.delta import ConcurrentCommit, Lakehouse
from aerotwin.lakehouse.maintenance import maintain
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.report import layers
from aerotwin.pipeline.runner import RunResult, run_pipeline
from aerotwin.pipeline.silver_telemetry import silver_name

from .conftest import (
    assert_same_tables,
    content,
    free_port,
    hold_back_last_day,
    land_held_back,
    make_bucket,
    newest_commit_info,
    on_s3,
    s3_options,
)
from .test_contract_change import add_sensor, assert_sensor_added

pytestmark = pytest.mark.slow


def _run(settings: Settings) -> RunResult:
    return run_pipeline(settings, tables=load_tables(layers=("bronze", "silver")))


def test_history_then_a_new_day_on_s3_give_the_local_silver_tables(
    fresh_landing: Settings,
    first_run: tuple[Settings, RunResult],
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3, settings = on_s3(fresh_landing, s3_endpoint, "fleet-lake", "prod")
    parking = tmp_path / "parked"
    last = hold_back_last_day(settings.landing_dir, parking)
    _run(settings)
    land_held_back(parking, settings.landing_dir)
    # The new day's engine lines carry a sensor the contract gained (test_contract_change):
    # bronze's appends of a new column go through write_deltalake on the store.
    skipped = add_sensor(monkeypatch, settings.landing_dir, last)
    day = _run(settings)  # appends to bronze and merges into silver, on the store

    lakehouse = Lakehouse.from_settings(settings)
    assert not lakehouse.is_local and not (settings.data_dir / "lakehouse").exists()
    engine_log = s3.list_objects_v2(Bucket="fleet-lake", Prefix="prod/telemetry_engine/_delta_log/")
    assert [o["Key"] for o in engine_log["Contents"]][:2] == [
        "prod/telemetry_engine/_delta_log/00000000000000000000.json",
        "prod/telemetry_engine/_delta_log/00000000000000000001.json",
    ]
    bronze_files = query(
        lakehouse,
        "SELECT DISTINCT _source_file FROM bronze_telemetry_engine "
        f"WHERE _batch_id = {lakehouse.table('bronze_telemetry_engine').version()}",
        ["bronze_telemetry_engine"],
    ).column(0)
    assert bronze_files.to_pylist() and all(f"/{last}/" in f for f in bronze_files.to_pylist())
    assert {t.table_name for t in day.changed} >= {"telemetry_engine", "flights"}
    assert {t.refresh for t in day.changed if t.table_name == "flights"} == {"incremental"}

    local = Lakehouse.from_settings(first_run[0])
    silver = [t.name for t in load_tables(layers=("silver",))]
    assert_same_tables(lakehouse, local, [n for n in silver if n != "telemetry_engine"])
    assert_sensor_added(lakehouse, day, local, last, skipped)
    # The rest of the engine quarantine as local's: the new day's bad lines carry the sensor.
    folder, number = skipped
    raw = f"CASE WHEN record_id LIKE 'telemetry_engine/{last}/%' THEN NULL ELSE raw_record END"
    quarantine = (
        f"SELECT rule, record_id, {raw} FROM quarantine WHERE table_name = 'telemetry_engine' "
        f"AND record_id <> 'telemetry_engine/{folder}:{number}' ORDER BY ALL"
    )
    assert (
        query(lakehouse, quarantine, ["quarantine"]).to_pylist()
        == query(local, quarantine, ["quarantine"]).to_pylist()
    )

    names = table_names(lakehouse, layers())
    assert len(names) == len(load_tables(layers=("bronze", "silver"))) + 2  # events, quarantine
    versions = {name: lakehouse.table(name).version() for name in names}
    assert _run(settings).changed == []
    assert {name: lakehouse.table(name).version() for name in names} == versions

    # `tables` and `sql` read the store's root, with no local tables to fall back on.
    env = {
        "AEROTWIN_LAKEHOUSE__ROOT": "s3://fleet-lake/prod",
        "AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS": json.dumps(s3_options(s3_endpoint)),
    }
    cli = CliRunner()
    data_dir = ["--data-dir", str(tmp_path / "elsewhere")]
    result = cli.invoke(app, [*data_dir, "tables"], env=env)
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[2].strip(): line
        for line in result.output.splitlines()
        if line.count("│") > 4
    }
    assert "silver" in rows["telemetry_engine"] and "bronze" in rows["bronze_flights"]
    result = cli.invoke(app, [*data_dir, "sql", "SELECT count(*) AS n FROM aircraft"], env=env)
    assert result.exit_code == 0 and " 5 " in result.output, result.output


@pytest.mark.spark
def test_spark_takes_over_the_s3_tables_duckdb_wrote_and_builds_the_same_silver(
    fresh_landing: Settings,
    first_run: tuple[Settings, RunResult],
    s3_endpoint: str,
    tmp_path: Path,
    spark_session: Any,
) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine

    s3, settings = on_s3(fresh_landing, s3_endpoint, "spark-lake", "prod")
    parking = tmp_path / "parked"
    hold_back_last_day(settings.landing_dir, parking)
    _run(settings)  # the history on DuckDB
    land_held_back(parking, settings.landing_dir)
    lakehouse = Lakehouse.from_settings(settings)
    engine = SparkEngine(lakehouse, session=spark_session)  # the same root and options
    # Spark spends seconds on each table, whatever its size: two silver tables of each kind
    # (an event feed, a telemetry feed) show it reads and merges the tables on the store.
    on_spark = ("flights", "telemetry_engine")
    declared = [
        t
        for t in load_tables(layers=("bronze", "silver"))
        if t.layer == "bronze" or t.name in on_spark
    ]
    day = run_pipeline(settings, engine=engine, tables=declared)

    assert day.engine == "spark"
    assert {t.table_name for t in day.changed} >= set(on_spark)
    info = newest_commit_info(s3, "spark-lake", "prod/telemetry_engine")
    assert info["operation"] == "MERGE" and "Apache-Spark" in info["engineInfo"]
    assert_same_tables(lakehouse, Lakehouse.from_settings(first_run[0]), on_spark)
    assert run_pipeline(settings, engine=engine, tables=declared).changed == []


def test_a_store_that_refuses_stops_the_command_with_the_root_and_the_reason(
    s3_endpoint: str, tmp_path: Path
) -> None:
    cli = CliRunner()
    data_dir = ["--data-dir", str(tmp_path / "data")]
    no_bucket = {
        "AEROTWIN_LAKEHOUSE__ROOT": "s3://never-made/lake",
        "AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS": json.dumps(s3_options(s3_endpoint)),
    }
    for command in (["tables"], ["pipeline", "run"], ["sql", "SELECT 1"]):
        result = cli.invoke(app, [*data_dir, *command], env=no_bucket)
        assert result.exit_code == 2, (command, result.output)
        assert "lakehouse.root s3://never-made/lake" in result.output
        assert "NoSuchBucket: The specified bucket does not exist" in result.output
        assert "Traceback" not in result.output

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    refused = {
        **no_bucket,
        "AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS": json.dumps(s3_options(closed)),
    }
    result = cli.invoke(app, [*data_dir, "tables"], env=refused)
    assert result.exit_code == 2 and "Connection refused" in result.output, result.output


def test_a_commit_on_top_of_another_writers_fails_on_s3_too(s3_endpoint: str) -> None:
    # No lock file on an object store: the conditional commit is what stops a second run.
    make_bucket(s3_endpoint, "two-writers")
    options = s3_options(s3_endpoint)
    run = Lakehouse("s3://two-writers/lake", options, snapshot=True)
    other = Lakehouse("s3://two-writers/lake", options)
    run.write("bronze_x", pa.table({"k": [1]}), "append", metadata={"checkpoint": 1})
    assert run.commit_metadata("bronze_x") == {"checkpoint": 1}
    other.write("bronze_x", pa.table({"k": [1]}), "append", metadata={"checkpoint": 1})
    with pytest.raises(ConcurrentCommit, match="table bronze_x"):
        run.write("bronze_x", pa.table({"k": [2]}), "append", metadata={"checkpoint": 2})
    assert other.table("bronze_x").version() == 1
    assert sorted(other.dataset("bronze_x").to_table().column("k").to_pylist()) == [1, 1]


def test_a_process_reading_an_s3_table_exits_cleanly(
    s3_endpoint: str, read_and_exit: Callable[..., list[tuple[int, str]]]
) -> None:
    make_bucket(s3_endpoint, "read-and-exit")
    options = s3_options(s3_endpoint)
    lakehouse = Lakehouse("s3://read-and-exit/lake", options)
    for day in range(4):
        lakehouse.write("t", pa.table({"k": list(range(day * 100, day * 100 + 100))}), "append")
    # Scanned on Arrow's threads, 14 of 30 such processes aborted (code 134) as they exited.
    assert read_and_exit("s3://read-and-exit/lake", options, "t", 6) == [(0, "400")] * 6


def test_optimize_compacts_and_vacuums_an_s3_table_without_moving_its_data_version(
    s3_endpoint: str,
) -> None:
    make_bucket(s3_endpoint, "small-files")
    lakehouse = Lakehouse("s3://small-files/lake", s3_options(s3_endpoint))
    for day in range(5):  # five daily appends: five small files
        lakehouse.write("t", pa.table({"k": [day, day + 10]}), "append", metadata={"day": day})
    data_version = lakehouse.data_version("t")

    (done,) = maintain(lakehouse, ["t"], retain_hours=0)
    assert (done.files_before, done.files_after, done.files_deleted) == (5, 1, 5)
    assert done.version == 5  # the compaction's commit, after the five writes
    assert sorted(lakehouse.dataset("t").to_table().column("k").to_pylist()) == sorted(
        [d for day in range(5) for d in (day, day + 10)]
    )
    assert lakehouse.data_version("t") == data_version  # not new input for the pipeline
    # The pipeline's metadata (its checkpoint, its watermark) is carried over.
    assert (lakehouse.commit_metadata("t") or {}).get("day") == 4


def test_sigkill_part_way_on_s3_then_rerun_ends_as_an_uninterrupted_run(
    fresh_landing: Settings,
    first_run: tuple[Settings, RunResult],
    s3_endpoint: str,
) -> None:
    s3 = make_bucket(s3_endpoint, "crash-lake")
    options = s3_options(s3_endpoint)
    env = {
        **os.environ,
        "AEROTWIN_LAKEHOUSE__ROOT": "s3://crash-lake/lake",
        "AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS": json.dumps(options),
    }
    command = [sys.executable, "-c", "from aerotwin.cli import app; app()"]
    run = [*command, "--data-dir", str(fresh_landing.data_dir), "pipeline", "run"]
    process = subprocess.Popen(run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Killed as soon as a late bronze table has its first commit: part-way through bronze.
    marker = "lake/bronze_telemetry_avionics/_delta_log/"
    deadline = time.monotonic() + 120
    while not s3.list_objects_v2(Bucket="crash-lake", Prefix=marker).get("KeyCount"):
        assert process.poll() is None, "the run ended before the kill"
        assert time.monotonic() < deadline, "the marker never appeared"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()

    settings = with_section(
        fresh_landing, "lakehouse", root="s3://crash-lake/lake", storage_options=options
    )
    lakehouse = Lakehouse.from_settings(settings)
    assert not lakehouse.exists(silver_name("airframe"))  # the kill really was part-way
    medallion = load_tables(layers=("bronze", "silver"))
    _run(settings)
    local = Lakehouse.from_settings(first_run[0])
    for table in load_tables(layers=("silver",)):
        assert content(lakehouse, table.name) == content(local, table.name), table.name
    counts = "SELECT count(*) AS n, count(DISTINCT (table_name, record_id)) AS d FROM quarantine"
    quarantined = query(lakehouse, counts, ["quarantine"]).to_pylist()[0]
    assert quarantined["n"] == quarantined["d"] == local.state("quarantine").rows
    assert run_pipeline(settings, tables=medallion).changed == []


def test_a_purge_that_changes_no_row_is_not_taken_for_an_interrupted_one(
    fresh_landing: Settings, s3_endpoint: str
) -> None:
    # deltalake (and Spark) commit nothing for a merge that changes no row: the purge of a
    # reference table with no quarantined row leaves quarantine's record as it was.
    _, settings = on_s3(fresh_landing, s3_endpoint, "purge-lake", "prod")
    tables = [t for t in load_tables() if t.name in ("bronze_airports", "airports")]
    reference = settings.landing_dir / "reference" / "airports.csv"
    clean = reference.read_text()
    reference.write_text(clean + "ZZZ,Bad,Nowhere,Nowhere,north,0.0,arid\n")
    run_pipeline(settings, tables=tables)  # quarantines the bad row
    reference.write_text(clean)
    run_pipeline(settings, tables=tables)  # purges it
    reference.write_text(clean + "ZZY,Good,Somewhere,Somewhere,10.0,20.0,arid\n")
    run_pipeline(settings, tables=tables)  # a purge with nothing to purge
    lakehouse = Lakehouse.from_settings(settings)
    sql = "SELECT count(*) FROM quarantine"
    assert query(lakehouse, sql, ["quarantine"]).column(0).to_pylist() == [0]
    assert run_pipeline(settings, tables=tables).changed == []
