"""Reading landing-zone files into Arrow: every line kept raw, with its file and line number.

Pure functions over bytes and paths; the bronze loader (`bronze.py`) decides what to read.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_DATE_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


def discover(
    landing: Path, feed: str, suffix: str, done: frozenset[str] = frozenset()
) -> list[str]:
    """Files of one feed, as paths relative to the landing root, in arrival order.

    `done`: arrival-day folders (`date=...`) known to be complete, which are not listed
    (a file lands in its arrival day's folder, and files never change: docs/landing_zone.md).
    """
    base = landing / feed
    if not base.is_dir():
        return []
    ending = f".{suffix}"
    found = []
    # os.scandir, not Path.glob: a year of daily folders is listed many times faster.
    for day in os.scandir(base):
        if day.name.startswith("date=") and day.name not in done and day.is_dir():
            found += [
                f"{feed}/{day.name}/{f.name}"
                for f in os.scandir(day.path)
                if f.name.endswith(ending) and f.is_file()
            ]
    return sorted(found)


def arrival_date(relative_path: str) -> dt.date | None:
    """The arrival day a file was landed under (`date=YYYY-MM-DD`), or None."""
    found = _DATE_DIR.search(relative_path)
    return dt.date.fromisoformat(found.group(1)) if found else None


def split_lines(data: bytes) -> tuple[pa.StringArray, np.ndarray]:
    """Every non-empty line of `data` (without its line break) and its 1-based line number.

    Zero-copy over the file's bytes: offsets come from the positions of the newlines.
    """
    if not data:
        return pa.array([], pa.string()), np.array([], dtype=np.int64)
    if not data.endswith(b"\n"):
        data += b"\n"
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10).astype(np.int64)
    starts = np.concatenate(([0], ends[:-1] + 1))
    # Each string spans start..end inclusive of its '\n'; the newline is trimmed below.
    offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(
        len(ends), pa.py_buffer(offsets), pa.py_buffer(data)
    ).cast(pa.string())
    lines = pc.utf8_rtrim(lines, characters="\r\n")
    numbers = np.arange(1, len(ends) + 1, dtype=np.int64)
    keep = (ends - starts) > 0
    keep &= ~((ends - starts == 1) & (buffer[np.maximum(ends - 1, 0)] == 13))
    if keep.all():
        return lines, numbers
    mask = pa.array(keep)
    return lines.filter(mask), numbers[keep]


def parse_csv_lines(
    lines: list[str], columns: list[str]
) -> tuple[list[list[str | None]], list[bool]]:
    """Parse CSV data lines against `columns`; a line with the wrong field count is not ok."""
    values: list[list[str | None]] = [[] for _ in columns]
    ok: list[bool] = []
    for fields in csv.reader(lines):
        good = len(fields) == len(columns)
        ok.append(good)
        for i, column in enumerate(values):
            column.append((fields[i] if fields[i] != "" else None) if good else None)
    return values, ok
