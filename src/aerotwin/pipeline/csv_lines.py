"""CSV lines parsed in bronze against their file's header, many files in one Arrow parse.

Each data line is one row: a line whose field count is not its header's, whose quoting
does not close on it, or that Arrow cannot read as one row, has `_parse_ok` false and NULL
fields (the line-by-line parser decides), never a shifted row. The fast path hands Arrow's
CSV reader the files' bytes as they are, chained: files without any `\\r` (Arrow ends a row
at a lone `\\r` too, the line splitter does not), whose rows then come out exactly one per
non-blank line, in order (each row ends at a line break, blank lines are skipped by both,
so equal counts mean aligned rows, once no value runs on past its line: `read_rows`).
Anything else goes file by file, as the lines themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from aerotwin.pipeline.landing import parse_csv_lines


@dataclass(frozen=True)
class CsvFile:
    """The new lines of one CSV file: lineage columns (`_raw` first), header and bytes.

    `body`: the bytes of exactly those lines when Arrow may parse them as they are (no
    `\\r`, header not among them, all UTF-8), else None. `not_utf8`: the lines that held
    bytes that are not UTF-8 (escaped in `_raw`): never parsed as rows (None: none did).
    """

    lineage: pa.Table
    columns: tuple[str, ...]
    body: pa.Buffer | None
    not_utf8: np.ndarray | None = None


def parse_files(files: list[CsvFile]) -> Iterator[pa.Table]:
    """Each run of files with the same header as one table: lineage, `_parse_ok`, columns."""
    for group in _runs(files):
        table = _parse_group(group)
        if table is not None:
            yield table
        else:
            yield from (_parse_one(f) for f in group)


def _runs(files: list[CsvFile]) -> Iterator[list[CsvFile]]:
    """Consecutive files that share a header and have bytes Arrow may parse as they are."""
    run: list[CsvFile] = []
    for file in files:
        fits = file.body is not None and (not run or run[0].columns == file.columns)
        if run and not fits:
            yield run
            run = []
        run.append(file)
        if file.body is None:
            yield run
            run = []
    if run:
        yield run


def _parse_group(group: list[CsvFile]) -> pa.Table | None:
    """One Arrow parse of the group's chained bytes; None when a row is malformed."""
    if any(f.body is None for f in group):
        return None
    lineage = pa.concat_tables([f.lineage for f in group])
    if not lineage.num_rows:
        return None
    body = b"".join(memoryview(f.body) for f in group if f.body is not None)
    parsed = read_rows(pa.py_buffer(body), list(group[0].columns))
    if parsed is None or parsed.num_rows != lineage.num_rows:
        return None
    return _with_fields(lineage, np.ones(lineage.num_rows, dtype=bool), parsed.columns, group)


def _parse_one(file: CsvFile) -> pa.Table:
    """One file's lines: Arrow over the lines when every one is a row, else line by line."""
    raw = file.lineage.column("_raw").combine_chunks()
    columns = list(file.columns)
    parsed = None
    if len(raw):
        body = file.body or pa.py_buffer("\n".join(raw.to_pylist()).encode() + b"\n")
        parsed = read_rows(body, columns)
    if parsed is not None and parsed.num_rows == len(raw) and file.not_utf8 is None:
        ok = np.ones(len(raw), dtype=bool)
        return _with_fields(file.lineage, ok, [c.combine_chunks() for c in parsed.columns], [file])
    values, flags = parse_csv_lines(raw.to_pylist(), columns)
    ok = np.array(flags, dtype=bool)
    if file.not_utf8 is not None:
        # A row read off escaped bytes would hold values the file never had: quarantined.
        ok &= ~file.not_utf8
        values = [[v if good else None for v, good in zip(c, ok, strict=True)] for c in values]
    fields = [pa.array(v, pa.string()) for v in values]
    return _with_fields(file.lineage, ok, fields, [file])


def _with_fields(
    lineage: pa.Table,
    ok: np.ndarray,
    fields: list[pa.ChunkedArray] | list[pa.Array],
    group: list[CsvFile],
) -> pa.Table:
    """The lineage columns, then `_parse_ok`, then the fields under their header's names."""
    data = dict(zip(lineage.column_names, lineage.columns, strict=True))
    data["_parse_ok"] = pa.array(ok, pa.bool_())
    data.update(zip(group[0].columns, fields, strict=True))
    return pa.table(data)


def read_rows(body: pa.Buffer, columns: list[str]) -> pa.Table | None:
    """Arrow's CSV reader over `body` (no header line), every field text; None if malformed,
    or if a quote left open ran a value on past its line."""
    try:
        table = pacsv.read_csv(
            body,
            read_options=pacsv.ReadOptions(column_names=columns),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                # Only an empty field is null (quoted or not, as the line parser reads it):
                # Arrow's default list would also null text such as `NA` (Namibia) or `null`.
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid:
        return None  # a malformed row: the line-by-line parser flags it
    # Arrow reads on past line breaks inside quotes (`newlines_in_values` only tells its
    # chunker): with as many rows as lines, such a row still ends a file or a block. A value
    # can only hold a line break after a quote, which most feeds never write.
    quoted = bool((np.frombuffer(body, dtype=np.uint8) == ord('"')).any())
    if quoted and any(pc.any(pc.match_substring(c, "\n")).as_py() for c in table.columns):
        return None
    return table
