"""Unit-level checks of the simulator's parts: sensors, maintenance actions, state round trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from aerotwin.schemas import COMPONENT_TYPES, SENSORS
from aerotwin.sim import maintenance
from aerotwin.sim.components import ONSET_HEALTH, SPECS
from aerotwin.sim.fleet import build_fleet
from aerotwin.sim.physics import precursor
from aerotwin.sim.reference import load_reference
from aerotwin.sim.sensors import Conditions, readings
from aerotwin.sim.state import load_state, save_state


def _conditions(n: int, rng: np.random.Generator) -> Conditions:
    """Operating conditions spanning what the fleet meets: -40 to 50 °C, calm to severe."""
    return Conditions(
        oat_c=rng.uniform(-40, 50, n),
        humidity_pct=rng.uniform(3, 100, n),
        turbulence=rng.uniform(0, 1, n),
        block_hours=rng.uniform(0.8, 16, n),
        seats=rng.choice([76.0, 180.0, 410.0], n),
        wear_fraction=rng.uniform(0, 1, n),
    )


@pytest.mark.parametrize("component_type", COMPONENT_TYPES)
def test_healthy_readings_strictly_inside_ranges(component_type: str) -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    values = readings(component_type, _conditions(n, rng), np.zeros(n), np.zeros(n, int), rng)
    assert list(values) == [s.name for s in SENSORS[component_type]]
    for sensor in SENSORS[component_type]:
        v = values[sensor.name]
        inside = (v > sensor.low) & (v < sensor.high)
        # error_count may be 0 on a healthy bus; nothing else may touch a physical limit.
        limit = 0.1 if sensor.integer else 0.0005
        assert (~inside).mean() <= limit, sensor.name


@pytest.mark.parametrize("component_type", COMPONENT_TYPES)
def test_each_failure_mode_moves_its_sensors(component_type: str) -> None:
    rng = np.random.default_rng(2)
    n = 4000
    conditions = _conditions(n, rng)
    for m, mode in enumerate(SPECS[component_type].modes):
        modes = np.full(n, m)
        healthy = readings(component_type, conditions, np.zeros(n), modes, np.random.default_rng(3))
        failing = readings(component_type, conditions, np.ones(n), modes, np.random.default_rng(3))
        for sensor, sign in mode.signature.items():
            shift = sign * (failing[sensor].mean() - healthy[sensor].mean())
            assert shift > 0, (mode.name, sensor)


def test_precursor_is_zero_while_healthy_and_grows_to_failure() -> None:
    health = np.array([1.0, ONSET_HEALTH + 0.01, ONSET_HEALTH * 0.75, ONSET_HEALTH * 0.25, 0.0])
    signature = precursor(health, np.ones(5))
    assert signature[0] == signature[1] == 0
    assert 0 < signature[2] < signature[3] < signature[4] == 1


@pytest.fixture
def fleet():
    return build_fleet(load_reference(), 4, dt.date(2026, 1, 1), seed=9)


def test_replacement_resets_health_age_and_serial(fleet) -> None:
    c = fleet.components
    c.health[:3] = [0.1, 0.05, 0.2]
    c.hours[:3] = [12000.0, 800.0, 3000.0]
    old = list(c.serials[:3])
    day = dt.date(2026, 2, 1)
    maintenance.replace(fleet, np.array([0, 1, 2]), day, np.random.default_rng(0))
    assert list(c.health[:3]) == [1.0, 1.0, 1.0]
    assert list(c.hours[:3]) == [0.0, 0.0, 0.0] and list(c.cycles[:3]) == [0.0, 0.0, 0.0]
    assert all(c.install_ordinal[:3] == day.toordinal())
    assert len(set(c.serials[:3]) | set(old)) == 6
    assert c.serials[0].startswith(SPECS[COMPONENT_TYPES[c.ctype[0]]].code)


def test_repair_restores_health_but_keeps_age(fleet) -> None:
    c = fleet.components
    c.health[5], c.hours[5] = 0.1, 4321.0
    serial = c.serials[5]
    maintenance.repair(fleet, np.array([5]), np.random.default_rng(0))
    assert 0.85 <= c.health[5] <= 0.97
    assert c.hours[5] == 4321.0 and c.serials[5] == serial


def test_state_round_trip(fleet, tmp_path: Path) -> None:
    fleet.day = 17
    fleet.next_id("event")
    save_state(fleet, tmp_path)
    again = load_state(tmp_path)
    assert again.day == 17 and again.counters == fleet.counters
    assert again.start_date == fleet.start_date
    assert again.components.ids == fleet.components.ids
    np.testing.assert_array_equal(again.components.health, fleet.components.health)
    np.testing.assert_array_equal(again.aircraft.model, fleet.aircraft.model)
    save_state(again, tmp_path / "b")
    assert (tmp_path / "b" / "sim_state.json").read_bytes() == (
        tmp_path / "sim_state.json"
    ).read_bytes()


def test_fleet_has_every_slot(fleet) -> None:
    ref = load_reference()
    engines = ref.models["engine_count"].to_numpy()[fleet.aircraft.model]
    counts = np.bincount(fleet.components.aircraft)
    assert list(counts) == list(engines + 4)
    ages = (dt.date(2026, 1, 1).toordinal() - fleet.aircraft.eis_ordinal) / 365.25
    assert ages.min() >= 0 and ages.max() <= 25
    assert all(tail.endswith("AT") for tail in fleet.aircraft.ids)
