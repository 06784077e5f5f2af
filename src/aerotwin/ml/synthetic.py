"""Generated feature tables in the gold contract, for tests and benchmarks of the ML code.

Each component lives through failures: a defect appears some days before a failure and drifts
several sensors (weakly and noisily, so no single one separates well); a share of failures is
sudden, without precursor. Health status follows a rule on one sensor, as the rules file does.
The real fleet comes from the simulator through the pipeline; this only mirrors its shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-01-01", tz="UTC")


@dataclass(frozen=True)
class SyntheticFleet:
    """Feature rows, failures and health statuses of one component type."""

    features: pd.DataFrame
    failures: pd.DataFrame
    health: pd.DataFrame


def _defect_signal(days: np.ndarray, rng: np.random.Generator, n_days: int) -> tuple:
    """Per day: defect strength in [0, 1] and the failure days of one component."""
    signal = np.zeros(n_days)
    failure_days, sudden = [], []
    day = -rng.uniform(0, 120)
    while True:
        life = rng.uniform(60, 220)
        fail = day + life
        if fail >= n_days:
            break
        is_sudden = rng.random() < 0.15
        if not is_sudden:
            pf = rng.uniform(8, 30)
            phase = (days - (fail - pf)) / pf
            mask = (phase >= 0) & (days < fail)
            signal[mask] = np.maximum(signal[mask], phase[mask] ** 1.5)
        if fail >= 0:
            failure_days.append(fail)
            sudden.append(is_sudden)
        day = fail + rng.uniform(0.5, 2)
    return signal, failure_days, sudden


def synthetic_fleet(
    component_type: str = "engine",
    aircraft: int = 30,
    days: int = 240,
    readings_per_day: int = 2,
    components_per_aircraft: int = 2,
    sensors: int = 4,
    seed: int = 7,
) -> SyntheticFleet:
    """A seeded fleet's feature table (one row per reading), failures and health statuses."""
    rng = np.random.default_rng(seed)
    n_days = days
    step = 1.0 / readings_per_day
    t = np.arange(0, n_days, step) + step / 2
    day_idx = t.astype(int)
    frames, failures, health = [], [], []
    for a in range(aircraft):
        aircraft_id = f"AC-{a:05d}"
        for c in range(components_per_aircraft):
            cid = f"{aircraft_id}-{component_type[:3].upper()}-{c + 1}"
            signal_day, fail_days, sudden = _defect_signal(np.arange(n_days) + 0.5, rng, n_days)
            s = signal_day[day_idx]
            last_fail = np.full(t.shape, -rng.uniform(0, 200))
            for fd in fail_days:
                last_fail = np.where(t > fd, fd, last_fail)
            age_days = t - last_fail
            frame = {
                "component_id": cid,
                "aircraft_id": aircraft_id,
                "reading_ts": START + pd.to_timedelta(t, unit="D"),
            }
            for k in range(sensors):
                amp = 0.6 / (k + 1) + 0.2
                base = rng.normal(0, 0.3)
                frame[f"avg_s{k}_7d"] = base + amp * s + rng.normal(0, 0.5, t.size)
                frame[f"avg_s{k}_30d"] = base + 0.4 * amp * s + rng.normal(0, 0.3, t.size)
                frame[f"dev_s{k}_7d"] = amp * s + rng.normal(0, 0.6, t.size)
                frame[f"trend_s{k}_7d"] = amp * np.gradient(s) * 5 + rng.normal(0, 0.5, t.size)
            frame["component_age_hours"] = age_days * rng.uniform(6, 12)
            frame["cycles_since_maint"] = np.floor(age_days * rng.uniform(2, 5))
            frame["days_since_maint"] = age_days
            frame["usage"] = rng.gamma(4, 2, t.size)
            frame["exposure"] = rng.uniform(0, 1, t.size)
            rows = pd.DataFrame(frame)
            # The rule looks at one smoothed sensor with fixed thresholds, like the rules file.
            rule = rows["avg_s0_7d"]
            status = np.where(rule > 1.4, "Critical", np.where(rule > 0.9, "Warning", "Nominal"))
            health.append(
                pd.DataFrame(
                    {
                        "component_id": cid,
                        "reading_ts": rows["reading_ts"],
                        "component_health_status": status,
                    }
                )
            )
            frames.append(rows)
            failures += [
                {
                    "component_id": cid,
                    "aircraft_id": aircraft_id,
                    "component_type": component_type,
                    "failure_ts": START + pd.Timedelta(days=fd),
                    "failure_mode": "synthetic",
                    "sudden": sd,
                }
                for fd, sd in zip(fail_days, sudden, strict=True)
            ]
    failure_frame = pd.DataFrame(
        failures,
        columns=[
            "component_id",
            "aircraft_id",
            "component_type",
            "failure_ts",
            "failure_mode",
            "sudden",
        ],
    )
    return SyntheticFleet(
        pd.concat(frames, ignore_index=True), failure_frame, pd.concat(health, ignore_index=True)
    )
