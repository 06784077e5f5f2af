"""Bad-record injection: telemetry lines spoiled on purpose, each one tagged for the manifest.

A day's file starts as clean JSON lines sorted by reading time. `inject` picks about
`rate * n` of them, gives each one kind of damage from schemas.BAD_RECORD_KINDS and returns the
lines in file order with a tag on every bad line, plus the lines that will arrive late.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from aerotwin.schemas import BAD_RECORD_KINDS, SENSORS, TELEMETRY_KEYS

WRONG_TYPE_VALUES = ("n/a", "ERR", "#VALUE!", "12,5", "NaN%")
MAX_LATE_DAYS = 3


@dataclass(frozen=True)
class Tag:
    """Why a line is bad: kind, the field it concerns, and the record's true key."""

    kind: str
    field: str
    component_id: str
    reading_ts: str

    @property
    def key(self) -> str:
        return f"{self.component_id}|{self.reading_ts}"


@dataclass(frozen=True)
class Line:
    """One line of a landing-zone file and, if it is bad on purpose, why."""

    text: str
    tag: Tag | None = None


@dataclass(frozen=True)
class Injected:
    """A day's lines in file order, the tags of the bad ones by 0-based position, and the late
    lines with how many days late they arrive."""

    lines: list[str]
    tags: dict[int, Tag]
    late: list[tuple[int, Line]]


def _dump(record: dict[str, object]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _spoil(
    kind: str, record: dict, component_type: str, rng: np.random.Generator
) -> tuple[str, str]:
    """Damage a record in place for the in-line kinds; returns (line text, field concerned)."""
    sensors = SENSORS[component_type]
    sensor = sensors[int(rng.integers(len(sensors)))]
    if kind == "missing_field":
        name = list(TELEMETRY_KEYS) + [s.name for s in sensors]
        dropped = name[int(rng.integers(len(name)))]
        del record[dropped]
        return _dump(record), dropped
    if kind == "wrong_type":
        record[sensor.name] = WRONG_TYPE_VALUES[int(rng.integers(len(WRONG_TYPE_VALUES)))]
        return _dump(record), sensor.name
    if kind == "out_of_range":
        span = sensor.high - sensor.low
        above = rng.random() < 0.5
        value = (
            sensor.high + span * rng.uniform(0.1, 1)
            if above
            else sensor.low - span * rng.uniform(0.1, 1)
        )
        record[sensor.name] = round(float(value)) if sensor.integer else round(float(value), 2)
        return _dump(record), sensor.name
    if kind == "unknown_aircraft":
        record["aircraft_id"] = f"N{int(rng.integers(100, 1000))}ZZ"
        return _dump(record), "aircraft_id"
    if kind == "unknown_component":
        record["component_id"] = f"{record['aircraft_id']}-UNK{int(rng.integers(1, 10))}"
        return _dump(record), "component_id"
    if kind == "near_duplicate":
        value = record[sensor.name]
        record[sensor.name] = (
            value + 1 if sensor.integer else round(value * rng.uniform(1.002, 1.01) + 0.01, 4)
        )
        return _dump(record), sensor.name
    raise ValueError(f"kind {kind!r} is not an in-line kind")  # pragma: no cover


def inject(
    texts: list[str],
    seconds: np.ndarray,
    component_type: str,
    rate: float,
    rng: np.random.Generator,
) -> Injected:
    """Spoil about `rate` of a day's lines (sorted by `seconds`); see the module docstring."""
    n = len(texts)
    n_bad = int(rng.binomial(n, rate)) if n and rate > 0 else 0
    if n_bad == 0:
        return Injected(texts, {}, [])
    rows = np.sort(rng.choice(n, size=n_bad, replace=False))
    kinds = [BAD_RECORD_KINDS[int(k)] for k in rng.integers(len(BAD_RECORD_KINDS), size=n_bad)]
    entries: dict[int, Line | None] = {}  # replaced (Line) or removed (None) original lines
    before: dict[int, list[Line]] = {}  # lines to insert before original position i
    late: list[tuple[int, Line]] = []
    first_at = np.searchsorted(seconds, seconds, side="left")  # first line with the same time
    for row, kind in zip(rows.tolist(), kinds, strict=True):
        record = json.loads(texts[row])
        cid, ts = str(record["component_id"]), str(record["reading_ts"])
        if kind == "out_of_order" and first_at[row] == 0:
            kind = "late_arrival"  # nothing earlier to jump ahead of
        if kind in ("missing_field", "wrong_type", "out_of_range", "unknown_aircraft",
                    "unknown_component"):  # fmt: skip
            text, field = _spoil(kind, record, component_type, rng)
            entries[row] = Line(text, Tag(kind, field, cid, ts))
        elif kind == "truncated_line":
            cut = int(rng.integers(5, len(texts[row]) - 1))
            entries[row] = Line(texts[row][:cut], Tag(kind, "", cid, ts))
        elif kind == "exact_duplicate":
            at = int(rng.integers(row + 1, n + 1))
            before.setdefault(at, []).append(Line(texts[row], Tag(kind, "", cid, ts)))
        elif kind == "near_duplicate":
            text, field = _spoil(kind, record, component_type, rng)
            at = int(rng.integers(row + 1, n + 1))
            before.setdefault(at, []).append(Line(text, Tag(kind, field, cid, ts)))
        elif kind == "late_arrival":
            entries[row] = None
            days = int(rng.integers(1, MAX_LATE_DAYS + 1))
            late.append((days, Line(texts[row], Tag(kind, "", cid, ts))))
        else:  # out_of_order: jump ahead of lines with an earlier reading time
            entries[row] = None
            at = int(rng.integers(0, first_at[row]))
            before.setdefault(at, []).append(Line(texts[row], Tag(kind, "", cid, ts)))
    return _assemble(texts, entries, before, late)


def _assemble(
    texts: list[str],
    entries: dict[int, Line | None],
    before: dict[int, list[Line]],
    late: list[tuple[int, Line]],
) -> Injected:
    """Clean runs of lines are copied as slices; only the touched positions are handled."""
    lines: list[str] = []
    tags: dict[int, Tag] = {}

    def emit(line: Line) -> None:
        if line.tag is not None:
            tags[len(lines)] = line.tag
        lines.append(line.text)

    start = 0
    for i in sorted(set(entries) | set(before)):
        lines.extend(texts[start:i])
        for line in before.get(i, ()):
            emit(line)
        if i < len(texts):
            entry = entries.get(i, Line(texts[i]))
            if entry is not None:
                emit(entry)
        start = i + 1
    lines.extend(texts[start:])
    return Injected(lines, tags, late)
