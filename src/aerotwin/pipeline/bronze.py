"""Bronze: incremental ingestion of landing files, like Auto Loader.

The bronze table is its own checkpoint: each row carries its source file and the byte offset
up to which that file was read, and rows and offsets are committed together, so a crash can
never record a file as ingested without its rows (or the reverse). A rerun ingests nothing
twice; a new day's files are ingested alone; a live file that grew is read from where the last
run stopped. Only complete (newline-terminated) lines are read: a line still being written
waits for the next run. Every line is kept raw (`_raw`), with its file, line number, arrival
day, ingestion time and batch id (= the Delta version that added it, which silver uses as its
incremental watermark).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from deltalake import ColumnProperties, WriterProperties

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.definitions import LandingSource, TableDef
from aerotwin.pipeline.landing import arrival_date, discover, parse_csv_lines, split_lines

# One commit per chunk of files bounds memory; each chunk is still all-or-nothing.
CHUNK_BYTES = 512 * 1024 * 1024

# Long text columns (the raw line, JSON tokens) get no dictionary and no statistics: they cost
# most of the write and no reader filters on them; lineage keeps statistics for file skipping.
_INDEXED = ("_source_file", "_line", "_arrival_date", "_batch_id")
WRITER = WriterProperties(
    default_column_properties=ColumnProperties(dictionary_enabled=False, statistics_enabled="NONE"),
    column_properties={c: ColumnProperties(statistics_enabled="CHUNK") for c in _INDEXED},
)

LINEAGE_FIELDS: list[pa.Field] = [
    pa.field("_raw", pa.string()),
    pa.field("_source_file", pa.string()),
    pa.field("_line", pa.int64()),
    pa.field("_arrival_date", pa.date32()),
    pa.field("_ingested_ts", pa.timestamp("us", tz="UTC")),
    pa.field("_batch_id", pa.int64()),
    pa.field("_file_offset", pa.int64()),
    pa.field("_parse_ok", pa.bool_()),
]


@dataclass(frozen=True)
class IngestResult:
    """What one bronze ingestion did."""

    files: int
    rows: int
    version: int | None


@dataclass(frozen=True)
class FileMark:
    """How far a landing file has been ingested: its last line number and byte offset."""

    line: int
    offset: int


def checkpoint(lakehouse: Lakehouse, table: str) -> dict[str, FileMark]:
    """The checkpoint: for each landing file in bronze table `table`, how far it was read."""
    if not lakehouse.exists(table):
        return {}
    con = duckdb.connect()
    files = lakehouse.plain_parquet_files(table)
    if files is not None:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"CREATE VIEW bronze AS SELECT * FROM read_parquet([{listed}])")
    else:
        columns = ["_source_file", "_line", "_file_offset"]
        con.register("bronze", lakehouse.dataset(table).scanner(columns=columns).to_reader())
    rows = con.execute(
        "SELECT _source_file, max(_line), max(_file_offset) FROM bronze GROUP BY 1"
    ).fetchall()
    con.close()
    return {name: FileMark(int(line), int(offset)) for name, line, offset in rows}


def pending_files(lakehouse: Lakehouse, landing: Path, table: TableDef) -> list[str]:
    """Landing files of the table's feed with lines not yet ingested, in arrival order."""
    source = _source(table)
    if source.snapshot:
        path = f"reference/{source.feed}.csv"
        if not (landing / path).is_file():
            return []
        meta = lakehouse.commit_metadata(table.name) or {}
        return [] if meta.get("sha256") == _sha256(landing / path) else [path]
    marks = checkpoint(lakehouse, table.name)
    return [
        f
        for f in discover(landing, source.feed, source.format)
        if f not in marks or (landing / f).stat().st_size > marks[f].offset
    ]


def ingest(
    lakehouse: Lakehouse,
    landing: Path,
    table: TableDef,
    run_id: str,
    files: list[str] | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> IngestResult:
    """Append the pending files of `table`'s feed to it, one commit per chunk of files."""
    source = _source(table)
    files = pending_files(lakehouse, landing, table) if files is None else files
    marks = {} if source.snapshot else checkpoint(lakehouse, table.name)
    rows = 0
    version = lakehouse.version(table.name)
    for chunk in _chunks(landing, files):
        batch_id = 0 if version is None else version + 1
        now = dt.datetime.now(dt.UTC)
        parts = [_read(landing, f, marks.get(f), source, batch_id, now) for f in chunk]
        # A header-only CSV still creates the table (with its columns) the first time.
        keep_empty = version is None
        parts = [p for p in parts if p.num_rows or (keep_empty and p.num_columns)]
        if not parts:
            continue
        data = pa.concat_tables(parts, promote_options="default")
        if source.format == "jsonl":
            data = _parse_jsonl(data, source.fields)
        meta = {"run_id": run_id, "files": len(chunk)}
        if source.snapshot:
            meta["sha256"] = _sha256(landing / chunk[0])
            version = lakehouse.write(
                table.name, data, "overwrite", metadata=meta, writer_properties=WRITER
            )
        else:
            version = lakehouse.write(
                table.name, data, "append", metadata=meta, writer_properties=WRITER
            )
        rows += data.num_rows
        if on_chunk:
            on_chunk(len(chunk), data.num_rows)
    return IngestResult(len(files), rows, version)


def _source(table: TableDef) -> LandingSource:
    if table.source is None:
        raise ValueError(f"table {table.name}: not a bronze table (no landing source)")
    return table.source


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def _constant(value: object, n: int, kind: pa.DataType) -> pa.Array:
    """`value` repeated `n` times, without building a Python list (dictionary-decoded)."""
    indices = pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], kind)).dictionary_decode()


def _lineage(
    raw: pa.Array, lines: pa.Array, name: str, batch_id: int, now: dt.datetime, offset: int
) -> dict[str, pa.Array]:
    n = len(raw)
    return {
        "_raw": raw,
        "_source_file": _constant(name, n, pa.string()),
        "_line": lines,
        "_arrival_date": _constant(arrival_date(name), n, pa.date32()),
        "_ingested_ts": _constant(now, n, pa.timestamp("us", tz="UTC")),
        "_batch_id": pa.array(np.full(n, batch_id, dtype=np.int64)),
        "_file_offset": pa.array(np.full(n, offset, dtype=np.int64)),
    }


def _read(
    landing: Path,
    name: str,
    mark: FileMark | None,
    source: LandingSource,
    batch_id: int,
    now: dt.datetime,
) -> pa.Table:
    """The complete lines of `name` after `mark`, with lineage (CSV: parsed against its header)."""
    data = (landing / name).read_bytes()
    start = mark.offset if mark else 0
    end = data.rfind(b"\n") + 1  # an unterminated last line is still being written
    if end <= start:
        return pa.table({})
    raw, numbers = split_lines(data[start:end])
    numbers = numbers + (mark.line if mark else 0)
    if source.format == "jsonl":
        return pa.table(_lineage(raw, pa.array(numbers), name, batch_id, now, end))
    header = next(csv.reader([data[: data.find(b"\n")].decode()]))
    if start == 0:
        raw, numbers = raw[1:], numbers[1:]
    return _parse_csv(raw, numbers, header, name, batch_id, now, end)


def _parse_jsonl(base: pa.Table, fields: tuple[str, ...]) -> pa.Table:
    """Extract `fields` as raw JSON tokens (text) in one parse per line; keep invalid lines."""
    paths = "[" + ", ".join(f"'$.\"{f}\"'" for f in fields) + "]"
    extracted = ", ".join(
        f'CASE WHEN _parse_ok THEN CAST(__v[{i + 1}] AS VARCHAR) END AS "{f}"'
        for i, f in enumerate(fields)
    )
    con = duckdb.connect()
    con.register("lines", base)
    # try(): a line that is not JSON gives NULL instead of failing the batch.
    sql = f"""
        SELECT * EXCLUDE (__v), {extracted}
        FROM (
            SELECT *, __v IS NOT NULL AND starts_with(ltrim(_raw), '{{') AS _parse_ok
            FROM (SELECT *, try(json_extract(_raw, {paths})) AS __v FROM lines)
        )
    """
    table = con.sql(sql).to_arrow_table()
    con.close()
    return table


def _parse_csv(
    raw: pa.Array,
    numbers: np.ndarray,
    columns: list[str],
    name: str,
    batch_id: int,
    now: dt.datetime,
    offset: int,
) -> pa.Table:
    """Data lines parsed against the file's header, kept raw, flagged when malformed."""
    data = _lineage(raw, pa.array(numbers), name, batch_id, now, offset)
    parsed = _fast_csv(raw, columns)
    if parsed is not None:
        data["_parse_ok"] = pa.array(np.ones(len(raw), dtype=bool))
        data.update({c: parsed.column(c).combine_chunks() for c in columns})
        return pa.table(data)
    values, ok = parse_csv_lines(raw.to_pylist(), columns)
    data["_parse_ok"] = pa.array(ok, pa.bool_())
    for column, vals in zip(columns, values, strict=True):
        data[column] = pa.array(vals, pa.string())
    return pa.table(data)


def _fast_csv(raw: pa.Array, columns: list[str]) -> pa.Table | None:
    """Arrow's CSV reader over the lines, when every line parses into one row; else None."""
    if not len(raw):
        return None
    body = "\n".join(raw.to_pylist()).encode() + b"\n"
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=columns),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None  # a malformed row: the line-by-line parser flags it
    return table if table.num_rows == len(raw) else None
