"""Live mode continues the history: same physics, next days, no gaps and no repeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aerotwin.config import Settings, load_settings, with_section
from aerotwin.schemas import TELEMETRY_FEEDS
from aerotwin.sim.live import run_live
from aerotwin.testing import simulate_small_fleet


def _records(landing: Path, pattern: str) -> list[dict]:
    out = []
    for feed in TELEMETRY_FEEDS.values():
        for path in sorted((landing / feed).glob(pattern)):
            out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


def _key(r: dict) -> tuple[str, str]:
    return r["component_id"], r["reading_ts"]


def test_live_continues_where_the_history_ended(tmp_path: Path) -> None:
    history = load_settings(None, data_dir=tmp_path / "live")
    simulate_small_fleet(history, aircraft=3, days=4, bad_record_rate=0.0)
    fast = with_section(
        history, "sim", live_rate=400.0, live_rotate_lines=50, live_rotate_seconds=0.2
    )
    first = run_live(fast, duration=0.8)
    assert first.readings > 0 and first.days_completed >= 1
    second = run_live(fast, duration=0.5)  # resumes mid-day where the first run stopped
    assert second.readings > 0

    landing = history.landing_dir
    past = _records(landing, "date=*/part-00000.jsonl")
    live = _records(landing, "date=*/part-live-*.jsonl")
    assert len(live) == first.readings + second.readings
    assert min(r["reading_ts"] for r in live) > max(r["reading_ts"] for r in past)
    assert len({_key(r) for r in live}) == len(live)  # the second run repeated nothing
    assert {r["component_id"] for r in live} <= {r["component_id"] for r in past}
    rotated = [f for f in first.files + second.files if f.endswith(".jsonl")]
    assert all(len((landing / f).read_text().splitlines()) <= 50 for f in rotated)
    published = {p.relative_to(landing).as_posix() for p in landing.rglob("part-live-*")}
    assert published == set(first.files + second.files)  # nothing left half-written
    # A completed live day also wrote its events.
    assert list((landing / "flights").glob("date=2026-01-05/part-live-*.csv"))

    # Same physics: the live days equal the same days of a longer history.
    longer = load_settings(None, data_dir=tmp_path / "longer")
    days = 4 + first.days_completed + second.days_completed
    simulate_small_fleet(longer, aircraft=3, days=days, bad_record_rate=0.0)
    complete_days = sorted({r["reading_ts"][:10] for r in live})[: first.days_completed]
    reference = [
        r for r in _records(longer.landing_dir, "date=*/part-00000.jsonl")
        if r["reading_ts"][:10] in complete_days
    ]  # fmt: skip
    emitted = [r for r in live if r["reading_ts"][:10] in complete_days]
    assert sorted(emitted, key=_key) == sorted(reference, key=_key)


def test_live_mode_rejects_a_landing_zone_without_history(settings: Settings) -> None:
    with pytest.raises(FileNotFoundError, match="run `aerotwin simulate` first"):
        run_live(settings, duration=0.1)
