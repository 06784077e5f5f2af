"""Maintenance: compaction and vacuum change no row, and the pipeline takes neither for input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

from aerotwin.cli import app
from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.maintenance import maintain, small_file_groups
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline
from aerotwin.pipeline.silver_telemetry import silver_name
from aerotwin.schemas import COMPONENT_TYPES

from .conftest import copy_landing

SILVER = [silver_name(ct) for ct in COMPONENT_TYPES]


def _run(settings: Settings) -> RunResult:
    return run_pipeline(settings, tables=load_tables(layers=("bronze", "silver")))


def _rows(lakehouse: Lakehouse, name: str) -> pa.Table:
    columns = "* EXCLUDE (_ingested_ts, _batch_id)"
    return query(lakehouse, f"SELECT {columns} FROM {name} ORDER BY ALL", [name])


def _files_on_disk(lakehouse: Lakehouse, name: str) -> int:
    folder = lakehouse.local_path(name)
    assert folder is not None
    return sum(1 for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts)


def _day_by_day(settings: Settings, parking: Path) -> list[str]:
    """Move every date= partition out of the landing zone; the dates, oldest first."""
    for part in list(settings.landing_dir.glob("*/date=*")):
        target = parking / part.parent.name / part.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(part, target)
    return sorted({p.name for p in parking.glob("*/date=*")})


def _land(settings: Settings, parking: Path, day: str) -> None:
    for part in parking.glob(f"*/{day}"):
        shutil.move(part, settings.landing_dir / part.parent.name / part.name)


def test_small_files_are_grouped_per_month_up_to_the_target_size() -> None:
    paths = [
        "part-a/__month=202601/data_0.parquet",
        "part-b/__month=202601/data_0.parquet",
        "part-c/__month=202602/data_0.parquet",  # alone in its month: left as it is
        "part-d/__month=202601/data_0.parquet",  # large: left as it is
        "part-e/data_0.parquet",
        "part-f/data_0.parquet",
        "part-g/data_0.parquet",
    ]
    sizes = [10, 20, 5, 500, 60, 60, 60]
    assert small_file_groups(paths, sizes, target_bytes=100) == [
        ["part-e/data_0.parquet", "part-f/data_0.parquet"],  # 120 >= 100: a group is full
        ["part-a/__month=202601/data_0.parquet", "part-b/__month=202601/data_0.parquet"],
    ]


def test_compaction_and_vacuum_change_no_row_and_are_not_new_input(
    bad_landing: Settings, tmp_path: Path
) -> None:
    settings = copy_landing(bad_landing, tmp_path / "data")
    parking = tmp_path / "parked"
    days = _day_by_day(settings, parking)
    held = days[-3:]  # the last day and the late records after it: a new day, later
    for day in days[:-3]:  # daily operation: one run per day, each adds files
        _land(settings, parking, day)
        _run(settings)
    lakehouse = Lakehouse.from_settings(settings)
    before = {name: _rows(lakehouse, name) for name in SILVER}
    files_before = {name: _files_on_disk(lakehouse, name) for name in lakehouse.names()}

    done = maintain(lakehouse, lakehouse.names(), retain_hours=0)

    fresh = Lakehouse.from_settings(settings)
    compacted = {m.table: m for m in done}
    engine = compacted[silver_name("engine")]
    # Days of January, a file a day: one file, the month's.
    assert engine.files_before >= 7 and engine.files_after == 1
    # Files replaced by merges and by the compaction are gone from disk.
    assert _files_on_disk(fresh, "bronze_telemetry_engine") == 1
    assert all(_files_on_disk(fresh, n) <= files_before[n] for n in files_before)
    for name in SILVER:
        assert _rows(fresh, name).equals(before[name])
        assert fresh.version(name) > (fresh.data_version(name) or 0)  # maintenance commits

    assert (
        compacted["bronze_telemetry_engine"].files_deleted
        == files_before["bronze_telemetry_engine"]
    )  # the daily files, replaced by the compacted one
    again = maintain(fresh, ["flights"], retain_hours=0)[0]
    assert (again.files_after, again.files_deleted, again.version) == (1, 0, None)

    rerun = _run(settings)
    assert rerun.changed == []  # a compacted or vacuumed input is not new input

    for day in held:
        _land(settings, parking, day)
    result = _run(settings)
    assert {silver_name(ct) for ct in COMPONENT_TYPES} <= {t.table_name for t in result.changed}

    # The same landing zone in one run, never compacted: the same silver rows.
    reference = copy_landing(settings, tmp_path / "reference")
    _run(reference)
    reference_lakehouse = Lakehouse.from_settings(reference)
    for name in SILVER:
        assert _rows(fresh, name).equals(_rows(reference_lakehouse, name)), name


def test_optimize_command_reports_each_table_and_names_unknown_ones(
    first_run: tuple[Settings, RunResult], tmp_path: Path
) -> None:
    settings, _ = first_run
    data_dir = tmp_path / "data"
    shutil.copytree(settings.data_dir, data_dir)
    runner = CliRunner()
    result = runner.invoke(app, ["--data-dir", str(data_dir), "optimize", "flights", "quarantine"])
    assert result.exit_code == 0, result.output
    assert "flights" in result.output and "quarantine" in result.output
    missing = runner.invoke(app, ["--data-dir", str(data_dir), "optimize", "nope"])
    assert missing.exit_code == 2 and "no table nope" in missing.output
