"""Reading landing-zone files into Arrow: every line kept raw, with its file and line number.

Pure functions over bytes and paths; the bronze loader (`bronze.py`) decides what to read.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_DATE_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
UTF8_BOM = b"\xef\xbb\xbf"
# Files beside a feed's that are no data: hidden files and markers (`_SUCCESS`), and
# files still being written (live mode renames them into place when complete).
NOT_DATA = (".", "_")
WRITING = ".inprogress"


class LandingLayoutError(ValueError):
    """A landing folder or file breaks the layout (docs/landing_zone.md); the message names
    it and says what is wrong."""


class Listing(NamedTuple):
    """A feed's files in its arrival-day folders (`discover`), relative to the landing root."""

    files: list[str]  # the feed's files (its extension), in arrival order
    ignored: list[str]  # other files there, which are not read (another extension)


def discover(landing: Path, feed: str, suffix: str, done: frozenset[str] = frozenset()) -> Listing:
    """Files of one feed, as paths relative to the landing root, in arrival order, and the
    files beside them that are not read (hidden, `_`-prefixed and `.inprogress` files aside).

    `done`: arrival-day folders (`date=...`) known to be complete, which are not listed
    (a file lands in its arrival day's folder, and files never change: docs/landing_zone.md).
    """
    base = landing / feed
    if not base.is_dir():
        return Listing([], [])
    ending = f".{suffix}"
    found, ignored = [], []
    # os.scandir, not Path.glob: a year of daily folders is listed many times faster.
    with os.scandir(base) as days:
        for day in days:
            if day.name.startswith("date=") and day.name not in done and day.is_dir():
                _check_day_folder(f"{feed}/{day.name}")
                for f in os.scandir(day.path):
                    if not f.is_file():  # no stat: the folder listing says
                        continue
                    if f.name.endswith(ending):
                        found.append(f"{feed}/{day.name}/{f.name}")
                    # `.JSONL`, `.ndjson`, `.csv.gz` were read by nobody, and nobody was told.
                    elif not f.name.startswith(NOT_DATA) and not f.name.endswith(WRITING):
                        ignored.append(f"{feed}/{day.name}/{f.name}")
    return Listing(sorted(found), sorted(ignored))


def day_folder_problem(name: str) -> str | None:
    """What is wrong with an arrival-day folder's name (None: `date=YYYY-MM-DD`, a real day)."""
    found = _DATE_DIR.fullmatch(name)
    if not found:
        return "not date=YYYY-MM-DD"
    try:
        dt.date.fromisoformat(found.group(1))
    except ValueError as exc:
        return str(exc)
    return None


def _check_day_folder(relative_path: str) -> None:
    """Raise LandingLayoutError unless the folder is named `date=YYYY-MM-DD`, a real day.

    Its files would otherwise get no arrival day, and a name sorting after every day
    (`date=x`) would pass for the newest folder: the real newest day's live files would
    never be listed again (`bronze._complete_folders`).
    """
    problem = day_folder_problem(relative_path.rsplit("/", 1)[-1])
    if problem is not None:
        raise LandingLayoutError(
            f"landing folder {relative_path}: {problem}; rename it to its files' arrival day "
            "(date=YYYY-MM-DD) or move it out of the landing zone"
        )


def arrival_date(relative_path: str) -> dt.date | None:
    """The arrival day a file was landed under (`date=YYYY-MM-DD`), or None."""
    found = _DATE_DIR.search(relative_path)
    return dt.date.fromisoformat(found.group(1)) if found else None


class Lines(NamedTuple):
    """The complete lines of a file from a byte offset on (see `split_lines`)."""

    text: pa.StringArray  # every non-blank line, without its line break
    numbers: np.ndarray  # each one's line number, counted from the offset (1-based)
    total: int  # lines read, blank lines included
    end: int  # the byte offset just past the last line read (the offset when none)
    not_utf8: np.ndarray | None = None  # which lines held bytes that are not UTF-8 (None: none)


def read_file(path: Path) -> pa.Buffer:
    """A file's bytes in Arrow memory (Arrow's allocator reuses its pages between files)."""
    with pa.OSFile(str(path)) as file:
        return file.read_buffer()


def bom_length(data: bytes | pa.Buffer) -> int:
    """Bytes of the UTF-8 byte-order mark `data` starts with (Excel writes one): 3 or 0."""
    return 3 if bytes(memoryview(data)[:3]) == UTF8_BOM else 0


def split_lines(data: bytes | pa.Buffer, start: int = 0, final: bool = False) -> Lines:
    """The complete (newline-terminated) lines of `data` from byte `start` on; with `final`
    (the data are a whole file that nothing adds to), also a last line without its `\n`.

    Zero-copy until the line breaks are trimmed: offsets come from the newlines' positions.
    A line that is empty or a lone `\r` is blank: counted, not returned. A byte that is not
    UTF-8 is written as a `\\xNN` escape in its line only, so `_raw` is always valid text
    and still says what the byte was; `not_utf8` marks those lines (no parse may trust them).
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer[start:] == 10) + start
    if final and len(buffer) > (ends[-1] + 1 if len(ends) else start):
        ends = np.append(ends, len(buffer))  # the last line ends where the data do
    if not len(ends):
        return Lines(pa.array([], pa.string()), np.array([], dtype=np.int64), 0, start)
    starts = np.concatenate(([start], ends[:-1] + 1))
    # Each string spans start..end inclusive of its '\n'; the line break is trimmed below.
    offsets = np.concatenate(([start], np.minimum(ends + 1, len(buffer))))
    wide = offsets[-1] >= 2**31
    lines = (pa.LargeStringArray if wide else pa.StringArray).from_buffers(
        len(ends),
        pa.py_buffer(offsets.astype(np.int64 if wide else np.int32)),
        pa.py_buffer(data),
    )
    lines, not_utf8 = _valid_utf8(lines)
    lines = pc.utf8_rtrim(lines, characters="\r\n")
    lines = lines.cast(pa.string()) if wide else lines
    numbers = np.arange(1, len(ends) + 1, dtype=np.int64)
    keep = (ends - starts) > 0
    keep &= ~((ends - starts == 1) & (buffer[ends - 1] == 13))
    end = int(offsets[-1])
    if keep.all():
        return Lines(lines, numbers, len(ends), end, not_utf8)
    kept = not_utf8[keep] if not_utf8 is not None else None
    return Lines(lines.filter(pa.array(keep)), numbers[keep], len(ends), end, kept)


def _valid_utf8(lines: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """`lines` with each byte that is not UTF-8 escaped (`\\xNN`) in the line holding it,
    and which lines those are (None when every line is UTF-8: the common case, no copy)."""
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        binary = pa.large_binary() if lines.type == pa.large_string() else pa.binary()
        decoded = [_decoded(v) for v in lines.view(binary).to_pylist()]
        bad = np.array([escaped for _, escaped in decoded], dtype=bool)
        return pa.array([text for text, _ in decoded], lines.type), bad
    return lines, None


def _decoded(value: bytes) -> tuple[str, bool]:
    """A line's text, and whether bytes that are not UTF-8 had to be escaped in it."""
    try:
        return value.decode("utf-8"), False
    except UnicodeDecodeError:
        return value.decode("utf-8", "backslashreplace"), True


def parse_csv_lines(
    lines: list[str], columns: list[str]
) -> tuple[list[list[str | None]], list[bool]]:
    """Parse CSV data lines against `columns`, each line on its own (a line is a record);
    a line with the wrong field count, or whose quoting does not close on it, is not ok."""
    values: list[list[str | None]] = [[] for _ in columns]
    ok: list[bool] = []
    for line in lines:
        fields = _csv_fields(line)
        good = fields is not None and len(fields) == len(columns)
        ok.append(good)
        for i, column in enumerate(values):
            column.append((fields[i] or None) if good and fields else None)
    return values, ok


def _csv_fields(line: str) -> list[str] | None:
    """One line's CSV fields; None when its quoting does not close on the line, or it holds a
    lone `\r` outside quotes (the csv module refuses it)."""
    try:
        # The line break read inside a value shows a quote left open (the line has none).
        fields = next(csv.reader([line + "\n"]), [])
    except csv.Error:
        return None
    return None if any("\n" in f for f in fields) else fields
