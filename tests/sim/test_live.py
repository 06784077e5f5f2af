"""Live mode continues the history: same physics, next days, no gaps and no repeats."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aerotwin.config import Settings, load_settings, with_section
from aerotwin.schemas import EVENT_FEEDS, TELEMETRY_FEEDS
from aerotwin.sim.history import STATE_DIR
from aerotwin.sim.live import run_live
from aerotwin.sim.state import load_state
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


def test_an_older_versions_progress_file_is_not_read(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "live")
    simulate_small_fleet(settings, aircraft=2, days=2, bad_record_rate=0.0)
    legacy = settings.landing_dir / STATE_DIR / "live_progress.json"
    legacy.write_text("")  # a kill left it empty; the files on disk say how far a day got
    assert run_live(with_section(settings, "sim", live_rate=400.0), duration=0.2).readings > 0
    assert not legacy.exists()


def test_live_mode_rejects_a_landing_zone_without_history(settings: Settings) -> None:
    with pytest.raises(FileNotFoundError, match="run `aerotwin simulate` first"):
        run_live(settings, duration=0.1)


CLI = [sys.executable, "-c", "from aerotwin.cli import app; app()"]


def _start_live(data_dir: Path) -> subprocess.Popen[str]:
    """`aerotwin simulate --live` in a process of its own, once it has begun to emit."""
    env = os.environ | {
        "PYTHONUNBUFFERED": "1",
        "AEROTWIN_SIM__LIVE_ROTATE_LINES": "7",  # many files, so kills land at many points
        "AEROTWIN_SIM__LIVE_ROTATE_SECONDS": "0.2",
    }
    command = [*CLI, "--data-dir", str(data_dir), "simulate", "--live", "--rate", "100"]
    process = subprocess.Popen(
        command, env=env, cwd=data_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("live:"), first
    return process


def _lines(folder: Path, pattern: str) -> list[str]:
    return [line for p in sorted(folder.glob(pattern)) for line in p.read_text().splitlines()]


@pytest.mark.slow
def test_killed_live_runs_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "live")
    simulate_small_fleet(settings, aircraft=3, days=4, bad_record_rate=0.0)
    landing = settings.landing_dir
    cut = 0
    for seconds in (0.3, 0.75, 1.1, 0.45, 1.4):  # a simulated day takes about 0.7 s
        process = _start_live(settings.data_dir)
        time.sleep(seconds)
        process.kill()
        process.communicate()
        open_files = sorted(landing.glob("*/date=*/part-live-*.jsonl.inprogress"))
        if open_files:  # as a SIGKILL in the middle of a write does: half a last line
            text = open_files[-1].read_text()
            open_files[-1].write_text(text[: text.rstrip("\n").rfind("\n") + 12])
            cut += 1
    assert cut, "no kill left a file open"

    process = _start_live(settings.data_dir)
    time.sleep(1.2)
    process.send_signal(signal.SIGINT)  # Ctrl-C ends cleanly, the open files published
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "live: emitted" in output, output
    assert not list(landing.rglob("*.inprogress"))

    state = load_state(landing / STATE_DIR)
    longer = load_settings(None, data_dir=tmp_path / "longer")
    simulate_small_fleet(longer, aircraft=3, days=state.day + 1, bad_record_rate=0.0)
    assert state.day > 5  # the runs got through whole days and into the next
    for day in range(4, state.day + 1):
        date = f"date={state.start_date + dt.timedelta(days=day)}"
        for feed in TELEMETRY_FEEDS.values():
            live = _lines(landing / feed / date, "part-live-*.jsonl")
            history = _lines(longer.landing_dir / feed / date, "part-00000.jsonl")
            if day < state.day:  # a completed day is that day of the longer history
                assert live == history, (feed, date)
            else:  # the day under way so far: no gap, no repeat
                assert live == history[: len(live)], (feed, date)
        for feed in EVENT_FEEDS:
            live_csv = sorted((landing / feed / date).glob("part-live-*.csv"))
            if day < state.day:  # written once, equal to the history's
                history_csv = longer.landing_dir / feed / date / "part-00000.csv"
                assert [p.read_bytes() for p in live_csv] == [history_csv.read_bytes()]
            else:
                assert live_csv == []
