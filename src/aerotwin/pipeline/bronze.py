"""Bronze: incremental ingestion of landing files, like Auto Loader.

The checkpoint (for each landing file: the last line and byte offset read) is recorded in
the same Delta commit as the rows it covers (the commit's `userMetadata`), so a crash can
never record a file as ingested without its rows (or the reverse), and reading it costs one
small log entry, not a scan. A rerun ingests nothing twice; a new day's files are ingested
alone; a live file that grew is read from where the last run stopped. Only complete
(newline-terminated) lines are read: a line still being written waits for the next run
(and the run names its file), unless its file is complete: a reference snapshot, or a file
in an arrival-day folder this run closes (it is not listed again).
Every line is kept raw (`_raw`), with its file, line number, arrival day, ingestion time and
batch id (= the Delta version that added it, which silver uses as its incremental
watermark). JSON lines are also parsed once into typed columns (`json_lines`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from aerotwin.config import Settings
from aerotwin.lakehouse.delta import Lakehouse, WriteMode
from aerotwin.lakehouse.duckdb_engine import connect_utc
from aerotwin.lakehouse.files import write_query
from aerotwin.pipeline.csv_lines import CsvFile, parse_files
from aerotwin.pipeline.definitions import LandingSource, TableDef
from aerotwin.pipeline.json_lines import typed_sql
from aerotwin.pipeline.landing import (
    LandingLayoutError,
    arrival_date,
    bom_length,
    day_folder_problem,
    discover,
    read_file,
    split_lines,
)

# One commit per chunk of files bounds memory; each chunk is still all-or-nothing.
CHUNK_BYTES = 512 * 1024 * 1024
CHECKPOINT_KEY = "checkpoint"
# A JSON line's mark that its bytes were escaped: parsing it is not to be trusted.
NOT_UTF8 = "__not_utf8"


class FutureFolderWarning(UserWarning):
    """An arrival-day folder is dated after tomorrow (UTC): see `pipeline.future_days`."""


@dataclass(frozen=True)
class IngestResult:
    """What one bronze ingestion did."""

    files: int
    rows: int
    version: int | None
    held_back: list[str] = field(default_factory=list)  # files whose last line has no `\n` yet


@dataclass(frozen=True)
class Pending:
    """What a run has to read of one feed (`pending_files`), as paths under the landing root."""

    files: list[str]  # files with lines not yet ingested, in arrival order
    # Those complete: their last line is a record with or without its line break.
    whole: frozenset[str] = frozenset()
    ignored: list[str] = field(default_factory=list)  # files in its folders it does not read


@dataclass(frozen=True)
class FileMark:
    """How far a landing file has been ingested: its last line number and byte offset."""

    line: int
    offset: int


def checkpoint(lakehouse: Lakehouse, table: str) -> dict[str, FileMark]:
    """The checkpoint: for each landing file in bronze table `table`, how far it was read."""
    meta = lakehouse.commit_metadata(table)
    if meta is None:
        return {}
    if CHECKPOINT_KEY in meta:
        return {name: FileMark(int(m[0]), int(m[1])) for name, m in meta[CHECKPOINT_KEY].items()}
    return _scanned_checkpoint(lakehouse, table)


def _scanned_checkpoint(lakehouse: Lakehouse, table: str) -> dict[str, FileMark]:
    """The checkpoint of a table written before it moved into the commits: from its rows."""
    columns = ["_source_file", "_line", "_file_offset"]
    # Closed also when the table cannot be read or the query fails.
    with duckdb.connect() as con:
        con.register("bronze", lakehouse.dataset(table).scanner(columns=columns).to_reader())
        rows = con.execute(
            "SELECT _source_file, max(_line), max(_file_offset) FROM bronze GROUP BY 1"
        ).fetchall()
    return {name: FileMark(int(line), int(offset)) for name, line, offset in rows}


def pending_files(lakehouse: Lakehouse, settings: Settings, table: TableDef) -> Pending:
    """What to read of the table's feed: files with lines not yet ingested, in arrival
    order, those of them that are complete, and the files beside them it does not read."""
    source, landing = _source(table), settings.landing_dir
    if source.snapshot:
        path = f"reference/{source.feed}.csv"
        if not (landing / path).is_file():
            return Pending([])
        meta = lakehouse.commit_metadata(table.name) or {}
        # A snapshot is complete when it lands, and is read once.
        new = meta.get("sha256") != _sha256((landing / path).read_bytes())
        return Pending([path], frozenset([path])) if new else Pending([])
    marks = checkpoint(lakehouse, table.name)
    open_days, latest = settings.pipeline.open_days, _latest_day(settings)
    done = _complete_folders(marks, open_days, latest)
    listing = discover(landing, source.feed, source.format, done)
    files = [
        f for f in listing.files if f not in marks or (landing / f).stat().st_size > marks[f].offset
    ]
    if latest is not None:
        _warn_future_folders(files, latest)
    # The folders this run closes are not listed again: their files are read to the end.
    closing = _complete_folders([*marks, *files], open_days, latest)
    whole = frozenset(f for f in files if f.split("/")[1] in closing)
    return Pending(files, whole, listing.ignored)


def _complete_folders(
    files: Iterable[str], open_days: int, latest: dt.date | None = None
) -> frozenset[str]:
    """Arrival-day folders of `files` (the ingested ones) that are not listed again: those
    more than `open_days` days before the newest one no later than `latest` (None: any).

    A file may still land in a recent day's folder (a vendor's backfill after midnight; a
    live day older than the history's late-record folders), so those stay open, as do
    folders never seen (new days, or a day that landed late): a year is not re-listed.
    """
    folders = {name.split("/")[1] for name in files if name.count("/") == 2}
    # A folder that is no day (ingested before such folders stopped the run) is never newest.
    days = {
        f: dt.date.fromisoformat(f.removeprefix("date="))
        for f in folders
        if day_folder_problem(f) is None
    }
    # Nor is a day yet to come (a clock set wrong): today's live files would never be read.
    trusted = [d for d in days.values() if latest is None or d <= latest]
    if not trusted:
        return frozenset(f for f in folders if f not in days)
    first_open = max(trusted) - dt.timedelta(days=open_days)
    return frozenset(f for f in folders if f not in days or days[f] < first_open)


def _latest_day(settings: Settings) -> dt.date | None:
    """The latest arrival day a folder may be and still close older ones (None: any day):
    tomorrow (UTC), as a day's files may land early in another time zone."""
    if settings.pipeline.future_days:
        return None
    return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)


def _warn_future_folders(files: list[str], latest: dt.date) -> None:
    """Warn, naming them, of the folders of `files` dated after `latest`."""
    future = sorted(
        {
            name.rsplit("/", 1)[0]
            for name in files
            if (day := arrival_date(name)) is not None and day > latest
        }
    )
    if future:
        warnings.warn(
            f"landing folder {', '.join(future)}: dated after {latest} (tomorrow, UTC), which "
            "no file can have arrived on; its files are read, but it closes no older folder "
            "(pipeline.open_days); rename it to its files' arrival day, or, for a simulated "
            "landing zone whose days run ahead of the clock, set pipeline.future_days = true",
            FutureFolderWarning,
            stacklevel=3,
        )


def ingest(
    lakehouse: Lakehouse,
    landing: Path,
    table: TableDef,
    run_id: str,
    pending: Pending,
    duck: duckdb.DuckDBPyConnection | None = None,
) -> IngestResult:
    """Append the new lines of the `pending` files to `table`, one commit per chunk.

    `duck`: a DuckDB database the caller keeps open; ingestion works on a cursor of it
    (opening a database costs ~25 ms, and a new day ingests 9 feeds).
    """
    source = _source(table)
    marks = {} if source.snapshot else checkpoint(lakehouse, table.name)
    rows, held_back = 0, []
    version = lakehouse.version(table.name)
    con = connect_utc(duck)
    try:
        for chunk in _chunks(landing, pending.files):
            batch_id = 0 if version is None else version + 1
            now = dt.datetime.now(dt.UTC)
            read = _read_files(landing, chunk, marks, source, pending.whole, batch_id, now)
            held_back += [name for r, name in zip(read, chunk, strict=True) if r.held_back]
            if source.snapshot:
                _check_snapshot_rows(chunk[0], read[0])
            # A header-only CSV still creates the table (with its columns) the first time.
            keep_empty = version is None
            parts = [p for p in _tables(read) if p.num_rows or (keep_empty and p.num_columns)]
            if not parts:
                continue
            data = pa.concat_tables(parts, promote_options="default")
            con.register("__lines", data)
            sql = (
                typed_sql("__lines", source.fields, untrusted=NOT_UTF8)
                if source.format == "jsonl"
                else ("SELECT * FROM __lines")
            )
            meta: dict[str, Any] = {"run_id": run_id, "files": len(chunk)}
            if source.snapshot:
                meta["sha256"] = read[0].sha256
            else:
                marks = {
                    **marks,
                    **{name: r.mark for r, name in zip(read, chunk, strict=True) if r.mark},
                }
                meta[CHECKPOINT_KEY] = {n: [m.line, m.offset] for n, m in marks.items()}
            mode: WriteMode = "overwrite" if source.snapshot else "append"
            # Raw lines are unique values: building dictionaries for them is wasted work.
            version = write_query(
                lakehouse, con, sql, table.name, mode, metadata=meta, dictionary=False
            )
            con.unregister("__lines")
            rows += data.num_rows
    finally:
        con.close()
    return IngestResult(len(pending.files), rows, version, held_back)


def _read_files(
    landing: Path,
    names: list[str],
    marks: dict[str, FileMark],
    source: LandingSource,
    whole: frozenset[str],
    batch_id: int,
    now: dt.datetime,
) -> list[FileRead]:
    """`_read` of every file, on every core (file reads, numpy and Arrow release the GIL)."""

    def read(name: str) -> FileRead:
        return _read(landing, name, marks.get(name), source, name in whole, batch_id, now)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(read, names))


def _source(table: TableDef) -> LandingSource:
    if table.source is None:
        raise ValueError(f"table {table.name}: not a bronze table (no landing source)")
    return table.source


def _check_snapshot_rows(name: str, read: FileRead) -> None:
    """Raise LandingLayoutError when reference snapshot `name` holds no row (`read`: all of it).

    A snapshot replaces its whole table: an empty one (most likely a failed export) would
    empty the fleet, or, ignored, leave the last one in place without a word.
    """
    if read.lineage.num_rows == 0:
        raise LandingLayoutError(
            f"reference snapshot {name}: it holds no row (a header at most); a snapshot "
            "replaces its whole table, so an empty one is refused: land the file again with "
            "its rows"
        )


def _sha256(data: bytes | pa.Buffer) -> str:
    return hashlib.sha256(data).hexdigest()


def _chunks(landing: Path, files: list[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for name in files:
        chunk.append(name)
        size += (landing / name).stat().st_size
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _tables(read: list[FileRead]) -> list[pa.Table]:
    """The new lines of each file with lineage; CSV files parsed (many in one Arrow parse)."""
    found = [r for r in read if r.mark is not None]
    if not any(r.csv for r in found):
        return [r.lineage for r in found]
    return list(parse_files([r.csv for r in found if r.csv]))


def _constant(value: object, n: int, kind: pa.DataType) -> pa.Array:
    """`value` repeated `n` times, dictionary-encoded: one copy of it however many rows."""
    if value is None:
        return pa.nulls(n, kind)
    indices = pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], kind))


def _lineage(
    raw: pa.Array, lines: np.ndarray, name: str, batch_id: int, now: dt.datetime, offset: int
) -> pa.Table:
    n = len(raw)
    return pa.table(
        {
            "_raw": raw,
            "_source_file": _constant(name, n, pa.string()),
            "_line": pa.array(lines),
            "_arrival_date": _constant(arrival_date(name), n, pa.date32()),
            "_ingested_ts": _constant(now, n, pa.timestamp("us", tz="UTC")),
            "_batch_id": pa.array(np.full(n, batch_id, dtype=np.int64)),
            "_file_offset": pa.array(np.full(n, offset, dtype=np.int64)),
        }
    )


def _header_problem(header: list[str], source: LandingSource) -> str | None:
    """What makes a CSV header unusable for its feed, and what to do (None: nothing)."""
    if not "".join(header).strip():
        # Listing every column as missing would hide that the header is not on line 1.
        return (
            "its header (the first line) is blank or names no column; replace the file with "
            "one whose first line is the header"
        )
    lacking = [f for f in source.fields if f not in header]
    if lacking:
        # Rows without a contract column would pass with it null, or stop silver's SQL.
        return (
            f"its header has no {', '.join(lacking)} (the {source.feed} feed's columns: "
            f"{', '.join(source.fields)}); replace the file with one whose header has them"
        )
    # Such a column would overwrite bronze's own (`_source_file`, `_line`, ...).
    reserved = [c for c in header if c.startswith("_")]
    if reserved:
        return (
            f"its header names {', '.join(reserved)}, which start with `_` (reserved for "
            "bronze's lineage columns); replace the file with one that renames them"
        )
    # One of the two columns would be dropped without a word; SQL names ignore case, so
    # `MODEL` and `model` are one column too and silver would read either.
    names = Counter(c.casefold() for c in header)
    repeated = [c for c in dict.fromkeys(header) if names[c.casefold()] > 1]
    if repeated:
        return (
            f"its header names {', '.join(repeated)} more than once (column names are "
            "matched whatever their case); replace the file with one that names each column once"
        )
    return None


@dataclass(frozen=True)
class FileRead:
    """What `_read` found in one file: its new lines with lineage (CSV: with its header and
    bytes, to parse), its new mark (None when there is nothing new), whether a last line
    without its line break was left for a later run, and (a snapshot's) the SHA-256 of the
    bytes read."""

    lineage: pa.Table
    mark: FileMark | None
    csv: CsvFile | None = None
    held_back: bool = False
    sha256: str | None = None


def _read(
    landing: Path,
    name: str,
    mark: FileMark | None,
    source: LandingSource,
    whole: bool,
    batch_id: int,
    now: dt.datetime,
) -> FileRead:
    """The complete lines of `name` after `mark`, with lineage (CSV: with its header);
    `whole`: the file is complete, its last line is one with or without its line break."""
    data = read_file(landing / name)
    # The hash of the bytes parsed: a snapshot replaced meanwhile differs, and is read again.
    digest = _sha256(data) if source.snapshot else None
    # A byte-order mark is not part of the first line: not its text, nor a CSV header's
    # (the header is read again on every run, also when reading from a saved offset).
    bom = bom_length(data)
    start = mark.offset if mark else bom
    # Files only grow by whole lines: no line break before the offset means a rewrite.
    if mark and len(data) > start and data[start - 1] != 10:
        raise LandingLayoutError(
            f"landing file {name}: it changed in place after it was ingested up to byte "
            f"{start} (the byte before is no longer a line break); landing files must not "
            "change once landed: land a corrected file under a new name in today's folder (it "
            "is ingested as a new file; duplicates are resolved by key, the latest arrival "
            "wins)"
        )
    # Else an unterminated last line may still be being written: it waits.
    lines = split_lines(data, start, final=whole)
    held_back = len(data) > lines.end
    if lines.end <= start:
        return FileRead(pa.table({}), None, held_back=held_back, sha256=digest)
    base = mark.line if mark else 0
    new_mark = FileMark(base + lines.total, lines.end)
    raw, numbers = lines.text, lines.numbers + base
    if source.format == "jsonl":
        lineage = _lineage(raw, numbers, name, batch_id, now, lines.end)
        # An escaped byte after a backslash can read as valid JSON (`\\xe9`): mark the line.
        marks = (
            pa.nulls(len(raw), pa.bool_()) if lines.not_utf8 is None else pa.array(lines.not_utf8)
        )
        return FileRead(
            lineage.append_column(NOT_UTF8, marks), new_mark, held_back=held_back, sha256=digest
        )
    buffer = np.frombuffer(data, dtype=np.uint8)
    header_end = int(np.argmax(buffer == 10))
    if buffer[header_end] != 10:
        header_end = len(data)  # a whole file of one line, without its line break
    head = data.slice(bom, header_end - bom).to_pybytes().decode("utf-8", "backslashreplace")
    header = next(csv.reader([head]))
    problem = _header_problem(header, source)
    if problem:
        raise LandingLayoutError(f"landing file {name}: {problem}")
    body_start, not_utf8 = start, lines.not_utf8
    if mark is None:
        raw, numbers, body_start = raw[1:], numbers[1:], min(header_end + 1, lines.end)
        not_utf8 = not_utf8[1:] if not_utf8 is not None else None
    lineage = _lineage(raw, numbers, name, batch_id, now, lines.end)
    if not_utf8 is not None and not not_utf8.any():
        not_utf8 = None  # only the header held such bytes
    # Arrow may read the bytes as they are only when the first line read was the header,
    # when they are all UTF-8 (the escaped lines are not the bytes), and when they end with
    # a line break (files are parsed chained: a last line would run on into the next file).
    ended = lines.end == body_start or buffer[lines.end - 1] == 10
    plain = (
        header_end > 0
        and ended
        and not_utf8 is None
        and not (buffer[body_start : lines.end] == 13).any()
    )
    body = data.slice(body_start, lines.end - body_start) if plain else None
    csv_file = CsvFile(lineage, tuple(header), body, not_utf8)
    return FileRead(lineage, new_mark, csv_file, held_back, digest)
