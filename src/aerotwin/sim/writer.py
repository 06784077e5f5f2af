"""The landing-zone writer: reference CSVs, day partitions per feed, and the bad-record manifest.

Layout (docs/landing_zone.md): `reference/{name}.csv`, `{feed}/date=YYYY-MM-DD/part-00000.jsonl`
for telemetry and `.csv` for event feeds, where the date is the day a file ARRIVED; the manifest
in `_manifest/`. Output is a pure function of its input, so equal runs give equal bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

from aerotwin.schemas import BAD_RECORD_KINDS, COMPONENT_TYPES, EVENT_FEEDS, TELEMETRY_FEEDS
from aerotwin.sim.badrecords import Line, Tag, inject

PART = "part-00000"
MANIFEST_DIR = "_manifest"
MANIFEST_JSON = "manifest.json"
BAD_RECORDS_CSV = "bad_records.csv"
BAD_RECORD_COLUMNS = ("feed", "file", "line", "kind", "field", "component_id", "reading_ts", "key")


def partition(feed: str, day: dt.date) -> str:
    """Relative folder of one feed's arrival day."""
    return f"{feed}/date={day.isoformat()}"


def write_reference(landing: Path, tables: dict[str, pl.DataFrame]) -> None:
    """Write the reference tables as `reference/{name}.csv`."""
    folder = landing / "reference"
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_csv(folder / f"{name}.csv")


class LandingWriter:
    """Writes one run's days in order and keeps the manifest of injected bad records."""

    def __init__(self, landing: Path, bad_record_rate: float, seed: int) -> None:
        self.landing = landing
        self.rate = bad_record_rate
        self.rng = np.random.default_rng([seed, 3])
        self.pending: dict[dt.date, dict[str, list[Line]]] = defaultdict(lambda: defaultdict(list))
        self.bad_rows: list[tuple[object, ...]] = []
        self.rows: dict[str, int] = defaultdict(int)
        self.files: dict[str, int] = defaultdict(int)

    def write_day(self, day: dt.date, telemetry: dict[str, pl.DataFrame],
                  events: dict[str, pl.DataFrame]) -> None:  # fmt: skip
        """Write one day's telemetry (with bad records injected) and event files."""
        due = self.pending.pop(day, {})
        for component_type in COMPONENT_TYPES:
            feed = TELEMETRY_FEEDS[component_type]
            frame = telemetry[component_type]
            texts = frame.write_ndjson().splitlines() if frame.height else []
            seconds = _seconds(frame["reading_ts"]) if frame.height else np.zeros(0)
            result = inject(texts, seconds, component_type, self.rate, self.rng)
            for days, line in result.late:
                self.pending[day + dt.timedelta(days=days)][feed].append(line)
            # Late lines arrive after the day's own lines.
            arriving = due.get(feed, [])
            tags = dict(result.tags)
            for offset, line in enumerate(arriving, start=len(result.lines)):
                if line.tag is not None:
                    tags[offset] = line.tag
            self._write_lines(feed, day, result.lines + [x.text for x in arriving], tags)
        for feed in EVENT_FEEDS:
            self._write_csv(feed, day, events[feed])

    def finish(self, params: dict[str, object], failures: int) -> Path:
        """Flush late lines due after the last day and write the manifest; returns its folder."""
        for day in sorted(self.pending):
            for feed, lines in sorted(self.pending[day].items()):
                tags = {i: x.tag for i, x in enumerate(lines) if x.tag is not None}
                self._write_lines(feed, day, [x.text for x in lines], tags)
        self.pending.clear()
        folder = self.landing / MANIFEST_DIR
        folder.mkdir(parents=True, exist_ok=True)
        schema = dict.fromkeys(BAD_RECORD_COLUMNS, pl.String) | {"line": pl.Int64}
        frame = pl.DataFrame(self.bad_rows, schema=schema, orient="row")
        frame.write_csv(folder / BAD_RECORDS_CSV)
        counts = {feed: dict.fromkeys(BAD_RECORD_KINDS, 0) for feed in TELEMETRY_FEEDS.values()}
        for row in self.bad_rows:
            counts[str(row[0])][str(row[3])] += 1
        totals = {k: sum(c[k] for c in counts.values()) for k in BAD_RECORD_KINDS}
        manifest = {
            "generator": "aerotwin simulate",
            "params": params,
            "bad_records": {"by_feed": counts, "by_kind": totals, "total": sum(totals.values())},
            "bad_records_file": f"{MANIFEST_DIR}/{BAD_RECORDS_CSV}",
            "rows": dict(sorted(self.rows.items())),
            "files": dict(sorted(self.files.items())),
            "failures": failures,
        }
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        (folder / MANIFEST_JSON).write_text(text + "\n")
        return folder

    def _write_lines(self, feed: str, day: dt.date, lines: list[str], tags: dict[int, Tag]) -> None:
        if not lines:
            return
        relative = f"{partition(feed, day)}/{PART}.jsonl"
        path = self.landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        self.rows[feed] += len(lines)
        self.files[feed] += 1
        for index, t in sorted(tags.items()):
            key = t.key if t.kind in ("exact_duplicate", "near_duplicate") else None
            field = t.field or None
            self.bad_rows.append(
                (feed, relative, index + 1, t.kind, field, t.component_id, t.reading_ts, key)
            )

    def _write_csv(self, feed: str, day: dt.date, frame: pl.DataFrame) -> None:
        path = self.landing / partition(feed, day) / f"{PART}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(path)
        self.rows[feed] += frame.height
        self.files[feed] += 1


def _seconds(reading_ts: pl.Series) -> np.ndarray:
    """Seconds since the epoch of ISO strings, for ordering checks."""
    stamps = np.array(reading_ts.str.strip_chars_end("Z").to_list(), dtype="datetime64[s]")
    return stamps.astype(np.int64)
