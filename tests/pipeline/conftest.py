"""Pipeline fixtures: a small simulated landing zone rich in bad records, and one run over it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

from aerotwin.config import Settings, load_settings, with_section
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline
from aerotwin.testing import simulate_small_fleet

# 5 aircraft x 10 days; 10 % bad records so that every kind shows up on a small fleet.
AIRCRAFT, DAYS, BAD_RATE, SEED = 5, 10, 0.1, 2


@pytest.fixture(scope="session")
def bad_landing(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Read-only landing zone; copy it (`copy_landing`) before running a pipeline on it."""
    settings = load_settings(None, data_dir=tmp_path_factory.mktemp("bad_landing") / "data")
    simulate_small_fleet(settings, AIRCRAFT, DAYS, SEED, BAD_RATE)
    return settings


def copy_landing(source: Settings, data_dir: Path) -> Settings:
    """Settings over a private copy of `source`'s landing zone (no lakehouse yet)."""
    shutil.copytree(source.landing_dir, data_dir / "landing")
    return load_settings(None, data_dir=data_dir)


def content(lakehouse: Lakehouse, name: str) -> list[dict[str, Any]]:
    """A table's rows, sorted, as two runs over the same landing zone must both give them:
    ingestion time and batch ids differ between runs by construction; all else must not."""
    sql = f"SELECT * EXCLUDE (_ingested_ts, _batch_id) FROM {name} ORDER BY ALL"
    return query(lakehouse, sql, [name]).to_pylist()


def hold_back_last_day(landing: Path, parking: Path) -> str:
    """Move the newest date= partition that every feed has out of the landing zone."""
    feeds = [f for f in landing.iterdir() if f.is_dir() and any(f.glob("date=*"))]
    last = max(set.intersection(*({p.name for p in f.glob("date=*")} for f in feeds)))
    for part in landing.glob(f"*/{last}"):
        target = parking / part.parent.name / part.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(part, target)
    return last


def land_held_back(parking: Path, landing: Path) -> None:
    """Move the partitions `hold_back_last_day` parked back: a new day lands."""
    for feed in parking.iterdir():
        for part in feed.iterdir():
            shutil.move(part, landing / feed.name / part.name)


@pytest.fixture
def fresh_landing(bad_landing: Settings, tmp_path: Path) -> Settings:
    """A private copy of `bad_landing` for one test, with no lakehouse yet."""
    return copy_landing(bad_landing, tmp_path / "data")


@pytest.fixture(scope="session")
def first_run(
    bad_landing: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, RunResult]:
    """Bronze and silver built once by DuckDB over a copy of `bad_landing`; read-only."""
    settings = copy_landing(bad_landing, tmp_path_factory.mktemp("first_run") / "data")
    return settings, run_pipeline(settings, tables=load_tables(layers=("bronze", "silver")))


def _append_row(path: Path, changes: dict[str, str]) -> str:
    """Append a copy of `path`'s first data row (blank when it has none) with `changes`."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        first = next(reader, {})
        header = reader.fieldnames or []
    row = {**dict.fromkeys(header, ""), **first, **changes}
    line = ",".join(row[c] for c in header)
    with path.open("a") as f:
        f.write(line + "\n")
    return line


def plant_bad_event_rows(landing: Path) -> tuple[dict[tuple[str, str], str], str]:
    """Event rows naming an unknown aircraft, airport, route or component, appended to the
    first files of their feeds: {(table, rule): raw line}, and a row with a null reference
    (which is no unknown one)."""
    flights = sorted(landing.glob("flights/date=*/*.csv"))[0]
    weather = sorted(landing.glob("weather/date=*/*.csv"))[0]
    maintenance = sorted(landing.glob("maintenance_events/date=*/*.csv"))[0]
    with (landing / "reference" / "components.csv").open(newline="") as f:
        component = next(csv.DictReader(f))
    event = {"event_ts": "2026-01-01T12:00:00Z", "event_date": "2026-01-01"}
    event |= {"aircraft_id": component["aircraft_id"], "event_type": "inspection"}
    bad = {
        ("flights", "unknown_aircraft"): _append_row(
            flights, {"flight_id": "X-1", "aircraft_id": "N999ZZ"}
        ),
        ("flights", "unknown_airport"): _append_row(
            flights, {"flight_id": "X-2", "destination": "ZZZ"}
        ),
        ("flights", "unknown_route"): _append_row(flights, {"flight_id": "X-3", "route_id": "Z-Z"}),
        ("weather", "unknown_airport"): _append_row(weather, {"airport_code": "QQQ"}),
        ("maintenance_events", "unknown_component"): _append_row(
            maintenance, {**event, "event_id": "X-4", "component_id": "N101AT-ENG9"}
        ),
    }
    kept = _append_row(maintenance, {**event, "event_id": "X-5", "component_id": ""})
    return bad, kept


def plant_mistyped_rows(landing: Path) -> tuple[list[str], list[str]]:
    """Rows whose values only look typed, appended to the first flights, weather,
    maintenance and engine files and to the aircraft reference: (the raw lines that are a
    wrong type, the flights lines that are not)."""
    flights = sorted(landing.glob("flights/date=*/*.csv"))[0]
    weather = sorted(landing.glob("weather/date=*/*.csv"))[0]
    maintenance = sorted(landing.glob("maintenance_events/date=*/*.csv"))[0]
    wrong = [
        _append_row(flights, {"flight_id": "T-1", "cycles": "2.5"}),
        _append_row(flights, {"flight_id": "T-2", "cycles": "1e30"}),
        _append_row(flights, {"flight_id": "T-3", "block_hours": "nan"}),
        _append_row(flights, {"flight_id": "T-4", "flight_date": "inf"}),
        _append_row(flights, {"flight_id": "T-5", "departure_ts": "2026-01-01"}),
        # Years outside 1900..2199 (here 1 BC in UTC, 10000, 0, 1899).
        _append_row(flights, {"flight_id": "T-7", "departure_ts": "0001-01-01T00:30:00+01:00"}),
        _append_row(flights, {"flight_id": "T-8", "arrival_ts": "10000-01-01T00:00:00Z"}),
        _append_row(flights, {"flight_id": "T-9", "flight_date": "0000-11-20"}),
        _append_row(flights, {"flight_id": "T-10", "departure_ts": "1899-12-31T23:30:00Z"}),
        # A date with a time and offset (its UTC day is another); DuckDB's 1_000.
        _append_row(flights, {"flight_id": "T-11", "flight_date": "2026-01-01T23:30:00-02:00"}),
        _append_row(flights, {"flight_id": "T-12", "block_hours": "1_000"}),
        # Spark reads a time alone as today, `d`/`f` suffixes as numbers, a signed year and a
        # zone glued on or after a space; DuckDB reads hour 24 as the next midnight.
        _append_row(flights, {"flight_id": "T-13", "departure_ts": "06:49:50"}),
        _append_row(flights, {"flight_id": "T-14", "block_hours": "7.41d"}),
        _append_row(flights, {"flight_id": "T-15", "block_hours": "1.5F"}),
        _append_row(flights, {"flight_id": "T-16", "cycles": "2f"}),
        _append_row(flights, {"flight_id": "T-17", "arrival_ts": "2026-01-01T24:00:00Z"}),
        _append_row(flights, {"flight_id": "T-18", "departure_ts": "+2026-01-01T06:00:00Z"}),
        _append_row(flights, {"flight_id": "T-19", "departure_ts": "2026-01-01T06:00:00UTC"}),
        _append_row(flights, {"flight_id": "T-20", "departure_ts": "2026-01-01T06:00:00 Z"}),
        # DuckDB reads a zone after a time without seconds, Spark does not; Spark reads a
        # boolean with a space before or after it, DuckDB does not.
        _append_row(flights, {"flight_id": "T-21", "departure_ts": "2026-01-01T06:00+05"}),
        _append_row(weather, {"storm": " true"}),
        _append_row(maintenance, {"event_id": "T-22", "finding": "false "}),
        _append_row(landing / "reference" / "aircraft.csv",
                    {"aircraft_id": "T-AC1", "entry_into_service_date": "0000-11-20"}),
    ]  # fmt: skip
    kept = [_append_row(flights, {"flight_id": "T-6", "cycles": "2.0", "block_hours": "1e1"})]
    engine = sorted(landing.glob("telemetry_engine/date=*/*.jsonl"))[0]
    record = json.loads(engine.read_text().splitlines()[0])
    stamps = (record["reading_ts"][:10], "10000-01-01T00:00:00Z", "0000-12-31T23:00:00Z")
    for reading_ts in (*stamps, record["reading_ts"][:11] + "24:00:00Z"):
        wrong.append(json.dumps({**record, "reading_ts": reading_ts}))
        with engine.open("a") as f:
            f.write(wrong[-1] + "\n")
    return wrong, kept


# Corrected copies: table -> (landing feed, file format, column corrected, key columns).
CORRECTED = {
    "telemetry_engine": ("telemetry_engine", "jsonl", "egt_c", ("component_id", "reading_ts")),
    "flights": ("flights", "csv", "block_hours", ("flight_id",)),
}
CORRECTION = 1.0  # added to the corrected column


def _corrected(line: str, form: str, column: str, header: list[str]) -> str:
    """`line` with `column` raised by CORRECTION when it holds a number; else as it was."""
    if form == "jsonl":
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return line
        if isinstance(record, dict) and type(record.get(column)) is float:
            return json.dumps({**record, column: record[column] + CORRECTION})
        return line
    fields = next(csv.reader([line]), [])
    if len(fields) != len(header):
        return line
    try:
        fields[header.index(column)] = repr(float(fields[header.index(column)]) + CORRECTION)
    except ValueError:
        return line
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def land_corrections(landing: Path) -> dict[str, tuple[str, str]]:
    """Land a corrected copy of each CORRECTED table's newest file beside it, named
    `part-00000-v2.*` (a name sorting before the original's: `-` < `.`), as an airline resends
    a file: {table: (original, correction)}, relative to the landing root."""
    landed = {}
    for table, (feed, form, column, _) in CORRECTED.items():
        original = sorted(landing.glob(f"{feed}/date=*/part-00000.{form}"))[-1]
        lines = original.read_text().splitlines()
        header = next(csv.reader(lines[:1])) if form == "csv" else []
        body = lines[1:] if form == "csv" else lines
        fixed = [_corrected(line, form, column, header) for line in body]
        correction = original.with_name(f"part-00000-v2.{form}")
        correction.write_text("\n".join([*lines[:1], *fixed] if form == "csv" else fixed) + "\n")
        landed[table] = tuple(p.relative_to(landing).as_posix() for p in (original, correction))
    return landed  # type: ignore[return-value]


def rows_from(lakehouse: Lakehouse, table: str, files: Sequence[str]) -> dict[tuple, tuple]:
    """Silver `table`'s rows from landing `files`: {key: (file, corrected column)}."""
    _, _, column, keys = CORRECTED[table]
    listed = ", ".join(f"'{f}'" for f in files)
    sql = f"SELECT {', '.join(keys)}, _source_file, {column} FROM {table} "
    sql += f"WHERE _source_file IN ({listed})"
    rows = query(lakehouse, sql, [table]).to_pylist()
    return {tuple(r[k] for k in keys): (r["_source_file"], r[column]) for r in rows}


def assert_corrections_won(
    lakehouse: Lakehouse, landed: dict[str, tuple[str, str]], before: dict[str, dict[tuple, tuple]]
) -> None:
    """Every silver row the original files held (`before`: `rows_from` them) now comes from
    its correction, with the corrected value; no row is left from an original."""
    for table, (original, correction) in landed.items():
        expected = {k: (correction, v + CORRECTION) for k, (_, v) in before[table].items()}
        assert expected, table
        assert rows_from(lakehouse, table, (original, correction)) == expected, table


def assert_corrections_counted(
    result: RunResult, landed: dict[str, tuple[str, str]], before: dict[str, dict[tuple, tuple]]
) -> None:
    """The run that merged the corrections (`land_corrections`) counted each of their rows
    kept as an update of the row it corrects: none inserted, so each a duplicate."""
    for table in landed:
        event = next(t for t in result.tables if t.table_name == table)
        kept = event.rows_in - event.quarantined
        assert (event.rows_out, event.duplicates) == (len(before[table]), kept), table


def plant_implausible_rows(landing: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Event rows whose values are typed but physically impossible or out of order, appended
    to the first files of their feeds: ((table, rule, raw line) of each, the flights lines
    on the bounds, which are kept)."""
    flights = sorted(landing.glob("flights/date=*/*.csv"))[0]
    weather = sorted(landing.glob("weather/date=*/*.csv"))[0]
    maintenance = sorted(landing.glob("maintenance_events/date=*/*.csv"))[0]
    with (landing / "reference" / "components.csv").open(newline="") as f:
        component = next(csv.DictReader(f))
    flown = {"departure_ts": "2026-01-01T10:00:00Z", "arrival_ts": "2026-01-01T11:00:00Z"}
    event = {"event_id": "R-8", "event_ts": "2026-01-01T12:00:00Z", "event_date": "2026-01-01"}
    event |= {"aircraft_id": component["aircraft_id"], "component_id": component["component_id"]}
    bad = [
        ("flights", "out_of_range", {**flown, "flight_id": "R-1", "block_hours": "-5"}),
        ("flights", "out_of_range", {**flown, "flight_id": "R-2", "turbulence_experienced": "7"}),
        ("flights", "out_of_range", {**flown, "flight_id": "R-3", "cycles": "-1"}),
        ("flights", "arrival_before_departure",
         {"flight_id": "R-4", "departure_ts": "2026-01-01T18:00:00Z",
          "arrival_ts": "2026-01-01T17:20:00+00:00"}),
        ("weather", "out_of_range", {"temperature_c": "-300"}),
        ("weather", "out_of_range", {"humidity_pct": "170"}),
        ("weather", "out_of_range", {"precipitation_mm": "-5"}),
        ("maintenance_events", "out_of_range", {**event, "hours_since_new_before": "-1"}),
    ]  # fmt: skip
    files = {"flights": flights, "weather": weather, "maintenance_events": maintenance}
    planted = [(table, rule, _append_row(files[table], row)) for table, rule, row in bad]
    # On the bounds, and arriving as it departs: kept.
    edge = {"block_hours": "0", "turbulence_experienced": "1", "cycles": "0"}
    moment = {"departure_ts": "2026-01-01T10:00:00Z", "arrival_ts": "2026-01-01T10:00:00Z"}
    kept = [_append_row(flights, {**edge, **moment, "flight_id": "R-9"})]
    return planted, kept


# S3 on loopback (moto's server) for the object-store tests.
KEY, SECRET, REGION = "test-key", "test-secret", "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 API on loopback, in its own process: deltalake holds the GIL while it waits
    on the store, so a server on a thread of this process would never answer."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def make_bucket(endpoint: str, name: str) -> Any:
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name=REGION,
    )
    s3.create_bucket(Bucket=name)
    return s3


def s3_options(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": REGION,
        "AWS_ALLOW_HTTP": "true",
    }


def on_s3(base: Settings, endpoint: str, bucket: str, prefix: str) -> tuple[Any, Settings]:
    """A new bucket, and `base` with its lakehouse root under it: (S3 client, settings)."""
    s3 = make_bucket(endpoint, bucket)
    settings = with_section(
        base,
        "lakehouse",
        root=f"s3://{bucket}/{prefix}",
        storage_options=s3_options(endpoint),
    )
    return s3, settings


def newest_commit_info(s3: Any, bucket: str, table_prefix: str) -> dict[str, Any]:
    """The `commitInfo` of the newest commit of the table under `table_prefix` in `bucket`."""
    log = s3.list_objects_v2(Bucket=bucket, Prefix=f"{table_prefix}/_delta_log/")
    newest = max(o["Key"] for o in log["Contents"] if o["Key"].endswith(".json"))
    commit = s3.get_object(Bucket=bucket, Key=newest)["Body"].read().decode()
    return next(json.loads(row)["commitInfo"] for row in commit.splitlines() if "commitInfo" in row)


def assert_same_tables(lakehouse: Lakehouse, expected: Lakehouse, names: Sequence[str]) -> None:
    """Tables `names`, and the rows they quarantined, hold in `lakehouse` what `expected` holds."""
    for name in names:
        assert content(lakehouse, name) == content(expected, name), name
    quarantine = (
        "SELECT table_name, rule, record_id, raw_record FROM quarantine "
        f"WHERE table_name IN ({', '.join(repr(n) for n in names)}) ORDER BY ALL"
    )
    assert (
        query(lakehouse, quarantine, ["quarantine"]).to_pylist()
        == query(expected, quarantine, ["quarantine"]).to_pylist()
    )
