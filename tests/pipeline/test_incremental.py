"""Incremental runs: a rerun changes nothing, a new day is ingested alone, full refresh agrees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.bronze import checkpoint
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import INPUT_IDS, RunResult, _replaced_inputs, run_pipeline
from aerotwin.pipeline.silver_telemetry import bronze_name, silver_name
from aerotwin.schemas import COMPONENT_TYPES

from .conftest import (
    assert_corrections_counted,
    assert_corrections_won,
    assert_same_tables,
    copy_landing,
    hold_back_last_day,
    land_corrections,
    land_held_back,
    rows_from,
)


def _run(settings: Settings, full_refresh: bool = False) -> RunResult:
    """Bronze and silver only: this area's tables (gold has its own tests)."""
    tables = load_tables(layers=("bronze", "silver"))
    return run_pipeline(settings, full_refresh=full_refresh, tables=tables)


def _versions(lakehouse: Lakehouse) -> dict[str, int]:
    return {name: lakehouse.table(name).version() for name in lakehouse.names()}


def _silver(lakehouse: Lakehouse, name: str) -> pa.Table:
    columns = "* EXCLUDE (_ingested_ts, _batch_id)"
    return query(lakehouse, f"SELECT {columns} FROM {name} ORDER BY ALL", [name])


def test_rerun_without_new_files_changes_no_table(fresh_landing: Settings) -> None:
    settings = fresh_landing
    run_pipeline(settings)
    lakehouse = Lakehouse.from_settings(settings)
    before = _versions(lakehouse)
    assert len(before) == len(load_tables()) + 2  # + pipeline_events and quarantine
    result = run_pipeline(settings)
    assert result.changed == []
    assert _versions(lakehouse) == before


def test_a_new_day_is_ingested_alone_and_merged(fresh_landing: Settings, tmp_path: Path) -> None:
    settings = fresh_landing
    parking = tmp_path / "parked"
    last = hold_back_last_day(settings.landing_dir, parking)
    _run(settings)
    lakehouse = Lakehouse.from_settings(settings)
    silver_before = {ct: lakehouse.state(silver_name(ct)).rows for ct in COMPONENT_TYPES}

    land_held_back(parking, settings.landing_dir)
    result = _run(settings)

    for ct in COMPONENT_TYPES:
        bronze = bronze_name(ct)
        new_version = lakehouse.table(bronze).version()
        files = query(
            lakehouse,
            f"SELECT DISTINCT _source_file FROM {bronze} WHERE _batch_id = {new_version}",
            [bronze],
        ).column(0)
        assert files.to_pylist() and all(f"/{last}/" in f for f in files.to_pylist())
        landed = sum(
            len(p.read_text().splitlines()) for p in settings.landing_dir.glob(f"*{ct}/{last}/*")
        )
        event = next(t for t in result.tables if t.table_name == bronze)
        assert event.rows_in == landed
        silver = next(t for t in result.tables if t.table_name == silver_name(ct))
        assert silver.rows_in == landed  # only the new batch went through silver
        # Merged in: the day's rows (new keys) are added, every earlier row stays as it was.
        merged = query(
            lakehouse,
            f"SELECT count(*) FILTER (_batch_id = {new_version}), count(*) FROM {silver_name(ct)}",
            [silver_name(ct)],
        ).to_pylist()[0]
        added, total = merged.values()
        assert 0 < added == silver.rows_out
        assert total == silver_before[ct] + added == lakehouse.state(silver_name(ct)).rows


def test_incremental_history_equals_full_refresh(fresh_landing: Settings, tmp_path: Path) -> None:
    """Two incremental runs (history, then the last day) give what one full refresh gives."""
    settings = fresh_landing
    parking = tmp_path / "parked"
    hold_back_last_day(settings.landing_dir, parking)
    _run(settings)
    land_held_back(parking, settings.landing_dir)
    _run(settings)
    lakehouse = Lakehouse.from_settings(settings)
    incremental = {ct: _silver(lakehouse, silver_name(ct)) for ct in COMPONENT_TYPES}
    quarantined = lakehouse.state("quarantine").rows

    result = _run(settings, full_refresh=True)
    assert {t.table_name for t in result.changed} >= {silver_name(ct) for ct in COMPONENT_TYPES}
    for ct in COMPONENT_TYPES:
        assert _silver(lakehouse, silver_name(ct)).equals(incremental[ct])
    assert lakehouse.state("quarantine").rows == quarantined


def test_a_deleted_bronze_table_rebuilt_from_landing_rebuilds_silver_in_full(
    bad_landing: Settings, fresh_landing: Settings, tmp_path: Path
) -> None:
    """A bronze table deleted (as a damaged log's error advises) and rebuilt from the landing
    zone starts again at version 0: silver, whose watermark counts the old table's versions,
    is rebuilt in full and holds what a fresh run over the same landing zone gives."""
    settings = fresh_landing
    parking = tmp_path / "parked"
    hold_back_last_day(settings.landing_dir, parking)
    _run(settings)
    bronze, silver = bronze_name("engine"), silver_name("engine")
    silver_before = Lakehouse.from_settings(settings).state(silver).rows
    land_held_back(parking, settings.landing_dir)
    shutil.rmtree(Lakehouse.from_settings(settings).local_path(bronze) or "")

    result = _run(settings)

    expected = copy_landing(bad_landing, tmp_path / "expected")
    _run(expected)
    lakehouse, fresh = Lakehouse.from_settings(settings), Lakehouse.from_settings(expected)
    assert lakehouse.version(bronze) == 0  # rebuilt: the version silver last read, again
    event = next(t for t in result.tables if t.table_name == silver)
    assert (event.status, event.refresh) == ("ok", "full")
    assert event.message == f"{bronze} deleted and rebuilt since the last build: rebuilt in full"
    assert lakehouse.state(silver).rows == fresh.state(silver).rows > silver_before
    assert_same_tables(lakehouse, fresh, [bronze, silver])


def test_an_input_is_rebuilt_when_its_table_id_changed_or_else_its_version_went_down() -> None:
    # `a` was read with its table id recorded; `b` by a build from before ids were recorded.
    last = {"inputs": {"a": 3, "b": 3}, INPUT_IDS: {"a": "id-a"}}
    ids = {"a": "id-a", "b": "id-b"}
    assert _replaced_inputs(last, {"a": 3, "b": 3}, ids) == []
    assert _replaced_inputs(last, {"a": 4, "b": 4}, ids) == []  # new commits: new input
    assert _replaced_inputs(last, {"a": 3, "b": 2}, {**ids, "a": "id-a2"}) == ["a", "b"]


def test_a_corrected_file_landed_by_a_later_run_wins_on_merge_and_on_full_refresh(
    fresh_landing: Settings,
) -> None:
    """A resent file lands beside the original (docs/landing_zone.md) under a name sorting
    before it: the later run's rows win, merged in and rebuilt from bronze alike."""
    settings = fresh_landing
    _run(settings)
    lakehouse = Lakehouse.from_settings(settings)
    landed = land_corrections(settings.landing_dir)
    before = {t: rows_from(lakehouse, t, files[:1]) for t, files in landed.items()}

    result = _run(settings)
    assert_corrections_won(lakehouse, landed, before)
    assert_corrections_counted(result, landed, before)

    _run(settings, full_refresh=True)
    assert_corrections_won(lakehouse, landed, before)


def test_a_growing_file_is_read_from_where_it_stopped(fresh_landing: Settings) -> None:
    settings = fresh_landing
    _run(settings)
    lakehouse = Lakehouse.from_settings(settings)
    target = sorted(settings.landing_dir.glob("telemetry_airframe/date=*/*.jsonl"))[-1]
    lines = target.read_text().splitlines()
    count = len(lines)
    with target.open("a") as f:
        f.write(lines[0] + "\n")
        f.write('{"component_id": "half a line')  # still being written: must wait
    _run(settings)
    relative = target.relative_to(settings.landing_dir).as_posix()
    rows = query(
        lakehouse,
        f"SELECT _line, _raw FROM bronze_telemetry_airframe WHERE _source_file = '{relative}' "
        "ORDER BY _line",
        ["bronze_telemetry_airframe"],
    ).to_pylist()
    assert [r["_line"] for r in rows] == list(range(1, count + 2))
    assert rows[-1]["_raw"] == lines[0]
    with target.open("a") as f:
        f.write('"}\n')
    _run(settings)
    last = query(
        lakehouse,
        f"SELECT max(_line) FROM bronze_telemetry_airframe WHERE _source_file = '{relative}'",
        ["bronze_telemetry_airframe"],
    ).column(0)[0]
    assert last.as_py() == count + 2


def test_the_checkpoint_is_committed_with_the_rows(first_run: tuple[Settings, RunResult]) -> None:
    settings, _ = first_run
    lakehouse = Lakehouse.from_settings(settings)
    for ct in COMPONENT_TYPES:
        marks = checkpoint(lakehouse, bronze_name(ct))
        landed = sorted(settings.landing_dir.glob(f"telemetry_{ct}/date=*/*.jsonl"))
        assert len(marks) == len(landed)
        for path in landed:
            mark = marks[path.relative_to(settings.landing_dir).as_posix()]
            assert (mark.line, mark.offset) == (path.read_bytes().count(b"\n"), path.stat().st_size)
        # The commit's metadata holds it: no bronze row is read to know what was ingested.
        assert lakehouse.commit_metadata(bronze_name(ct))["checkpoint"]  # type: ignore[index]


def test_rows_held_for_an_aircraft_the_reference_lacked_pass_after_a_full_refresh(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult]
) -> None:
    # A new aircraft's telemetry can land before the reference file that names it.
    reference = fresh_landing.landing_dir / "reference" / "aircraft.csv"
    complete = reference.read_text()
    late = next(line for line in complete.splitlines()[1:])
    reference.write_text(complete.replace(late + "\n", ""))
    _run(fresh_landing)
    lakehouse = Lakehouse.from_settings(fresh_landing)
    tail = late.split(",")[0]
    held = (
        "SELECT count(*) FROM quarantine WHERE table_name = 'telemetry_engine' "
        f"AND rule = 'unknown_aircraft' AND raw_record LIKE '%\"{tail}\"%'"
    )
    (before,) = query(lakehouse, held, ["quarantine"]).column(0).to_pylist()
    assert before > 0
    reference.write_text(complete)  # the reference catches up
    _run(fresh_landing)
    # An incremental run types new lines only: the held rows wait for a rebuild.
    assert query(lakehouse, held, ["quarantine"]).column(0).to_pylist() == [before]
    _run(fresh_landing, full_refresh=True)
    assert query(lakehouse, held, ["quarantine"]).column(0).to_pylist() == [0]
    names = [silver_name(ct) for ct in COMPONENT_TYPES]
    assert_same_tables(lakehouse, Lakehouse.from_settings(first_run[0]), names)


def _with_latitude(lines: list[str], index: int, value: str) -> str:
    """airports.csv's `lines` with line `index` (0: the header) given latitude `value`."""
    fields = lines[index].split(",")
    fields[lines[0].split(",").index("latitude")] = value
    return "\n".join([*lines[:index], ",".join(fields), *lines[index + 1 :]]) + "\n"


def test_a_replaced_reference_file_replaces_its_quarantine_rows(fresh_landing: Settings) -> None:
    # airports is rebuilt from its whole input on every change (mode overwrite), not refreshed.
    tables = [t for t in load_tables() if t.name in ("bronze_airports", "airports")]
    reference = fresh_landing.landing_dir / "reference" / "airports.csv"
    lines = reference.read_text().splitlines()
    lakehouse = Lakehouse.from_settings(fresh_landing)

    def quarantined() -> list[tuple[str, str, str]]:
        sql = "SELECT record_id, rule, raw_record FROM quarantine WHERE table_name = 'airports'"
        return [tuple(r.values()) for r in query(lakehouse, sql, ["quarantine"]).to_pylist()]

    def in_silver(code: str) -> bool:
        sql = f"SELECT count(*) FROM airports WHERE airport_code = '{code}'"
        return query(lakehouse, sql, ["airports"]).column(0).to_pylist() == [1]

    record = "reference/airports.csv:{}".format
    reference.write_text(_with_latitude(lines, 2, "north"))
    run_pipeline(fresh_landing, tables=tables)
    (first,) = quarantined()
    assert first[:2] == (record(3), "wrong_type")
    assert not in_silver(lines[2].split(",")[0])

    fixed = _with_latitude(lines, 3, "south")  # line 3 fixed, line 4 broken
    reference.write_text(fixed)
    run_pipeline(fresh_landing, tables=tables)
    assert quarantined() == [(record(4), "wrong_type", fixed.splitlines()[3])]
    assert in_silver(lines[2].split(",")[0])

    other = _with_latitude(lines, 3, "east")  # the same line broken another way
    reference.write_text(other)
    result = run_pipeline(fresh_landing, tables=tables)
    assert quarantined() == [(record(4), "wrong_type", other.splitlines()[3])]
    sql = "SELECT run_id FROM quarantine WHERE table_name = 'airports'"
    assert query(lakehouse, sql, ["quarantine"]).column(0).to_pylist() == [result.run_id]
