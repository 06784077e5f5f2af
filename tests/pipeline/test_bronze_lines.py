"""Bronze reading: lines split like a plain line reader, CSV rows exactly one per line."""

from __future__ import annotations

import csv
import datetime as dt
import warnings
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from aerotwin.config import Settings, load_settings, with_section
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline import bronze
from aerotwin.pipeline.bronze import (
    FileMark,
    FutureFolderWarning,
    _complete_folders,
    ingest,
    pending_files,
)
from aerotwin.pipeline.csv_lines import CsvFile, parse_files
from aerotwin.pipeline.landing import (
    UTF8_BOM,
    LandingLayoutError,
    discover,
    parse_csv_lines,
    split_lines,
)
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline
from aerotwin.sim.live import run_live

from .conftest import assert_same_tables

TRICKY = (
    b'{"a":1}\n\n   \n{"a":2}\r\n\r\n\r\r\nx\ry\n\xff bad \xc3\n'
    b"caf\xc3\xa9\n\t\nlast\r\r\nunterminated"
)


def _reference(
    data: bytes, start: int, final: bool = False
) -> tuple[list[str], list[int], int, int, list[bool]]:
    """What a plain line reader gives: the same contract, written the obvious way."""
    if final and len(data) > start and not data.endswith(b"\n"):
        data += b"\n"  # the end of a complete file ends its last line
    end = data.rfind(b"\n") + 1
    if end <= start:
        return [], [], 0, start, []
    raw = data[start:end].split(b"\n")[:-1]
    kept = [(i, r) for i, r in enumerate(raw, 1) if r not in (b"", b"\r")]
    text = [r.decode("utf-8", "backslashreplace").rstrip("\r\n") for _, r in kept]
    not_utf8 = [r.decode("utf-8", "replace") != r.decode("utf-8", "ignore") for _, r in kept]
    return text, [i for i, _ in kept], len(raw), end, not_utf8


@pytest.mark.parametrize("final", [False, True])
@pytest.mark.parametrize("start", [0, 8, 9, len(TRICKY) - 12, len(TRICKY)])
def test_split_lines_is_a_plain_line_reader(start: int, final: bool) -> None:
    lines = split_lines(TRICKY, start, final)
    text, numbers, total, end, not_utf8 = _reference(TRICKY, start, final)
    assert lines.text.to_pylist() == text
    assert lines.numbers.tolist() == numbers
    assert (lines.total, lines.end) == (total, min(end, len(TRICKY)))
    assert lines.text.type == pa.string()
    lines.text.validate(full=True)  # bytes that are not UTF-8 never reach `_raw`
    marked = lines.not_utf8.tolist() if lines.not_utf8 is not None else [False] * len(text)
    assert marked == not_utf8


def test_split_lines_keeps_blank_and_odd_lines_apart() -> None:
    lines = split_lines(TRICKY)
    assert lines.text.to_pylist()[:4] == ['{"a":1}', "   ", '{"a":2}', ""]  # "\r\r" -> ""
    assert "x\ry" in lines.text.to_pylist()  # a lone \r inside a line is no line break
    assert "\\xff bad \\xc3" in lines.text.to_pylist()  # the bytes, escaped, not lost
    assert lines.not_utf8 is not None and lines.not_utf8.sum() == 1
    assert lines.text.to_pylist()[-1] == "last"
    # The end of a complete file ends its last line; a lone "\r" there is a blank line.
    assert split_lines(TRICKY, final=True).text.to_pylist()[-2:] == ["last", "unterminated"]
    blank_last = split_lines(b"a\n\r", final=True)
    assert (blank_last.text.to_pylist(), blank_last.total, blank_last.end) == (["a"], 2, 3)


HEADER = (
    "flight_id,flight_date,aircraft_id,route_id,origin,destination,departure_ts,arrival_ts,"
    "block_hours,cycles,turbulence_experienced"
)
ROWS = [
    "F1,2026-01-01,N1,R1,ORD,LAX,2026-01-01T06:00:00Z,2026-01-01T10:00:00Z,4.0,1,false",
    'F2,2026-01-01,N1,R1,"LAX","O,RD",2026-01-01T11:00:00Z,,5.5,1,true',
    "F3,,N2,,ORD,LAX,,,,,",
]
MALFORMED = "F4,2026-01-02,N2,R1,ORD"  # too few fields


def _expected(lines: list[str], columns: list[str]) -> list[dict[str, object]]:
    """Each data line parsed on its own: fields by header name, or flagged as malformed."""
    out = []
    for line in lines:
        fields = next(csv.reader([line]))
        ok = len(fields) == len(columns)
        values = [f or None for f in fields] if ok else [None] * len(columns)
        out.append({"_raw": line, "_parse_ok": ok, **dict(zip(columns, values, strict=True))})
    return out


def _write(landing: Path, day: str, text: str) -> str:
    name = f"flights/date={day}/part-00000.csv"
    (landing / name).parent.mkdir(parents=True, exist_ok=True)
    (landing / name).write_bytes(text.encode())
    return name


def _ingest(settings: Settings, name: str, run_id: str = "run") -> Lakehouse:
    """Ingest the pending files of bronze table `name`, as a pipeline run does."""
    table = next(t for t in load_tables() if t.name == name)
    lakehouse = Lakehouse.from_settings(settings)
    files = pending_files(lakehouse, settings, table)
    ingest(lakehouse, settings.landing_dir, table, run_id, files)
    return lakehouse


def _bronze(tmp_path: Path, files: dict[str, str]) -> tuple[Lakehouse, list[dict[str, object]]]:
    settings = load_settings(None, data_dir=tmp_path / "data")
    for day, text in files.items():
        _write(settings.landing_dir, day, text)
    lakehouse = _ingest(settings, "bronze_flights")
    columns = ", ".join(["_raw", "_source_file", "_line", "_parse_ok", *HEADER.split(",")])
    sql = f"SELECT {columns} FROM bronze_flights ORDER BY _source_file, _line"
    return lakehouse, query(lakehouse, sql, ["bronze_flights"]).to_pylist()


def test_csv_rows_are_one_per_line_whether_parsed_together_or_apart(tmp_path: Path) -> None:
    columns = HEADER.split(",")
    files = {
        "2026-01-01": "\n".join([HEADER, *ROWS]) + "\n",
        "2026-01-02": "\n".join([HEADER, ROWS[0], MALFORMED, "", ROWS[1]]) + "\n",  # alone
        "2026-01-03": "\r\n".join([HEADER, *ROWS]) + "\r\n",  # \r: parsed as lines
        "2026-01-04": HEADER + "\n",  # header only
        "2026-01-05": "\n".join([HEADER, ROWS[2], ROWS[0]]) + "\npartial,line",
        "2026-01-06": "\n".join([HEADER, *ROWS]) + "\n",  # parsed with the two before
    }
    _, rows = _bronze(tmp_path, files)
    expected_lines = [
        ROWS,
        [ROWS[0], MALFORMED, ROWS[1]],
        ROWS,
        [],
        [ROWS[2], ROWS[0]],
        ROWS,
    ]
    expected = [row for lines in expected_lines for row in _expected(lines, columns)]
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    assert [r["_line"] for r in rows] == [2, 3, 4, 2, 3, 5, 2, 3, 4, 2, 3, 2, 3, 4]
    assert rows[0]["origin"] == "ORD" and rows[1]["destination"] == "O,RD"


def test_a_grown_csv_file_adds_only_its_new_lines(tmp_path: Path) -> None:
    lakehouse, rows = _bronze(tmp_path, {"2026-01-01": f"{HEADER}\n{ROWS[0]}\n{ROWS[1][:9]}"})
    assert [r["_raw"] for r in rows] == [ROWS[0]]
    settings = load_settings(None, data_dir=tmp_path / "data")
    _write(settings.landing_dir, "2026-01-01", "\n".join([HEADER, *ROWS]) + "\n")
    _ingest(settings, "bronze_flights", "run-2")
    sql = "SELECT _raw, _line, _parse_ok, flight_id FROM bronze_flights ORDER BY _line"
    got = query(lakehouse, sql, ["bronze_flights"]).to_pylist()
    assert [(r["_raw"], r["_line"], r["flight_id"]) for r in got] == [
        (line, i, f"F{i - 1}") for i, line in enumerate(ROWS, 2)
    ]
    assert all(r["_parse_ok"] for r in got)


def test_a_reference_file_without_a_final_line_break_keeps_its_last_row(tmp_path: Path) -> None:
    # A snapshot is complete when it lands, and its hash is recorded: it is never read
    # again. Its last aircraft was dropped, and that aircraft's telemetry quarantined.
    settings = load_settings(None, data_dir=tmp_path / "data")
    reference = settings.landing_dir / "reference"
    reference.mkdir(parents=True)
    header = "aircraft_id,model,manufacturer,engine_count,base_airport_code,entry_into_service_date"
    rows = ["N1,A320neo,Airbus,2,ORD,2019-03-14", "N2,B787-9,Boeing,2,LAX,2020-07-01"]
    (reference / "aircraft.csv").write_text(f"{header}\n{rows[0]}\r\n{rows[1]}")
    (reference / "routes.csv").write_text(
        "route_id,origin,destination,distance_nm,turbulence_index"
    )
    lakehouse = _ingest(settings, "bronze_aircraft")
    sql = "SELECT _line, _raw, _parse_ok, aircraft_id FROM bronze_aircraft ORDER BY _line"
    got = query(lakehouse, sql, ["bronze_aircraft"]).to_pylist()
    assert [tuple(r.values()) for r in got] == [(2, rows[0], True, "N1"), (3, rows[1], True, "N2")]
    table = next(t for t in load_tables() if t.name == "bronze_aircraft")
    assert pending_files(lakehouse, settings, table).files == []  # read once, all of it
    # A header alone, without its line break, is read, and is no snapshot: it has no row.
    with pytest.raises(LandingLayoutError, match=r"reference/routes\.csv: it holds no row"):
        _ingest(settings, "bronze_routes")
    assert not lakehouse.exists("bronze_routes")


def test_a_last_line_without_a_line_break_is_read_once_its_folder_closes(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data")  # pipeline.open_days: 7
    table = next(t for t in load_tables() if t.name == "bronze_telemetry_engine")
    lakehouse = Lakehouse.from_settings(settings)
    record = '{{"component_id":"N1-ENG1","reading_ts":"{}T0{}:00:00Z","egt_c":600}}'

    def land(day: str, text: str) -> str:
        name = f"telemetry_engine/date={day}/part-00000.jsonl"
        (settings.landing_dir / name).parent.mkdir(parents=True)
        (settings.landing_dir / name).write_text(text)
        return name

    def held_back(run_id: str) -> list[str]:
        pending = pending_files(lakehouse, settings, table)
        return ingest(lakehouse, settings.landing_dir, table, run_id, pending).held_back

    first = land(
        "2026-01-01", f"{record.format('2026-01-01', 1)}\n{record.format('2026-01-01', 2)}"
    )
    assert held_back("run-1") == [first]  # the newest folder: the line may still be written
    land("2026-01-08", record.format("2026-01-08", 1) + "\n")
    assert held_back("run-2") == [first]  # 7 days older than the newest: still open
    # A day later the folder closes (it is not listed again): nothing will add to its files.
    land("2026-01-09", record.format("2026-01-09", 1) + "\n")
    assert held_back("run-3") == []
    assert pending_files(lakehouse, settings, table).files == []
    sql = (
        f"SELECT _line, _raw, _parse_ok FROM bronze_telemetry_engine WHERE _source_file = '{first}'"
    )
    got = query(lakehouse, f"{sql} ORDER BY _line", ["bronze_telemetry_engine"]).to_pylist()
    assert [(r["_line"], r["_raw"], r["_parse_ok"]) for r in got] == [
        (1, record.format("2026-01-01", 1), True),
        (2, record.format("2026-01-01", 2), True),
    ]


def _csv_file(lines: list[str], body: bool = True) -> CsvFile:
    raw = pa.array(lines, pa.string())
    data = "".join(f"{line}\n" for line in lines).encode()
    lineage = pa.table({"_raw": raw, "_line": pa.array(range(2, len(lines) + 2), pa.int64())})
    return CsvFile(lineage, tuple(HEADER.split(",")), pa.py_buffer(data) if body else None)


def test_files_with_one_header_are_parsed_in_one_go_unless_a_row_is_malformed() -> None:
    together = list(parse_files([_csv_file(ROWS), _csv_file(ROWS[:1]), _csv_file(ROWS)]))
    assert [t.num_rows for t in together] == [7]
    ids = together[0].column("flight_id").to_pylist()
    assert ids == ["F1", "F2", "F3", "F1", "F1", "F2", "F3"]
    apart = list(parse_files([_csv_file(ROWS), _csv_file([MALFORMED]), _csv_file(ROWS, False)]))
    assert [t.num_rows for t in apart] == [3, 1, 3]
    assert apart[1].column("_parse_ok").to_pylist() == [False]
    assert apart[2].column("flight_id").to_pylist() == ["F1", "F2", "F3"]


# A quote opened and never closed: the line's quoting does not close on it.
OPEN_QUOTE = 'F4,2026-01-02,N2,R1,"ORD,LAX,2026-01-02T06:00:00Z,,1.0,1,false'
# Run on to the line's end, the open quote leaves the right number of fields.
OPEN_LAST = 'F5,2026-01-02,N2,R1,ORD,LAX,2026-01-02T06:00:00Z,,1.0,1,"false'
# A quoted value holding a line break: two lines, neither a row.
SPLIT_VALUE = ['F6,2026-01-02,N2,R1,"ORD', 'Terminal 2",LAX,2026-01-02T06:00:00Z,,1.0,1,false']


def test_parse_csv_lines_reads_each_line_on_its_own() -> None:
    # One reader over the list ran a quote on into the next lines: fewer rows than lines.
    columns = HEADER.split(",")
    lines = [ROWS[0], OPEN_QUOTE, ROWS[1], OPEN_LAST, *SPLIT_VALUE, ROWS[2], "F7,a\rb"]
    values, ok = parse_csv_lines(lines, columns)
    assert ok == [True, False, True, False, False, False, True, False]
    assert all(len(v) == len(lines) for v in values)
    assert [values[0][i] for i in (0, 2, 6)] == ["F1", "F2", "F3"]
    assert {values[c][i] for c in range(len(columns)) for i in (1, 3, 4, 5, 7)} == {None}


def test_a_line_whose_quote_does_not_close_is_a_parse_error_and_the_others_are_rows(
    tmp_path: Path,
) -> None:
    columns = HEADER.split(",")
    files = {
        # Parsed with the next file first: the open quote runs on into its lines.
        "2026-01-01": "\n".join([HEADER, ROWS[0], OPEN_LAST]) + "\n",
        "2026-01-02": "\n".join([HEADER, ROWS[0], OPEN_QUOTE, ROWS[1], *SPLIT_VALUE, ROWS[2]])
        + "\n",
        "2026-01-03": "\n".join([HEADER, *ROWS, OPEN_LAST]) + "\n",  # the last line of all
        "2026-01-04": "\r\n".join([HEADER, ROWS[0], OPEN_LAST, "F7,a\rb", ROWS[1]]) + "\r\n",
    }
    _, rows = _bronze(tmp_path, files)
    bad = {OPEN_QUOTE, OPEN_LAST, *SPLIT_VALUE, "F7,a\rb"}
    expected_lines = [
        [ROWS[0], OPEN_LAST],
        [ROWS[0], OPEN_QUOTE, ROWS[1], *SPLIT_VALUE, ROWS[2]],
        [*ROWS, OPEN_LAST],
        [ROWS[0], OPEN_LAST, "F7,a\rb", ROWS[1]],
    ]
    expected = [
        {"_raw": line, "_parse_ok": False, **dict.fromkeys(columns)}
        if line in bad
        else _expected([line], columns)[0]
        for lines in expected_lines
        for line in lines
    ]
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    assert [r["_line"] for r in rows] == [2, 3, 2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 2, 3, 4, 5]


def test_quotes_that_do_not_close_on_their_line_are_quarantined_and_the_feed_goes_on(
    fresh_landing: Settings,
) -> None:
    # Each stopped its feed's bronze with "ArrowInvalid: Column 7 named _parse_ok expected
    # length 3 but got length 1", on every later run.
    landing = fresh_landing.landing_dir
    airports = landing / "reference" / "airports.csv"
    rows = list(csv.reader(airports.read_text().splitlines()))
    rows[2][1] += "\nTerminal 2"  # written quoted over two lines
    with airports.open("w", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(rows)
    split = airports.read_text().splitlines()[2:4]
    path = sorted(landing.glob("flights/date=*/*.csv"))[0]
    header, first = path.read_text().splitlines()[:2]
    fields = dict(zip(header.split(","), first.split(","), strict=True))
    stray = ",".join({**fields, "flight_id": "X-1", "route_id": f'"{fields["route_id"]}'}.values())
    kept = ",".join({**fields, "flight_id": "X-2"}.values())
    with path.open("a") as out:
        out.write(f"{stray}\n{kept}\n")
    count = len(path.read_text().splitlines())

    run_pipeline(fresh_landing, tables=load_tables(layers=("bronze", "silver")))
    lakehouse = Lakehouse.from_settings(fresh_landing)
    sql = "SELECT record_id, raw_record FROM quarantine WHERE rule = 'parse_error'"
    found = {r["record_id"]: r["raw_record"] for r in query(lakehouse, sql).to_pylist()}
    name = path.relative_to(landing).as_posix()
    expected = {"reference/airports.csv:3": split[0], "reference/airports.csv:4": split[1]}
    assert {k: found.get(k) for k in [*expected, f"{name}:{count - 1}"]} == {
        **expected,
        f"{name}:{count - 1}": stray,
    }
    codes = query(lakehouse, "SELECT airport_code FROM airports").column(0).to_pylist()
    assert sorted(codes) == sorted(r[0] for r in rows[1:] if r != rows[2])
    sql = "SELECT _line FROM flights WHERE flight_id = 'X-2'"
    assert query(lakehouse, sql).to_pylist() == [{"_line": count}]


def _corrupt(path: Path, line: int, old: bytes, new: bytes) -> bytes:
    """Replace `old` with `new` in line `line` (1-based) of `path`; the line's new bytes."""
    lines = path.read_bytes().split(b"\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_bytes(b"\n".join(lines))
    return lines[line - 1]


def test_lines_that_are_not_utf8_are_quarantined_with_their_bytes_escaped(
    fresh_landing: Settings,
) -> None:
    landing = fresh_landing.landing_dir
    engine_file = sorted(landing.glob("telemetry_engine/date=*/*.jsonl"))[2]
    flights_file = sorted(landing.glob("flights/date=*/*.csv"))[2]
    # A Latin-1 byte inside a JSON key, and inside a CSV field that no rule checks.
    bad_json = _corrupt(engine_file, 3, b'"aircraft_id"', b'"aircraft\xe9id"')
    # After a backslash, the escaped byte reads as valid JSON (`\\xe9`): still not trusted.
    flight = engine_file.read_bytes().split(b"\n")[4].split(b'"flight_id":"')[1].split(b'"')[0]
    bad_escape = _corrupt(engine_file, 5, flight + b'"', flight + b'\\\xe9"')
    row = flights_file.read_bytes().split(b"\n")[1]
    origin = row.split(b",")[4]
    bad_csv = _corrupt(flights_file, 2, b"," + origin + b",", b"," + origin[:1] + b"\xe9,")

    run_pipeline(fresh_landing, tables=load_tables(layers=("bronze", "silver")))
    lakehouse = Lakehouse.from_settings(fresh_landing)
    sql = (
        "SELECT table_name, rule, record_id, raw_record FROM quarantine WHERE rule = 'parse_error'"
    )
    found = {r["record_id"]: r for r in query(lakehouse, sql, ["quarantine"]).to_pylist()}
    for table, path, line, raw in [
        ("telemetry_engine", engine_file, 3, bad_json),
        ("telemetry_engine", engine_file, 5, bad_escape),
        ("flights", flights_file, 2, bad_csv),
    ]:
        record = found[f"{path.relative_to(landing).as_posix()}:{line}"]
        assert record["table_name"] == table
        assert record["raw_record"] == raw.decode("utf-8", "backslashreplace")
        assert "\\xe9" in record["raw_record"]  # the byte, written out: nothing lost
    altered = "SELECT count(*) AS n FROM telemetry_engine WHERE contains(flight_id, 'xe9')"
    assert query(lakehouse, altered).to_pylist() == [{"n": 0}]
    flight_id = bad_csv.split(b",")[0].decode()
    kept = query(lakehouse, f"SELECT count(*) AS n FROM flights WHERE flight_id = '{flight_id}'")
    assert kept.to_pylist() == [{"n": 0}]


def test_discover_lists_arrival_day_folders_and_names_a_folder_that_is_no_day(
    tmp_path: Path,
) -> None:
    feed = tmp_path / "telemetry_engine"
    for folder in ("date=2026-01-01", "date=2026-01-02", "misc"):
        (feed / folder).mkdir(parents=True)
        (feed / folder / "part-00000.jsonl").write_text("{}\n")
    # Files of another extension are named (they were silently never read); hidden files,
    # `_SUCCESS` markers and live mode's files still being written are not.
    day = feed / "date=2026-01-02"
    for name in (
        "a.JSONL",
        "b.ndjson",
        "c.json",
        "d.jsonl.gz",
        "e.jsonl.inprogress",
        ".f.jsonl.crc",
    ):
        (day / name).write_text("{}\n")
    (day / "_SUCCESS").write_text("")
    (day / "sub.jsonl").mkdir()
    listing = discover(tmp_path, "telemetry_engine", "jsonl")
    assert listing.files == [
        "telemetry_engine/date=2026-01-01/part-00000.jsonl",
        "telemetry_engine/date=2026-01-02/part-00000.jsonl",
    ]
    assert listing.ignored == [
        f"telemetry_engine/date=2026-01-02/{n}"
        for n in ("a.JSONL", "b.ndjson", "c.json", "d.jsonl.gz")
    ]
    assert discover(tmp_path, "telemetry_engine", "jsonl", frozenset({day.name})).ignored == []
    for bad, reason in (
        ("date=2026-02-30", "day is out of range for month"),
        ("date=soon", "not date=YYYY-MM-DD"),
        ("date=20260103", "not date=YYYY-MM-DD"),
    ):
        (feed / bad).mkdir()
        with pytest.raises(LandingLayoutError, match=f"telemetry_engine/{bad}: {reason}"):
            discover(tmp_path, "telemetry_engine", "jsonl")
        # A folder known to be complete is not listed, so not checked either.
        done = frozenset({bad})
        assert len(discover(tmp_path, "telemetry_engine", "jsonl", done).files) == 2
        (feed / bad).rmdir()


def test_a_folder_that_is_no_day_never_passes_for_the_newest_one() -> None:
    # Checkpoints written before such folders stopped the run may name one.
    marks = {
        f"telemetry_engine/{day}/part-00000.jsonl": FileMark(10, 100)
        for day in ("date=2026-01-01", "date=2026-01-02", "date=soon")
    }
    assert _complete_folders(marks, 0) == {"date=2026-01-01", "date=soon"}
    assert _complete_folders({}, 0) == frozenset()


def test_folders_within_open_days_of_the_newest_one_are_listed_again() -> None:
    days = ("2025-12-31", "2026-01-03", "2026-01-09", "2026-01-10")
    marks = {f"weather/date={d}/part-00000.csv": FileMark(10, 100) for d in days}
    assert _complete_folders(marks, 7) == {"date=2025-12-31"}
    assert _complete_folders(marks, 6) == {"date=2025-12-31", "date=2026-01-03"}
    assert _complete_folders(marks, 0) == {f"date={d}" for d in days[:3]}


def test_live_readings_landing_in_a_day_older_than_the_late_records_folders_are_ingested(
    fresh_landing: Settings,
) -> None:
    # The history's late records land in folders after its last day; live mode then goes on
    # writing the day after the history, a folder older than those.
    landing = fresh_landing.landing_dir
    live = with_section(fresh_landing, "sim", live_rate=40.0, live_rotate_seconds=0.1)
    tables = load_tables(layers=("bronze",))
    run_live(live, duration=0.3)
    run_pipeline(fresh_landing, tables=tables)
    later = run_live(live, duration=0.3).files
    run_pipeline(fresh_landing, tables=tables)
    newest = max(p.name for p in landing.glob("telemetry_*/date=*"))
    assert later and all(f"/{newest}/" not in f for f in later)  # an older folder
    lakehouse = Lakehouse.from_settings(fresh_landing)
    for path in landing.glob("telemetry_*/date=*/part-live-*.jsonl"):
        name = path.relative_to(landing).as_posix()
        table = f"bronze_{name.split('/')[0]}"
        sql = f"SELECT count(*) AS n FROM {table} WHERE _source_file = '{name}'"
        lines = len(path.read_text().splitlines())
        assert query(lakehouse, sql, [table]).to_pylist() == [{"n": lines}], name


def _one_file_of_each_kind(landing: Path) -> list[Path]:
    """A reference snapshot, and the oldest file of a CSV feed and of a JSON-lines feed (its
    arrival-day folder is the first a run closes)."""
    return [
        landing / "reference" / "aircraft.csv",
        sorted(landing.glob("flights/date=*/*.csv"))[0],
        sorted(landing.glob("telemetry_engine/date=*/*.jsonl"))[0],
    ]


def _assert_kinds_as_in(settings: Settings, expected: Settings) -> None:
    """The tables of `_one_file_of_each_kind` hold what they hold in `expected`'s lakehouse."""
    assert_same_tables(
        Lakehouse.from_settings(settings),
        Lakehouse.from_settings(expected),
        ["aircraft", "flights", "telemetry_engine"],
    )


def test_files_starting_with_a_byte_order_mark_give_the_same_tables(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult]
) -> None:
    # Excel's "CSV UTF-8" starts the file with one; before, the header's first column was
    # "\ufeffaircraft_id" and the run stopped on a DuckDB binder error.
    for path in _one_file_of_each_kind(fresh_landing.landing_dir):
        path.write_bytes(UTF8_BOM + path.read_bytes())
    run_pipeline(fresh_landing, tables=load_tables(layers=("bronze", "silver")))
    _assert_kinds_as_in(fresh_landing, first_run[0])


def test_complete_files_without_a_final_line_break_give_the_same_tables(
    fresh_landing: Settings, first_run: tuple[Settings, RunResult]
) -> None:
    # A reference file is complete when it lands; so is a file whose arrival-day folder is
    # more than pipeline.open_days older than the newest (it is not listed again).
    for path in _one_file_of_each_kind(fresh_landing.landing_dir):
        path.write_bytes(path.read_bytes().removesuffix(b"\n"))
    result = run_pipeline(fresh_landing, tables=load_tables(layers=("bronze", "silver")))
    assert result.held_back == []
    _assert_kinds_as_in(fresh_landing, first_run[0])


def test_a_csv_whose_header_lacks_a_contract_column_stops_the_run_with_the_file_named(
    fresh_landing: Settings,
) -> None:
    path = next(fresh_landing.landing_dir.glob("flights/date=*/*.csv"))
    original = path.read_text()
    rows = list(csv.reader(original.splitlines()))
    dropped = rows[0].index("route_id")
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(r[:dropped] + r[dropped + 1 :] for r in rows)
    tables = load_tables(layers=("bronze", "silver"))
    name = path.relative_to(fresh_landing.landing_dir).as_posix()
    with pytest.raises(
        LandingLayoutError, match=f"landing file {name}: its header has no route_id"
    ):
        run_pipeline(fresh_landing, tables=tables)
    assert not Lakehouse.from_settings(fresh_landing).exists("flights")
    path.write_text(original)  # the file replaced by one with every column
    run_pipeline(fresh_landing, tables=tables)
    assert Lakehouse.from_settings(fresh_landing).state("flights").rows > 0


def test_only_an_empty_field_is_null_on_either_parser() -> None:
    # Namibia's code, and text a spreadsheet writes, are values; "" and an empty field are null.
    row = 'F5,2026-01-01,NA,null,N/A,#N/A,"",,NaN,1,NULL'
    fast = next(parse_files([_csv_file([row])])).to_pylist()[0]
    # A malformed line in the file sends every line to the line-by-line parser.
    slow = next(parse_files([_csv_file([row, MALFORMED], False)])).to_pylist()[0]
    assert {**fast, "_line": 0} == {**slow, "_line": 0}
    assert [fast[c] for c in HEADER.split(",")] == [
        "F5", "2026-01-01", "NA", "null", "N/A", "#N/A", None, None, "NaN", "1", "NULL"
    ]  # fmt: skip


def test_a_grown_csv_file_with_a_byte_order_mark_adds_its_completed_line(
    tmp_path: Path,
) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data")
    header = "weather_date,airport_code,temperature_c,humidity_pct,wind_kt,storm,precipitation_mm"
    rows = ["2026-01-01,ORD,-3.5,70,12,false,0.4", "2026-01-01,LAX,18.0,40,5,false,0"]
    path = settings.landing_dir / "weather/date=2026-01-01/part-00000.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(UTF8_BOM + f"{header}\n{rows[0]}\n{rows[1]}".encode())
    _ingest(settings, "bronze_weather")
    with path.open("a") as out:
        out.write("\n")  # the last line completed: read from the saved offset, BOM and all
    lakehouse = _ingest(settings, "bronze_weather", "run-2")
    sql = "SELECT _line, airport_code, temperature_c FROM bronze_weather ORDER BY _line"
    got = query(lakehouse, sql, ["bronze_weather"]).to_pylist()
    assert [tuple(r.values()) for r in got] == [(2, "ORD", "-3.5"), (3, "LAX", "18.0")]


def test_a_file_changed_in_place_stops_the_run_with_the_file_named(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data")
    name = "telemetry_engine/date=2026-01-01/part-live-00001.jsonl"
    path = settings.landing_dir / name
    path.parent.mkdir(parents=True)
    record = '{{"component_id":"N1-ENG1","reading_ts":"2026-01-01T0{}:00:00Z","egt_c":{}}}\n'
    path.write_text(record.format(1, 600) + record.format(2, 610))
    _ingest(settings, "bronze_telemetry_engine")
    # Rewritten, longer: the byte before the saved offset is now inside a line.
    path.write_text(record.format(1, 600.5) + record.format(2, 610) + record.format(3, 620))
    with pytest.raises(LandingLayoutError, match=f"landing file {name}: .*under a new name"):
        _ingest(settings, "bronze_telemetry_engine", "run-2")
    path.write_text(record.format(1, 600) + record.format(2, 610) + record.format(3, 620))
    lakehouse = _ingest(settings, "bronze_telemetry_engine", "run-3")  # grown by a line
    sql = "SELECT _line, egt_c FROM bronze_telemetry_engine ORDER BY _line"
    got = query(lakehouse, sql, ["bronze_telemetry_engine"]).to_pylist()
    assert [(r["_line"], r["egt_c"]) for r in got] == [(1, 600), (2, 610), (3, 620)]


@pytest.mark.parametrize(
    ("extra", "fields", "problem"),
    [
        (",_source_file,_line", ",partner_feed.csv,7", "_source_file, _line, which start with"),
        (",origin,cycles,origin", ",ORD,1,LAX", "origin, cycles more than once"),
        # Silver's SQL reads names whatever their case: it would read either column.
        (",ORIGIN", ",LAX", "origin, ORIGIN more than once \\(column names are matched whatever"),
    ],
)
def test_a_csv_header_naming_a_reserved_or_repeated_column_stops_the_run(
    tmp_path: Path, extra: str, fields: str, problem: str
) -> None:
    # Either column would overwrite another: bronze's lineage, or the header's same name.
    text = f"{HEADER}{extra}\n{ROWS[0]}{fields}\n"
    name = "flights/date=2026-01-01/part-00000.csv"
    with pytest.raises(
        LandingLayoutError, match=f"landing file {name}: its header names {problem}"
    ):
        _bronze(tmp_path, {"2026-01-01": text})


@pytest.mark.parametrize("blank", ["", "\r", "  "])
def test_a_csv_whose_first_line_is_blank_stops_the_run_saying_so(
    tmp_path: Path, blank: str
) -> None:
    name = "flights/date=2026-01-01/part-00000.csv"
    with pytest.raises(LandingLayoutError, match=f"landing file {name}: its header .* is blank"):
        _bronze(tmp_path, {"2026-01-01": f"{blank}\n{HEADER}\n{ROWS[0]}\n"})


class _SpyConnection:
    """A DuckDB connection that records whether it was closed (`with` closes it, as DuckDB's)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.closed = con, False

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)

    def __enter__(self) -> _SpyConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self.con.close()


class _UnreadableLakehouse:
    def dataset(self, table: str) -> None:
        raise OSError(f"table {table}: its files are gone")


def test_the_scanned_checkpoint_closes_its_connection_when_the_table_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[_SpyConnection] = []

    def connect() -> _SpyConnection:
        opened.append(_SpyConnection(real_connect()))
        return opened[-1]

    real_connect = duckdb.connect
    monkeypatch.setattr(bronze.duckdb, "connect", connect)
    with pytest.raises(OSError, match="bronze_flights: its files are gone"):
        bronze._scanned_checkpoint(_UnreadableLakehouse(), "bronze_flights")  # type: ignore[arg-type]
    assert [c.closed for c in opened] == [True]


AIRCRAFT_HEADER = (
    "aircraft_id,model,manufacturer,engine_count,base_airport_code,entry_into_service_date"
)


def test_a_snapshot_replaced_while_it_is_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data")
    path = settings.landing_dir / "reference" / "aircraft.csv"
    path.parent.mkdir(parents=True)
    old, new = "N1,A320neo,Airbus,2,ORD,2019-03-14", "N2,B787-9,Boeing,2,LAX,2020-07-01"
    path.write_text(f"{AIRCRAFT_HEADER}\n{old}\n")
    real_read = bronze.read_file

    def read_then_replace(file: Path) -> pa.Buffer:
        data = real_read(file)
        file.write_text(f"{AIRCRAFT_HEADER}\n{new}\n")  # the next export lands meanwhile
        return data

    monkeypatch.setattr(bronze, "read_file", read_then_replace)
    lakehouse = _ingest(settings, "bronze_aircraft")
    monkeypatch.undo()
    sql = "SELECT aircraft_id FROM bronze_aircraft"
    assert query(lakehouse, sql, ["bronze_aircraft"]).to_pylist() == [{"aircraft_id": "N1"}]
    # The hash recorded is the old bytes': the new file differs from it, and is read.
    table = next(t for t in load_tables() if t.name == "bronze_aircraft")
    assert pending_files(lakehouse, settings, table).files == ["reference/aircraft.csv"]
    _ingest(settings, "bronze_aircraft", "run-2")
    assert query(lakehouse, sql, ["bronze_aircraft"]).to_pylist() == [{"aircraft_id": "N2"}]


@pytest.mark.parametrize(
    "text", [f"{AIRCRAFT_HEADER}\n", AIRCRAFT_HEADER, f"{AIRCRAFT_HEADER}\n\n\r\n", ""]
)
def test_a_reference_snapshot_without_rows_stops_the_run_with_the_file_named(
    tmp_path: Path, text: str
) -> None:
    # A failed export would otherwise empty the fleet, or be skipped without a word.
    settings = load_settings(None, data_dir=tmp_path / "data")
    path = settings.landing_dir / "reference" / "aircraft.csv"
    path.parent.mkdir(parents=True)
    path.write_text(f"{AIRCRAFT_HEADER}\nN1,A320neo,Airbus,2,ORD,2019-03-14\n")
    lakehouse = _ingest(settings, "bronze_aircraft")
    path.write_text(text)
    problem = r"reference snapshot reference/aircraft\.csv: it holds no row"
    with pytest.raises(LandingLayoutError, match=problem):
        _ingest(settings, "bronze_aircraft", "run-2")
    sql = "SELECT aircraft_id FROM bronze_aircraft"
    assert query(lakehouse, sql, ["bronze_aircraft"]).to_pylist() == [{"aircraft_id": "N1"}]
    with pytest.raises(LandingLayoutError, match=problem):  # each run, until it is replaced
        _ingest(settings, "bronze_aircraft", "run-3")


def test_a_folder_dated_after_tomorrow_never_passes_for_the_newest_one() -> None:
    days = ("2026-01-01", "2026-01-02", "2026-03-01")
    marks = {f"weather/date={d}/part-00000.csv": FileMark(10, 100) for d in days}
    latest = dt.date(2026, 1, 2)
    assert _complete_folders(marks, 0, latest) == {"date=2026-01-01"}
    assert _complete_folders(marks, 0) == {"date=2026-01-01", "date=2026-01-02"}
    assert _complete_folders(marks, 0, dt.date(2025, 12, 31)) == frozenset()


def test_a_live_file_grows_into_bronze_beside_a_folder_dated_after_tomorrow(
    tmp_path: Path,
) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data")  # pipeline.open_days: 7
    table = next(t for t in load_tables() if t.name == "bronze_telemetry_engine")
    lakehouse = Lakehouse.from_settings(settings)
    today = dt.datetime.now(dt.UTC).date()
    ahead = f"telemetry_engine/date={today + dt.timedelta(days=30)}"
    record = '{{"component_id":"N1-ENG1","reading_ts":"{}T0{}:00:00Z","egt_c":600}}\n'
    live = settings.landing_dir / f"telemetry_engine/date={today}/part-live-00001.jsonl"
    live.parent.mkdir(parents=True)
    live.write_text(record.format(today, 1))
    (settings.landing_dir / ahead).mkdir(parents=True)
    (settings.landing_dir / ahead / "part-00000.jsonl").write_text(record.format(today, 2))

    def run(run_id: str) -> None:
        pending = pending_files(lakehouse, settings, table)
        ingest(lakehouse, settings.landing_dir, table, run_id, pending)

    with pytest.warns(FutureFolderWarning, match=f"landing folder {ahead}: dated after"):
        run("run-1")  # the folder is read, but closes no older one
    with live.open("a") as out:
        out.write(record.format(today, 3))
    run("run-2")
    sql = "SELECT _source_file, _line FROM bronze_telemetry_engine ORDER BY ALL"
    got = query(lakehouse, sql, ["bronze_telemetry_engine"]).to_pylist()
    name = live.relative_to(settings.landing_dir).as_posix()
    assert [(r["_source_file"], r["_line"]) for r in got] == [
        (name, 1),
        (name, 2),
        (f"{ahead}/part-00000.jsonl", 1),
    ]
    # A simulated clock: the folder counts as the newest, without a warning.
    simulated = with_section(settings, "pipeline", future_days=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pending_files(lakehouse, simulated, table).files == []
    assert bronze._complete_folders(bronze.checkpoint(lakehouse, table.name), 7) == {
        f"date={today}"
    }
