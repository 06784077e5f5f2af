"""The bad-record manifest matches what the landing-zone files hold, line by line."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from aerotwin.config import Settings
from aerotwin.schemas import BAD_RECORD_KINDS, SENSORS, TELEMETRY_FEEDS, TELEMETRY_KEYS
from aerotwin.testing import simulate_small_fleet

FEED_TYPE = {feed: ctype for ctype, feed in TELEMETRY_FEEDS.items()}


def _ranges(feed: str) -> dict[str, tuple[float, float]]:
    return {s.name: (s.low, s.high) for s in SENSORS[FEED_TYPE[feed]]}


def _complete(record: dict, feed: str) -> bool:
    expected = list(TELEMETRY_KEYS) + [s.name for s in SENSORS[FEED_TYPE[feed]]]
    return list(record) == expected


def _manifest(landing: Path) -> tuple[pl.DataFrame, dict]:
    rows = pl.read_csv(landing / "_manifest" / "bad_records.csv", infer_schema=False)
    summary = json.loads((landing / "_manifest" / "manifest.json").read_text())
    return rows, summary


def _check_listed(landing: Path, row: dict, known_aircraft: set, known_components: set) -> None:
    lines = (landing / row["file"]).read_text().splitlines()
    n = int(row["line"]) - 1
    text, kind, feed = lines[n], row["kind"], row["feed"]
    assert row["file"].startswith(f"{feed}/date=")
    if kind == "truncated_line":
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        return
    record = json.loads(text)
    if kind != "unknown_component":  # the manifest keeps the record's true key
        assert record.get("component_id", row["component_id"]) == row["component_id"]
    ranges = _ranges(feed)
    if kind == "missing_field":
        assert row["field"] not in record and not _complete(record, feed)
        return
    assert _complete(record, feed), (kind, text)
    key = (record["component_id"], record["reading_ts"])
    if kind == "wrong_type":
        value = record[row["field"]]
        assert isinstance(value, str)
        with pytest.raises(ValueError):
            float(value.replace("%", "x"))
    elif kind == "out_of_range":
        low, high = ranges[row["field"]]
        assert not low <= record[row["field"]] <= high
    elif kind == "exact_duplicate":
        assert text in lines[:n]
        assert row["key"] == "|".join(key)
    elif kind == "near_duplicate":
        earlier = [json.loads(t) for t in lines[:n] if row["component_id"] in t]
        twins = [e for e in earlier if (e.get("component_id"), e.get("reading_ts")) == key]
        assert twins and all(json.dumps(t) != json.dumps(record) for t in twins)
        assert row["key"] == "|".join(key)
    elif kind == "late_arrival":
        arrival = dt.date.fromisoformat(row["file"].split("date=")[1][:10])
        assert arrival > dt.date.fromisoformat(record["reading_ts"][:10])
    elif kind == "out_of_order":
        later = [json.loads(t).get("reading_ts") for t in lines[n + 1 :] if t.endswith("}")]
        assert any(ts is not None and ts < record["reading_ts"] for ts in later)
    elif kind == "unknown_aircraft":
        assert record["aircraft_id"] not in known_aircraft
    elif kind == "unknown_component":
        assert record["component_id"] not in known_components
    else:  # pragma: no cover
        raise AssertionError(kind)


def test_every_listed_line_is_what_the_manifest_says(small_fleet_landing) -> None:
    settings, summary = small_fleet_landing
    landing = settings.landing_dir
    rows, manifest = _manifest(landing)
    aircraft = set(pl.read_csv(landing / "reference" / "aircraft.csv")["aircraft_id"])
    components = set(pl.read_csv(landing / "reference" / "components.csv")["component_id"])
    assert rows.height == manifest["bad_records"]["total"] == sum(summary.bad_records.values())
    assert rows.height > 0
    for row in rows.iter_rows(named=True):
        _check_listed(landing, row, aircraft, components)


def test_unlisted_lines_are_clean(small_fleet_landing) -> None:
    settings, _ = small_fleet_landing
    landing = settings.landing_dir
    rows, _ = _manifest(landing)
    listed = {(r["file"], int(r["line"])) for r in rows.iter_rows(named=True)}
    aircraft = set(pl.read_csv(landing / "reference" / "aircraft.csv")["aircraft_id"])
    components = set(pl.read_csv(landing / "reference" / "components.csv")["component_id"])
    for feed in TELEMETRY_FEEDS.values():
        ranges = _ranges(feed)
        seen: set[tuple[str, str]] = set()
        for path in sorted((landing / feed).glob("date=*/*.jsonl")):
            relative = path.relative_to(landing).as_posix()
            arrival = relative.split("date=")[1][:10]
            previous = ""
            for number, text in enumerate(path.read_text().splitlines(), start=1):
                if (relative, number) in listed:
                    continue
                record = json.loads(text)
                assert _complete(record, feed)
                assert record["aircraft_id"] in aircraft and record["component_id"] in components
                assert record["component_id"].startswith(record["aircraft_id"])
                for name, (low, high) in ranges.items():
                    assert isinstance(record[name], int | float) and low <= record[name] <= high
                key = (record["component_id"], record["reading_ts"])
                assert key not in seen, f"unlisted duplicate {key} in {relative}:{number}"
                seen.add(key)
                assert record["reading_ts"][:10] == arrival
                assert record["reading_ts"] >= previous, f"unlisted disorder {relative}:{number}"
                previous = record["reading_ts"]


def test_manifest_counts_match_the_listing(small_fleet_landing) -> None:
    settings, summary = small_fleet_landing
    rows, manifest = _manifest(settings.landing_dir)
    listed = Counter(zip(rows["feed"], rows["kind"], strict=True))
    for feed, kinds in manifest["bad_records"]["by_feed"].items():
        assert set(kinds) == set(BAD_RECORD_KINDS)
        for kind, count in kinds.items():
            assert listed[(feed, kind)] == count
    assert manifest["params"]["aircraft"] == summary.aircraft
    assert manifest["failures"] == summary.failures
    for feed, count in manifest["rows"].items():
        files = sorted((settings.landing_dir / feed).glob("date=*/*"))
        lines = sum(len(p.read_text().splitlines()) for p in files)
        header = 1 if feed in ("flights", "weather", "maintenance_events", "failures") else 0
        assert lines - header * len(files) == count, feed


def test_every_kind_is_injected_at_a_high_rate(settings: Settings) -> None:
    summary = simulate_small_fleet(settings, aircraft=3, days=8, bad_record_rate=0.08)
    rows, _ = _manifest(settings.landing_dir)
    assert set(rows["kind"]) == set(BAD_RECORD_KINDS)
    assert sum(summary.bad_records.values()) == rows.height
    aircraft = set(pl.read_csv(settings.landing_dir / "reference" / "aircraft.csv")["aircraft_id"])
    components = set(
        pl.read_csv(settings.landing_dir / "reference" / "components.csv")["component_id"]
    )
    for row in rows.iter_rows(named=True):
        _check_listed(settings.landing_dir, row, aircraft, components)


def test_no_bad_records_at_rate_zero(settings: Settings) -> None:
    summary = simulate_small_fleet(settings, aircraft=3, days=5, bad_record_rate=0.0)
    rows, manifest = _manifest(settings.landing_dir)
    assert rows.height == 0 and manifest["bad_records"]["total"] == 0
    assert summary.rows["telemetry_engine"] > 0
