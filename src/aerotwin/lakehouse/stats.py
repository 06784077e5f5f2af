"""Per-file column statistics in Delta's format, from what DuckDB's COPY returns.

A Delta add action may carry each column's min, max and null count (`stats`). Readers skip
files by them: Spark's data skipping, and our own merges and incremental reads
(`files.files_overlapping`), so a daily run reads the files of its days, not a year's.
Bounds are recorded for flat columns (a file with a nested column gets its row count only).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MILLISECOND = dt.timedelta(milliseconds=1)


@dataclass(frozen=True)
class WrittenFile:
    """One Parquet file written into a table's folder: path relative to it, bytes, rows, and
    DuckDB's statistics of each column (`RETURN_STATS`: min, max, null_count, ... as text)."""

    path: str
    size: int
    rows: int
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def delta_stats(file: WrittenFile, schema: pa.Schema) -> str:
    """The add action's `stats` JSON of `file` in a table of `schema`.

    Every column gets bounds, or no column does: deltalake's reader turns a column missing
    from the bounds into "x >= NULL" and would skip the file (a NaN, a nested column, a
    year Python cannot hold).
    """
    stats: dict[str, Any] = {"numRecords": file.rows}
    named = {top_level(quoted): stat for quoted, stat in file.columns.items()}
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for column in schema:
        stat = named.get(column.name, {})
        count = int(stat["null_count"]) if "null_count" in stat else None
        least, most = _bound(stat, "min", column.type), _bound(stat, "max", column.type)
        if least is not None and most is not None:
            low[column.name], high[column.name] = least, most
        elif count != file.rows:
            return json.dumps(stats)
        nulls[column.name] = count or 0
    return json.dumps({**stats, "minValues": low, "maxValues": high, "nullCount": nulls})


def overlapping_paths(stats: pa.Table, ranges: Mapping[str, tuple[Any, Any]]) -> set[str]:
    """Paths of the files (rows of `stats`, as `Lakehouse.file_stats` gives them) whose
    statistics overlap every range: column -> (low, high), Python values (None: open side).

    A file without statistics for a column may hold anything there: it is kept.
    """
    keep = np.ones(stats.num_rows, dtype=bool)
    for column, (low, high) in ranges.items():
        if f"min.{column}" not in stats.column_names:
            continue
        least, most = stats.column(f"min.{column}"), stats.column(f"max.{column}")
        if pa.types.is_timestamp(most.type):
            # Delta's timestamps keep milliseconds: a writer that truncates is 1 ms short.
            most = pc.add(most, pa.scalar(MILLISECOND))
        if low is not None:
            keep &= _true_or_unknown(pc.greater_equal(most, low))
        if high is not None:
            keep &= _true_or_unknown(pc.less_equal(least, high))
    return set(stats.column("path").filter(pa.array(keep)).to_pylist())


def _true_or_unknown(flags: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(flags, True).to_numpy(zero_copy_only=False), dtype=bool)


def _bound(stat: Mapping[str, str], key: str, kind: pa.DataType) -> Any:
    """DuckDB's `min` or `max` as Delta's JSON has it; None when there is none.

    Not exact (long text, cut to a prefix) is still a bound: Parquet's truncated min is a
    lower bound and its max an upper one. A value Python cannot represent has none.
    """
    if key not in stat or stat.get("has_nan") == "true":
        return None  # NaN sorts outside min and max: no bound holds
    try:
        return _value(stat[key], kind, round_up=key == "max")
    except (ValueError, OverflowError):
        return None  # a year Python cannot hold (DuckDB has 10000, 1 BC): no bound


def top_level(quoted: str) -> str | None:
    """DuckDB names a column `"name"`; a nested field `"a"."b"`: None for those."""
    if len(quoted) >= 2 and quoted[0] == quoted[-1] == '"' and '"."' not in quoted:
        return quoted[1:-1].replace('""', '"')
    return None


def _value(text: str, kind: pa.DataType, *, round_up: bool) -> Any:
    """A bound as Delta's JSON has it; None when the type gets no bound."""
    if pa.types.is_integer(kind):
        return int(text)
    if pa.types.is_floating(kind):
        number = float(text)
        return number if math.isfinite(number) else None
    if pa.types.is_date(kind):
        return dt.date.fromisoformat(text).isoformat()
    if pa.types.is_timestamp(kind):
        return _timestamp(text, round_up=round_up)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return text
    if pa.types.is_boolean(kind):
        return text == "1"
    return None


def _timestamp(text: str, *, round_up: bool) -> str:
    """Delta keeps milliseconds: a max is rounded up, so it still bounds the column."""
    value = dt.datetime.fromisoformat(text)
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    sub_ms = value.microsecond % 1000
    value -= dt.timedelta(microseconds=sub_ms)
    if round_up and sub_ms:
        value += MILLISECOND
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
