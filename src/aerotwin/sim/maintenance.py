"""Maintenance: scheduled checks by hours, cycles and calendar; corrective work; replacements.

A replacement installs a new serial in the slot (health 1, age 0); a repair restores most of the
health but keeps the part's age. Every action becomes a `maintenance_events` row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.sim.components import ONSET_HEALTH, SPECS
from aerotwin.sim.fleet import draw_defect, new_serial
from aerotwin.sim.physics import precursor
from aerotwin.sim.state import FleetState

CHECK_HOURS = 600.0
CHECK_CYCLES = 450.0
CHECK_DAYS = 120.0
CHECK_END_S = 22 * 3600  # checks finish in the evening of the check day
REPAIRED_HEALTH = (0.85, 0.97)
LINE_FINDING_RATE = 0.03  # daily chance a walk-around spots a defect at full signature

EVENT_COLUMNS = (
    "event_id", "event_ts_s", "aircraft", "component", "event_type", "trigger", "check_id",
    "finding", "old_serial", "new_serial", "hours_before", "cycles_before",
)  # fmt: skip


@dataclass
class EventLog:
    """Maintenance events of one day, as columns."""

    rows: list[tuple[object, ...]] = field(default_factory=list)

    def add(self, state: FleetState, seconds: int, comp: int, event_type: str, trigger: str,
            check_id: str, finding: bool, new_serial: str) -> None:  # fmt: skip
        c = state.components
        old = c.serials[comp]
        self.rows.append(
            (
                f"ME-{state.next_id('event'):08d}", int(seconds), int(c.aircraft[comp]), int(comp),
                event_type, trigger, check_id or None, finding, old, new_serial,
                round(float(c.hours[comp]), 1), int(c.cycles[comp]),
            )
        )  # fmt: skip


def checks_due(state: FleetState) -> tuple[np.ndarray, list[str]]:
    """Which aircraft go into a scheduled check today, and why (hours, cycles or calendar)."""
    a = state.aircraft
    by_hours = a.hours_since_check >= CHECK_HOURS
    by_cycles = a.cycles_since_check >= CHECK_CYCLES
    by_days = a.days_since_check >= CHECK_DAYS
    reason = np.where(by_hours, "scheduled_hours",
                      np.where(by_cycles, "scheduled_cycles", "scheduled_calendar"))  # fmt: skip
    return by_hours | by_cycles | by_days, reason.tolist()


def replace(state: FleetState, comp: np.ndarray, day: dt.date, rng: np.random.Generator) -> None:
    """Install new serials in the given slots: health and age start again from new."""
    c = state.components
    for i in comp:
        c.serials[i] = new_serial(state.next_id("serial"), COMPONENT_TYPES[c.ctype[i]])
    c.health[comp] = 1.0
    c.hours[comp] = 0.0
    c.cycles[comp] = 0.0
    c.install_ordinal[comp] = day.toordinal()
    c.pf_days[comp], c.mode[comp], c.amplitude[comp] = draw_defect(c.ctype[comp], rng)


def repair(state: FleetState, comp: np.ndarray, rng: np.random.Generator) -> None:
    """Restore most of the health of the given parts; their age is kept."""
    state.components.health[comp] = rng.uniform(*REPAIRED_HEALTH, len(comp))


def corrective(state: FleetState, comp: int, seconds: int, trigger: str, day: dt.date,
               log: EventLog, rng: np.random.Generator, check_id: str = "") -> None:  # fmt: skip
    """Fix one part after a finding or a failure: replace it, or repair it if its spec says so."""
    spec = SPECS[COMPONENT_TYPES[state.components.ctype[comp]]]
    if trigger == "failure" or spec.finding_action == "replacement":
        serial = new_serial(state.counters.get("serial", 0) + 1, spec.component_type)
        log.add(state, seconds, comp, "replacement", trigger, check_id, True, serial)
        replace(state, np.array([comp]), day, rng)
    else:
        log.add(
            state, seconds, comp, "repair", trigger, check_id, True, state.components.serials[comp]
        )
        repair(state, np.array([comp]), rng)


def line_findings(
    state: FleetState,
    day: dt.date,
    last_arrival_s: np.ndarray,
    log: EventLog,
    rng: np.random.Generator,
) -> None:
    """Defects spotted after the day's flying (walk-arounds, crew reports), likelier when obvious.

    `last_arrival_s` is each aircraft's last arrival of the day (seconds after midnight).
    """
    c = state.components
    signature = precursor(c.health, np.ones(len(c.ids)))
    found = np.flatnonzero(rng.random(len(c.ids)) < LINE_FINDING_RATE * signature)
    delay = rng.integers(1800, 3 * 3600, len(found))
    for comp, wait in zip(found, delay, strict=True):
        seconds = min(int(last_arrival_s[c.aircraft[comp]] + wait), 24 * 3600 - 1)
        corrective(state, int(comp), seconds, "finding", day, log, rng)


def scheduled_checks(state: FleetState, in_check: np.ndarray, reasons: list[str], day: dt.date,
                     log: EventLog, rng: np.random.Generator) -> None:  # fmt: skip
    """Inspect every part of the aircraft in check; fix findings; replace parts at hard time."""
    c, a = state.components, state.aircraft
    rated_h = np.array([SPECS[COMPONENT_TYPES[t]].rated_life_hours for t in c.ctype])
    rated_c = np.array([SPECS[COMPONENT_TYPES[t]].rated_life_cycles for t in c.ctype])
    for ac in np.flatnonzero(in_check):
        check_id = f"CHK-{state.next_id('check'):07d}"
        for comp in np.flatnonzero(c.aircraft == ac):
            signature = float(precursor(c.health[comp : comp + 1], np.ones(1))[0])
            defect = c.health[comp] < ONSET_HEALTH
            found = bool(defect and rng.random() < 0.35 + 0.6 * signature)
            log.add(state, CHECK_END_S - 1800, int(comp), "inspection", reasons[ac], check_id,
                    found, c.serials[comp])  # fmt: skip
            if found:
                corrective(state, int(comp), CHECK_END_S, "finding", day, log, rng, check_id)
            elif c.hours[comp] >= rated_h[comp] or c.cycles[comp] >= rated_c[comp]:
                serial = new_serial(
                    state.counters.get("serial", 0) + 1, COMPONENT_TYPES[c.ctype[comp]]
                )
                log.add(state, CHECK_END_S, int(comp), "replacement", "hard_time", check_id, False,
                        serial)  # fmt: skip
                replace(state, np.array([comp]), day, rng)
    a.hours_since_check[in_check] = 0.0
    a.cycles_since_check[in_check] = 0.0
    a.days_since_check[in_check] = 0.0
