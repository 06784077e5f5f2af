"""Helpers shared by AeroTwin's tests and by users' own tests: a tiny seeded fleet."""

from __future__ import annotations

from aerotwin.config import Settings, with_section
from aerotwin.sim.history import SimSummary, run_history


def small_fleet_settings(
    settings: Settings,
    aircraft: int = 6,
    days: int = 30,
    seed: int = 7,
    bad_record_rate: float = 0.01,
) -> Settings:
    """`settings` with a small simulated fleet in its `sim` section."""
    return with_section(
        settings, "sim", aircraft=aircraft, days=days, seed=seed, bad_record_rate=bad_record_rate
    )


def simulate_small_fleet(
    settings: Settings,
    aircraft: int = 6,
    days: int = 30,
    seed: int = 7,
    bad_record_rate: float = 0.01,
) -> SimSummary:
    """Simulate a small fleet into `settings.landing_dir` (a second or so) and say what it wrote.

    The bad-record rate is higher than the default so that a small fleet still gets a few
    records of most kinds; the manifest lists every one of them.
    """
    small = small_fleet_settings(settings, aircraft, days, seed, bad_record_rate)
    return run_history(small)
