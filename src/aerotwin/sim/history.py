"""The history run: build the fleet, simulate day by day, write the landing zone, save the state."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aerotwin.config import Settings
from aerotwin.schemas import EVENT_FEEDS, TELEMETRY_FEEDS
from aerotwin.sim.day import DayContext, simulate_day
from aerotwin.sim.fleet import aircraft_table, build_fleet, components_table
from aerotwin.sim.reference import Reference, load_reference
from aerotwin.sim.state import save_state
from aerotwin.sim.writer import MANIFEST_DIR, LandingWriter, write_reference

STATE_DIR = "_state"
# Folders the simulator owns in the landing zone; a new history run replaces them.
OWNED = ("reference", MANIFEST_DIR, STATE_DIR, *TELEMETRY_FEEDS.values(), *EVENT_FEEDS)


@dataclass
class SimSummary:
    """What a history run produced."""

    landing_dir: Path
    aircraft: int
    components: int
    days: int
    rows: dict[str, int]
    files: dict[str, int]
    failures: int
    sudden_failures: int
    failures_by_type: dict[str, int]
    maintenance_by_type: dict[str, int]
    bad_records: dict[str, int] = field(default_factory=dict)


def clear_landing(landing: Path) -> None:
    """Remove what an earlier simulator run wrote, so old partitions cannot linger."""
    for name in OWNED:
        target = landing / name
        if target.is_dir():
            shutil.rmtree(target)


def save_reference(reference: Reference, folder: Path) -> None:
    """Keep the reference files a run used beside its state, so live mode reuses them."""
    folder.mkdir(parents=True, exist_ok=True)
    reference.airports.write_csv(folder / "airports.csv")
    reference.models.write_csv(folder / "aircraft_models.csv")
    reference.routes.write_csv(folder / "routes.csv")


def run_history(settings: Settings, on_day: Callable[[int, int], None] | None = None) -> SimSummary:
    """Simulate `settings.sim.days` days of `settings.sim.aircraft` aircraft into the landing zone.

    `on_day(done, total)` is called after each day (progress bars). Same settings, same bytes.
    """
    sim = settings.sim
    reference = load_reference(sim.reference_dir)
    state = build_fleet(reference, sim.aircraft, sim.start_date, sim.seed)
    landing = settings.landing_dir
    clear_landing(landing)
    write_reference(
        landing,
        {
            "airports": reference.airports,
            "aircraft": aircraft_table(state, reference),
            "components": components_table(state),
            "routes": reference.routes,
        },
    )
    ctx = DayContext(state, reference)
    writer = LandingWriter(landing, sim.bad_record_rate, sim.seed)
    failures: Counter[str] = Counter()
    sudden = 0
    maintenance: Counter[str] = Counter()
    for done in range(sim.days):
        out = simulate_day(state, ctx)
        events = {
            "flights": out.flights,
            "weather": out.weather,
            "maintenance_events": out.maintenance_events,
            "failures": out.failures,
        }
        writer.write_day(out.date, out.telemetry, events)
        failures.update(out.failures["component_type"].to_list())
        sudden += int(out.failures["sudden"].sum())
        maintenance.update(out.maintenance_events["event_type"].to_list())
        if on_day is not None:
            on_day(done + 1, sim.days)
    params = {
        "aircraft": sim.aircraft,
        "days": sim.days,
        "seed": sim.seed,
        "start_date": sim.start_date.isoformat(),
        "bad_record_rate": sim.bad_record_rate,
    }
    n_failures = sum(failures.values())
    writer.finish(params, n_failures)
    save_state(state, landing / STATE_DIR)
    save_reference(reference, landing / STATE_DIR / "reference")
    by_kind: Counter[str] = Counter(str(row[3]) for row in writer.bad_rows)
    return SimSummary(
        landing_dir=landing,
        aircraft=sim.aircraft,
        components=len(state.components.ids),
        days=sim.days,
        rows=dict(writer.rows),
        files=dict(writer.files),
        failures=n_failures,
        sudden_failures=sudden,
        failures_by_type=dict(sorted(failures.items())),
        maintenance_by_type=dict(sorted(maintenance.items())),
        bad_records=dict(sorted(by_kind.items())),
    )
