"""The pipeline's CLI: run, tables, sql; errors name what is wrong."""

from __future__ import annotations

import datetime as dt
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from aerotwin.cli import app
from aerotwin.config import Settings, load_settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.run_lock import LOCK_FILE
from aerotwin.pipeline.events import TableRun, append_events

runner = CliRunner()
CLI = [sys.executable, "-c", "from aerotwin.cli import app; app()"]
NOW = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *args])
    return result.exit_code, result.output


@pytest.mark.slow
def test_run_tables_sql_and_errors(fresh_landing: Settings) -> None:
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 0, out
    assert "telemetry_engine" in out and "quarantined" in out and "tables written" in out
    run_id = re.search(r"run ([0-9a-f]{12}) \(duckdb, incremental\)", out)
    assert run_id, out
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 0 and "nothing new, every table up to date" in out

    code, out = _cli(fresh_landing, "pipeline", "history")
    assert code == 0, out
    lakehouse = Lakehouse.from_settings(fresh_landing)
    bronze = [n for n in lakehouse.names() if n.startswith("bronze_")]
    landed = sum(lakehouse.state(n).rows for n in bronze)
    quarantined = lakehouse.state("quarantine").rows
    tables = len(lakehouse.names()) - 2  # all but pipeline_events and quarantine
    (line,) = out.splitlines()  # one run: the rerun found nothing new and recorded nothing
    assert line.startswith(f"{run_id.group(1)}  ") and " UTC  duckdb incremental  " in line
    assert line.endswith(f"  {tables} tables  {landed:,} lines landed  {quarantined:,} quarantined")

    code, out = _cli(fresh_landing, "tables")
    assert code == 0, out
    rows = {line.split("│")[2].strip(): line for line in out.splitlines() if line.count("│") > 4}
    assert "bronze" in rows["bronze_flights"] and "silver" in rows["telemetry_engine"]
    assert "system" in rows["quarantine"]

    code, out = _cli(
        fresh_landing, "sql", "SELECT count(DISTINCT aircraft_id) AS fleet FROM aircraft"
    )
    assert code == 0 and "fleet" in out and " 5 " in out

    code, out = _cli(fresh_landing, "sql", "SELECT nope FROM aircraft")
    assert code == 2 and "SQL error" in out and "nope" in out
    code, out = _cli(fresh_landing, "pipeline", "run", "--engine", "flink")
    assert code == 2 and "'flink' is not duckdb or spark" in out

    # A table the runner rebuilds in full says why on its progress line.
    shutil.rmtree(lakehouse.local_path("bronze_telemetry_engine") or "")
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 0, out
    (line,) = [x for x in out.splitlines() if x.startswith("  telemetry_engine ")]
    assert line.endswith(
        "s): bronze_telemetry_engine deleted and rebuilt since the last build: rebuilt in full"
    ), line


@pytest.mark.slow
def test_tables_waiting_for_a_feed_never_landed_are_named_until_an_empty_file_lands(
    fresh_landing: Settings, tmp_path: Path
) -> None:
    # An airline with no airframe sensors: its twin and aircraft summary need that feed.
    landing = fresh_landing.landing_dir
    days = sorted(p.name for p in (landing / "telemetry_airframe").iterdir())
    shutil.move(landing / "telemetry_airframe", tmp_path / "telemetry_airframe")
    why = "(nothing ingested yet from landing/telemetry_airframe/)"
    waiting = [
        "telemetry_airframe",
        "features_airframe",
        "component_health_airframe",
        "digital_twin_component_view",
        "aircraft_status_summary",
    ]
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 0, out
    assert f"\nwaiting {why}: {', '.join(waiting)}\n" in out
    assert "a .jsonl holding one empty line (docs/pipeline.md, Waiting tables)" in out
    lakehouse = Lakehouse.from_settings(fresh_landing)
    assert not any(lakehouse.exists(name) for name in waiting)  # no empty table invented
    sql = "SELECT table_name, message FROM pipeline_events WHERE status = 'waiting'"
    events = {e["table_name"]: e["message"] for e in query(lakehouse, sql).to_pylist()}
    assert sorted(events) == sorted(waiting)
    assert events["telemetry_airframe"] == f"inputs never built: bronze_telemetry_airframe {why}"
    assert events["digital_twin_component_view"] == (
        f"inputs never built: features_airframe, component_health_airframe {why}"
    )
    code, out = _cli(fresh_landing, "pipeline", "history")
    run, detail = out.splitlines()
    assert run.endswith("quarantined  WAITING: 5 tables")
    assert f"{len(lakehouse.names()) - 2} tables  " in run  # the tables written, not waiting
    assert detail == f"    waiting {why}: {', '.join(sorted(waiting))}"

    # Each run says so again; one that changes nothing still records nothing.
    events_version = lakehouse.version("pipeline_events")
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 0 and "nothing new, every table built up to date\nwaiting (" in out, out
    assert lakehouse.version("pipeline_events") == events_version

    # The way out for a feed the airline does not have: a file with no record.
    empty = landing / "telemetry_airframe" / days[0] / "part-00000.jsonl"
    empty.parent.mkdir(parents=True)
    empty.write_text("\n")
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 0 and "waiting" not in out, out
    assert all(lakehouse.exists(name) for name in waiting)
    assert lakehouse.state("telemetry_airframe").rows == 0
    assert lakehouse.state("aircraft_status_summary").rows == 5


def test_a_missing_landing_zone_stops_the_run_and_brackets_show_as_they_are(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path / "typo")]
    result = runner.invoke(app, [*data_dir, "pipeline", "run"])
    assert result.exit_code == 2
    assert f"no landing zone at {tmp_path / 'typo' / 'landing'}" in result.output
    assert not (tmp_path / "typo").exists()  # no lakehouse started in the wrong place
    result = runner.invoke(app, [*data_dir, "tables"])
    assert result.exit_code == 0 and "no table yet: `aerotwin pipeline run` builds" in result.output
    # DuckDB echoes the statement; Rich would read "[/x]" as a closing tag and crash.
    result = runner.invoke(app, [*data_dir, "sql", "SELECT '[/x]' AND"])
    assert result.exit_code == 2, result.output
    assert "SQL error: Parser Error" in result.output and "SELECT '[/x]' AND" in result.output
    result = runner.invoke(app, [*data_dir, "sql", "SELECT '[/x] [egt_c]' AS \"[v]\""])
    assert result.exit_code == 0 and "[v]" in result.output and "[/x] [egt_c]" in result.output

    # A failure's message is shown as it was recorded.
    failed = TableRun(
        "r1",
        "telemetry_engine",
        "silver",
        "duckdb",
        "incremental",
        NOW,
        "failed",
        message="expectation [/x] failed",
    )
    append_events(Lakehouse(str(tmp_path / "typo" / "lakehouse")), [failed])
    result = runner.invoke(app, [*data_dir, "pipeline", "history"])
    assert result.exit_code == 0, result.output
    assert "failed telemetry_engine: expectation [/x] failed" in result.output


def test_spark_without_java_or_jars_stops_with_what_is_missing(
    fresh_landing: Settings, tmp_path: Path
) -> None:
    run = ["--data-dir", str(fresh_landing.data_dir), "pipeline", "run", "--engine", "spark"]
    result = runner.invoke(app, run, env={"JAVA_HOME": str(tmp_path / "no-jdk")})
    assert result.exit_code == 2, result.output
    assert f"Spark needs Java 17 or later: JAVA_HOME is {tmp_path / 'no-jdk'}" in result.output
    result = runner.invoke(app, run, env={"AEROTWIN_IVY_DIR": str(tmp_path / "no-ivy")})
    assert result.exit_code == 2, result.output
    assert f"Delta Lake jars not found in {tmp_path / 'no-ivy' / 'jars'}" in result.output
    events = Lakehouse.from_settings(fresh_landing).read("pipeline_events").to_pylist()
    # Each run recorded its failure: the first table that needed the engine, and why.
    failed = {e["message"].split(":")[0] for e in events if e["status"] == "failed"}
    assert failed == {
        "Spark needs Java 17 or later",
        f"Delta Lake jars not found in {tmp_path / 'no-ivy' / 'jars'}",
    }


def test_spark_that_cannot_start_stops_the_run_in_one_line_naming_the_setting(
    fresh_landing: Settings, tmp_path: Path
) -> None:
    # In a process of its own: a Spark session already open in this one would be reused.
    data_dir = ["--data-dir", str(fresh_landing.data_dir)]
    command = [*CLI, *data_dir, "pipeline", "run", "--engine", "spark"]
    java = tmp_path / "jdk" / "bin" / "java"  # a broken JDK, or one too old to start Spark
    java.parent.mkdir(parents=True)
    java.write_text('#!/bin/sh\necho "Error: could not create the Java VM" >&2\nexit 1\n')
    java.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens on it once the socket is closed
    master = f"spark://127.0.0.1:{closed}"
    cases = {
        "JAVA_HOME": (
            {"JAVA_HOME": str(java.parent.parent)},
            f"JAVA_HOME/bin/java ({java}) cannot start a JVM (exit code 1: Error: could not "
            "create the Java VM)",
        ),
        "master": (
            {"AEROTWIN_PIPELINE__SPARK_MASTER": master},
            f"pipeline.spark_master {master}: no Spark master answers",
        ),
    }
    for env, expected in cases.values():
        started = time.monotonic()
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, **env}, timeout=120
        )
        assert done.returncode == 2, done.stderr
        assert time.monotonic() - started < 30  # Spark alone retries the master for a minute
        assert "Traceback" not in done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and expected in errors[0], done.stderr
    events = Lakehouse.from_settings(fresh_landing).read("pipeline_events").to_pylist()
    failed = [e["message"] for e in events if e["status"] == "failed"]
    assert len(failed) == 2 and all("\n" not in m and len(m) < 400 for m in failed), failed


def test_a_landing_folder_that_is_no_day_stops_the_run_until_it_is_moved(
    fresh_landing: Settings, tmp_path: Path
) -> None:
    day = next((fresh_landing.landing_dir / "telemetry_engine").glob("date=*"))
    bad = day.with_name("date=2026-02-30")
    bad.mkdir()
    (bad / "part-00000.jsonl").write_bytes((day / "part-00000.jsonl").read_bytes())
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 1
    assert "pipeline stopped: landing folder telemetry_engine/date=2026-02-30: day is out" in out
    events = Lakehouse.from_settings(fresh_landing).read("pipeline_events").to_pylist()
    assert [e["table_name"] for e in events if e["status"] == "failed"] == [
        "bronze_telemetry_engine"
    ]
    bad.rename(tmp_path / bad.name)
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 0, out


def test_sql_without_a_statement_or_a_result_says_so(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*data_dir, "sql", "  "])
    assert result.exit_code == 2 and "error: no SQL statement given" in result.output
    result = runner.invoke(app, [*data_dir, "sql", ""])
    assert result.exit_code == 2 and "error: no SQL statement given" in result.output
    result = runner.invoke(app, [*data_dir, "sql", "SELECT 1 AS n"])
    assert result.exit_code == 0 and "\n1 row(s)\n" in result.output  # the caption on one line


def test_a_missing_rules_file_stops_the_run_with_its_name_key_and_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "project" / "aerotwin.toml"
    (config.parent / "data" / "landing").mkdir(parents=True)
    config.write_text('data_dir = "data"\n[twin]\nrules_file = "no-such-rules.yaml"\n')
    monkeypatch.chdir(tmp_path)  # not the file's folder: its paths are relative to its folder
    result = runner.invoke(app, ["--config", str(config), "pipeline", "run"])
    assert result.exit_code == 2, result.output
    rules = config.parent / "no-such-rules.yaml"
    expected = f"error: {rules}: rules file not found (twin.rules_file, from {config})\n"
    assert result.output == expected
    monkeypatch.setenv("AEROTWIN_TWIN__RULES_FILE", "mine.yaml")
    result = runner.invoke(app, ["--config", str(config), "pipeline", "run"])
    expected = (
        "error: mine.yaml: rules file not found (twin.rules_file, from AEROTWIN_TWIN__RULES_FILE)"
    )
    assert result.output == expected + "\n"


def test_a_damaged_table_log_stops_each_command_with_the_table_named(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path / "lakehouse"))
    lakehouse.write("flights", pa.table({"flight_id": ["F1"]}), "append")
    (tmp_path / "lakehouse" / "flights" / "_delta_log" / "00000000000000000000.json").write_text(
        "garbage{"
    )
    lakehouse.write("weather", pa.table({"airport": ["AAA", "BBB"]}), "append")
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "sql", "SELECT * FROM flights"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: table flights under "), result.output
    assert "Traceback" not in result.output
    # The listing still shows every table, the damaged one said so, then the error.
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "tables"])
    assert result.exit_code == 1, result.output
    rows = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert "silver flights - - log damaged" in rows, result.output
    assert any(r.startswith("silver weather 2 0 ") for r in rows), result.output
    assert "\nerror: table flights under " in result.output
    assert "Traceback" not in result.output


def test_sql_reads_only_the_tables_its_statement_names(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path / "lakehouse"))
    lakehouse.write("flights", pa.table({"flight_id": ["F1"]}), "append")
    lakehouse.write("weather", pa.table({"airport": ["AAA", "BBB"]}), "append")
    (tmp_path / "lakehouse" / "flights" / "_delta_log" / "00000000000000000000.json").write_text(
        "garbage{"
    )
    for statement in ("SELECT count(*) AS n FROM weather", "SELECT 2 AS n"):
        result = runner.invoke(app, ["--data-dir", str(tmp_path), "sql", statement])
        assert result.exit_code == 0, result.output
        assert "│ 2    │" in result.output, result.output
    for statement in (
        "WITH f AS (SELECT * FROM Flights) SELECT count(*) FROM f, weather",
        "SELECT count(*) FROM weather w JOIN main.flights f ON true",
    ):
        result = runner.invoke(app, ["--data-dir", str(tmp_path), "sql", statement])
        assert result.exit_code == 1, result.output
        assert result.output.startswith("error: table flights under "), result.output


def test_a_write_the_disk_refuses_stops_the_run_in_one_line(fresh_landing: Settings) -> None:
    lakehouse = fresh_landing.data_dir / "lakehouse"
    lakehouse.mkdir()
    (lakehouse / "bronze_airports").write_text("a file where the table's folder goes")
    code, out = _cli(fresh_landing, "pipeline", "run")
    assert code == 1, out
    assert "pipeline stopped: [Errno 17] File exists: " in out and "bronze_airports" in out
    assert "Traceback" not in out
    code, out = _cli(fresh_landing, "pipeline", "history")
    assert "failed bronze_airports: [Errno 17] File exists" in out


def _cli_with_file_limit(data_dir: Path, limit: int, *args: str) -> tuple[int, str]:
    """The command in a process whose files may not grow past `limit` bytes: the kernel
    refuses the write (EFBIG) as a full disk does (ENOSPC), for root too and with no mount."""

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [*CLI, "--data-dir", str(data_dir), *args],
        preexec_fn=limit_files,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_disk_that_refuses_a_write_stops_optimize_and_run_in_one_line_naming_the_file(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "landing").mkdir(parents=True)
    lakehouse = Lakehouse(str(data_dir / "lakehouse"))
    for day in range(2):  # two small files: optimize compacts them into one
        lakehouse.write("flights", pa.table({"day": [day] * 3000, "n": range(3000)}), "append")
    version = lakehouse.version("flights")
    lock = data_dir / "lakehouse" / LOCK_FILE
    for command in (["pipeline", "run"], ["optimize"]):  # the lock file: the first write
        code, out = _cli_with_file_limit(data_dir, 0, *command)
        assert code == 1, out
        (line,) = out.strip().splitlines()
        assert line.endswith(f": [Errno 27] File too large: '{lock}'"), out
    code, out = _cli_with_file_limit(data_dir, 4096, "optimize")  # the compacted file
    assert code == 1, out
    (line,) = out.strip().splitlines()
    assert line.startswith("error: IO Error: ") and "File too large" in line, out
    assert lakehouse.version("flights") == version
    # A folder where the lock file goes: refused, as a read-only folder would be but for root.
    lock.unlink()
    lock.mkdir()
    result = runner.invoke(app, ["--data-dir", str(data_dir), "optimize"])
    assert result.exit_code == 1, result.output
    assert result.output == f"error: [Errno 21] Is a directory: '{lock}'\n"


def test_optimize_with_no_table_says_so_and_creates_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), "optimize"])
    assert result.exit_code == 0 and "no table yet: nothing to optimize" in result.output
    assert not (tmp_path / "data").exists()


def test_quarantine_can_be_queried_after_a_run_that_quarantined_nothing(
    bad_landing: Settings, tmp_path: Path
) -> None:
    # Reference files only, all clean: tables with drop rules run, none quarantines a row.
    data_dir = tmp_path / "data"
    shutil.copytree(bad_landing.landing_dir / "reference", data_dir / "landing" / "reference")
    settings = load_settings(None, data_dir=data_dir)
    code, out = _cli(settings, "pipeline", "run")
    assert code == 0 and "quarantined" not in out, out
    code, out = _cli(settings, "sql", "SELECT rule, count(*) FROM quarantine GROUP BY 1")
    assert code == 0, out
    lakehouse = Lakehouse.from_settings(settings)
    sql = "SELECT count(*) FROM quarantine"
    assert query(lakehouse, sql, ["quarantine"]).column(0).to_pylist() == [0]


def test_a_run_names_the_files_it_ignores_and_the_last_lines_it_holds_back(
    bad_landing: Settings, tmp_path: Path
) -> None:
    # Both went unsaid: a `.CSV` or `.ndjson` file was never read, and a last line without
    # its line break waited with no word (in a folder since closed: for ever).
    landing = tmp_path / "data" / "landing"
    shutil.copytree(bad_landing.landing_dir / "reference", landing / "reference")
    day = min(p.name for p in (bad_landing.landing_dir / "flights").glob("date=*"))
    for feed in ("flights", "telemetry_engine", "telemetry_avionics"):
        shutil.copytree(bad_landing.landing_dir / feed / day, landing / feed / day)
    flights = landing / "flights" / day / "part-00000.csv"
    flights.rename(flights.with_suffix(".CSV"))
    avionics = landing / "telemetry_avionics" / day / "part-00000.jsonl"
    avionics.rename(avionics.with_suffix(".ndjson"))
    engine = landing / "telemetry_engine" / day / "part-00000.jsonl"
    engine.write_bytes(engine.read_bytes() + b'{"component_id":"N101AT-ENG1",')
    settings = load_settings(None, data_dir=tmp_path / "data")
    expected = [
        f"note: ignored 2 files in {landing}: flights/{day}/part-00000.CSV, "
        f"telemetry_avionics/{day}/part-00000.ndjson: telemetry feeds read .jsonl files, the "
        "other feeds .csv files (docs/landing_zone.md); rename a file to have it read",
        f"note: held back the last line of 1 file in {landing}, which has no line break yet: "
        f"telemetry_engine/{day}/part-00000.jsonl: it is read once its line break lands, or "
        "once its date= folder is more than 7 days older than the newest (pipeline.open_days)",
    ]
    for _ in range(2):  # every run says so, also one that finds nothing new
        code, out = _cli(settings, "pipeline", "run")
        assert code == 0, out
        assert [line for line in out.splitlines() if line.startswith("note:")] == expected
    assert "nothing new" in out


@pytest.mark.slow
def test_demo_pipeline_step_trusts_a_simulated_year_ahead_of_the_clock(tmp_path: Path) -> None:
    from rich.console import Console

    from aerotwin.cli import _demo_pipeline, _demo_simulate
    from aerotwin.config import with_section

    # Days that have not come yet, as the demo's year has late in the year: no warning
    # (pytest turns one into an error), every table built, the newest folders close the rest.
    ahead = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)
    settings = with_section(
        load_settings(None, data_dir=tmp_path / "data"), "sim", start_date=ahead
    )
    console = Console(record=True, width=160)
    _demo_simulate(settings, console, {"aircraft": 3, "days": 4})
    _demo_pipeline(settings, console)
    output = console.export_text()
    assert "silver" in output and "gold" in output
    lakehouse = Lakehouse.from_settings(settings)
    assert lakehouse.state("telemetry_engine").rows > 0
    rows = query(lakehouse, "SELECT count(*) AS n FROM features_engine", ["features_engine"])
    assert rows.to_pylist()[0]["n"] > 0
