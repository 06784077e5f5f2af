"""Live mode: keep simulating after the history and emit readings in real time.

Continues from the state a history (or an earlier live run) saved, one simulated day at a time.
The day's readings go out in time order at `sim.live_rate` per second into rotated
`part-live-NNNNN.jsonl` files; when a day is done its event files are written and the state is
saved. The files on disk are the only record of how far a day got: a run starts by publishing
the complete lines a stopped (even killed) run left, then resumes each feed after its last line.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from rich.console import Console

from aerotwin.config import Settings
from aerotwin.schemas import COMPONENT_TYPES, EVENT_FEEDS, TELEMETRY_FEEDS
from aerotwin.sim.day import DayContext, DayOutput, simulate_day
from aerotwin.sim.history import STATE_DIR
from aerotwin.sim.reference import load_reference
from aerotwin.sim.state import load_state, save_state

IN_PROGRESS = ".inprogress"  # suffix of a live file still being written
PART_PREFIX = "part-live-"
LEGACY_PROGRESS = "live_progress.json"  # older versions' cursor, which kills made wrong
TICK_S = 0.05


@dataclass
class LiveSummary:
    """What one live run emitted."""

    readings: int = 0
    days_completed: int = 0
    files: list[str] = field(default_factory=list)


def _part_number(path: Path) -> int:
    return int(path.name.removeprefix(PART_PREFIX).split(".")[0])


def _recover(landing: Path) -> list[str]:
    """Publish what stopped runs left as `.inprogress` files; returns the files published.

    A telemetry file keeps its complete lines (a kill mid-write can leave half a last line);
    an event file is deleted, since its day ends again in the next run.
    """
    published = []
    for path in sorted(landing.glob(f"*/date=*/{PART_PREFIX}*{IN_PROGRESS}")):
        target = path.with_name(path.name.removesuffix(IN_PROGRESS))
        data = path.read_bytes() if target.suffix == ".jsonl" else b""
        complete = data.rfind(b"\n") + 1
        if complete == 0:
            path.unlink()
            continue
        if complete < len(data):
            with path.open("r+b") as handle:
                handle.truncate(complete)
        path.replace(target)
        published.append(target.relative_to(landing).as_posix())
    return published


def _emitted(landing: Path, day_text: str) -> dict[str, int]:
    """Lines of each telemetry feed published for a day: the feed's stream resumes after them."""
    return {
        feed: sum(
            path.read_bytes().count(b"\n")
            for path in (landing / feed / f"date={day_text}").glob(f"{PART_PREFIX}*.jsonl")
        )
        for feed in TELEMETRY_FEEDS.values()
    }


def _next_part(landing: Path, day: dt.date) -> int:
    """One more than the highest live file number: the newest are in this day's or, when this day
    has none yet, the day before's folders (its event files come last)."""
    days = [(day - dt.timedelta(days=1)).isoformat(), day.isoformat()]
    numbers = [
        _part_number(path)
        for day_text in days
        for path in landing.glob(f"*/date={day_text}/{PART_PREFIX}*")
    ]
    return max(numbers, default=0) + 1


def day_stream(out: DayOutput) -> list[tuple[str, str, str]]:
    """A day's readings of every type as (reading_ts, feed, JSON line), in emission order."""
    lines: list[tuple[str, str, str]] = []
    for component_type in COMPONENT_TYPES:
        frame = out.telemetry[component_type]
        if frame.height == 0:
            continue
        feed = TELEMETRY_FEEDS[component_type]
        texts = frame.write_ndjson().splitlines()
        lines.extend(zip(frame["reading_ts"].to_list(), [feed] * len(texts), texts, strict=True))
    lines.sort(key=lambda item: (item[0], COMPONENT_TYPES.index(item[1][len("telemetry_") :])))
    return lines


@dataclass
class _Open:
    relative: str  # final name; written as relative + IN_PROGRESS until published
    day_text: str
    lines: int
    opened: float


class _Files:
    """Live files per feed, written under a temporary name and published (renamed) when full,
    old, or at the end of a day, so a reader never sees a file that will still grow."""

    def __init__(self, landing: Path, settings: Settings, next_part: int) -> None:
        self.landing, self.next_part = landing, next_part
        self.rotate_lines = settings.sim.live_rotate_lines
        self.rotate_seconds = settings.sim.live_rotate_seconds
        self.current: dict[str, _Open] = {}
        self.created: list[str] = []

    def _name(self, feed: str, day_text: str, suffix: str) -> str:
        relative = f"{feed}/date={day_text}/{PART_PREFIX}{self.next_part:05d}.{suffix}"
        self.next_part += 1
        (self.landing / relative).parent.mkdir(parents=True, exist_ok=True)
        return relative

    def _publish(self, relative: str) -> None:
        target = self.landing / relative
        target.with_name(target.name + IN_PROGRESS).replace(target)
        self.created.append(relative)

    def append(self, day_text: str, feed: str, texts: list[str], now: float) -> None:
        done = 0
        while done < len(texts):
            cur = self.current.get(feed)
            if cur is None or cur.day_text != day_text or cur.lines >= self.rotate_lines:
                if cur is not None:
                    self._publish(cur.relative)
                cur = _Open(self._name(feed, day_text, "jsonl"), day_text, 0, now)
                self.current[feed] = cur
            take = texts[done : done + self.rotate_lines - cur.lines]
            path = self.landing / (cur.relative + IN_PROGRESS)
            with path.open("a") as handle:
                handle.write("\n".join(take) + "\n")
            cur.lines += len(take)
            done += len(take)

    def publish_old(self, now: float) -> None:
        """Publish files open longer than `sim.live_rotate_seconds`."""
        for feed, cur in list(self.current.items()):
            if now - cur.opened >= self.rotate_seconds:
                self._publish(cur.relative)
                del self.current[feed]

    def publish_all(self) -> None:
        """Publish every open file (end of a day, end of the run)."""
        for cur in self.current.values():
            self._publish(cur.relative)
        self.current.clear()

    def events(self, out: DayOutput) -> None:
        """Write a completed day's event feeds, each as one published CSV file, but for those
        a stopped run already wrote."""
        frames: dict[str, pl.DataFrame] = {
            "flights": out.flights,
            "weather": out.weather,
            "maintenance_events": out.maintenance_events,
            "failures": out.failures,
        }
        for feed in EVENT_FEEDS:
            if any((self.landing / feed / f"date={out.date}").glob(f"{PART_PREFIX}*.csv")):
                continue
            relative = self._name(feed, out.date.isoformat(), "csv")
            frames[feed].write_csv(self.landing / (relative + IN_PROGRESS))
            self._publish(relative)


def run_live(
    settings: Settings, duration: float | None = None, console: Console | None = None
) -> LiveSummary:
    """Emit readings at `settings.sim.live_rate` per second until Ctrl-C or `duration` seconds.

    Raises FileNotFoundError when no history has been simulated into the landing zone yet, and
    StateError when its saved state cannot be read.
    """
    landing = settings.landing_dir
    folder = landing / STATE_DIR
    state = load_state(folder)
    reference = load_reference(folder / "reference")
    ctx = DayContext(state, reference)
    recovered = _recover(landing)
    (folder / LEGACY_PROGRESS).unlink(missing_ok=True)
    files = _Files(landing, settings, _next_part(landing, state.current_date))
    files.created += recovered
    summary = LiveSummary()
    rate = settings.sim.live_rate
    if console is not None:
        console.print(
            f"live: {len(state.aircraft.ids)} aircraft from {state.current_date} at {rate:g} "
            f"readings/s into {landing} ({'Ctrl-C' if duration is None else f'{duration:g} s'})",
            soft_wrap=True,
        )
        if recovered:
            console.print(f"live: published {len(recovered)} file(s) a stopped run left open")
    started = time.monotonic()
    try:
        while True:
            day_text = state.current_date.isoformat()
            out = simulate_day(state, ctx)  # the state on disk stays at the start of this day
            stream = day_stream(out)
            pending = _after(stream, _emitted(landing, day_text))
            cursor = 0
            while cursor < len(pending):
                elapsed = time.monotonic() - started
                if duration is not None and elapsed >= duration:
                    raise _Stop
                due = min(int(rate * elapsed) - summary.readings, len(pending) - cursor)
                if due <= 0:
                    files.publish_old(time.monotonic())
                    time.sleep(TICK_S)
                    continue
                batch = pending[cursor : cursor + due]
                now = time.monotonic()
                for feed in TELEMETRY_FEEDS.values():
                    texts = [text for _, f, text in batch if f == feed]
                    if texts:
                        files.append(day_text, feed, texts, now)
                cursor += len(batch)
                summary.readings += len(batch)
                files.publish_old(now)
            files.publish_all()
            files.events(out)
            save_state(state, folder)  # last: until then, the next run ends this day again
            summary.days_completed += 1
            if console is not None:
                console.print(
                    f"live: {out.date} complete, {len(stream):,} readings, "
                    f"{out.flights.height:,} flights, {out.failures.height} failure(s)",
                    soft_wrap=True,
                )
    except (KeyboardInterrupt, _Stop):
        pass
    finally:  # from the files themselves: a Ctrl-C can come between a rename and its record
        files.created += _recover(landing)
    summary.files = files.created
    if console is not None:
        console.print(
            f"live: emitted {summary.readings:,} readings in {len(files.created)} files; "
            f"{summary.days_completed} simulated day(s) completed",
            soft_wrap=True,
        )
    return summary


def _after(
    stream: list[tuple[str, str, str]], emitted: dict[str, int]
) -> list[tuple[str, str, str]]:
    """The stream without each feed's first `emitted[feed]` readings."""
    seen: dict[str, int] = dict.fromkeys(emitted, 0)
    pending = []
    for item in stream:
        seen[item[1]] += 1
        if seen[item[1]] > emitted[item[1]]:
            pending.append(item)
    return pending


class _Stop(Exception):
    """The requested duration is over."""
