"""Degradation physics: hidden health per component, declining with age, use, weather and shocks.

Two phases, as on a P-F curve: slow wear from new down to ONSET_HEALTH, then a defect that runs
to failure in about `pf_days` of typical use. Only the defect phase shows in the sensors (see
`precursor`), so most failures are predictable days to weeks ahead; sudden failures strike parts
still in the healthy phase and have no precursor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.sim.components import (
    ONSET_HEALTH,
    SPECS,
    TYPICAL_CYCLES_PER_DAY,
    TYPICAL_HOURS_PER_DAY,
)
from aerotwin.sim.state import Components

CALENDAR_SHARE = 0.15  # wear that happens on the ground too (corrosion, ageing)
SHOCKS_PER_CYCLE = 0.004
SHOCK_SIZE = (0.01, 0.06)


@dataclass(frozen=True)
class Exposure:
    """What each component went through today (arrays per component)."""

    hours: np.ndarray
    cycles: np.ndarray
    turbulence: np.ndarray
    temperature_c: np.ndarray  # at the base airport
    humidity_pct: np.ndarray
    storm: np.ndarray


def _per_type(values: dict[str, float], ctype: np.ndarray) -> np.ndarray:
    table = np.array([values[t] for t in COMPONENT_TYPES])
    return table[ctype]


def _weather_factor(ctype: np.ndarray, exposure: Exposure) -> np.ndarray:
    hot = np.maximum(exposure.temperature_c - 25, 0)
    humid = np.maximum(exposure.humidity_pct - 60, 0)
    storm = exposure.storm.astype(float)
    factors = np.stack(
        [
            1 + 0.015 * hot,  # engine: hot days run the hot section harder
            1 + 0.3 * storm,  # landing gear: wet, gusty landings
            1 + 0.008 * humid + 0.006 * hot,  # avionics: moisture and heat
            1 + 0.005 * humid,  # cabin pressurization: moisture in valves and seals
            1 + 0.2 * storm,  # airframe: gust loads
        ]
    )
    return factors[ctype, np.arange(len(ctype))]


def wear(c: Components, exposure: Exposure, rng: np.random.Generator) -> np.ndarray:
    """Health lost today by each component (>= 0); the shocks are included."""
    life = _per_type({t: s.life_days for t, s in SPECS.items()}, c.ctype)
    h_share = _per_type({t: s.hours_share for t, s in SPECS.items()}, c.ctype)
    c_share = _per_type({t: s.cycles_share for t, s in SPECS.items()}, c.ctype)
    turb_w = _per_type({t: s.turbulence_weight for t, s in SPECS.items()}, c.ctype)
    rated_h = _per_type({t: s.rated_life_hours for t, s in SPECS.items()}, c.ctype)
    per_day = (1 - ONSET_HEALTH) / life
    use = (
        h_share * exposure.hours / TYPICAL_HOURS_PER_DAY
        + c_share * exposure.cycles / TYPICAL_CYCLES_PER_DAY
    ) * (1 - CALENDAR_SHARE) + CALENDAR_SHARE
    ageing = 1 + 0.6 * np.minimum(c.hours / rated_h, 1.5)
    factor = ageing * (1 + turb_w * exposure.turbulence) * _weather_factor(c.ctype, exposure)
    n = len(c.ids)
    healthy_loss = per_day * use * factor * rng.lognormal(0, 0.3, n)
    # In the defect phase the loss is set by the P-F interval, faster with more flying.
    defect_loss = ONSET_HEALTH / c.pf_days * (0.5 + 0.5 * exposure.hours / TYPICAL_HOURS_PER_DAY)
    loss = np.where(c.health < ONSET_HEALTH, defect_loss * rng.lognormal(0, 0.2, n), healthy_loss)
    shocked = rng.random(n) < SHOCKS_PER_CYCLE * exposure.cycles
    return loss + shocked * rng.uniform(*SHOCK_SIZE, n)


def sudden_failures(c: Components, exposure: Exposure, rng: np.random.Generator) -> np.ndarray:
    """Which healthy-phase components fail suddenly today (no precursor possible)."""
    per_year = _per_type({t: s.sudden_per_year for t, s in SPECS.items()}, c.ctype)
    p = per_year / 365 * exposure.cycles / TYPICAL_CYCLES_PER_DAY
    healthy = c.health > ONSET_HEALTH + 0.02
    return healthy & (rng.random(len(c.ids)) < p)


def precursor(health: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Strength of the defect's signature in the sensors: 0 while healthy, ~amplitude at failure.

    Convex in the defect's progress, so the early days of a defect are hard to see.
    """
    progress = np.clip((ONSET_HEALTH - health) / ONSET_HEALTH, 0, 1)
    return amplitude * progress**1.5
