"""Component kinds: slots per aircraft, rated life, wear rates, failure modes and repair policy.

Wear is in health units (1 = new, 0 = failed). `life_days` is the nominal days of wear from new
to the onset of a defect at typical use; rates per flight hour, cycle and day are derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aerotwin.schemas import COMPONENT_TYPES


@dataclass(frozen=True)
class FailureMode:
    """A way a component fails: the sensors its precursor moves (+1 up, -1 down)."""

    name: str
    signature: dict[str, float]


@dataclass(frozen=True)
class ComponentSpec:
    """What the simulator knows about one component type."""

    component_type: str
    code: str
    rated_life_hours: float
    rated_life_cycles: float
    life_days: float
    hours_share: float
    cycles_share: float
    turbulence_weight: float
    sudden_per_year: float
    modes: tuple[FailureMode, ...]
    sudden_modes: tuple[str, ...]
    finding_action: str  # what a finding at inspection leads to: "repair" or "replacement"


# Health below which a defect has started and shows in the sensors (the P point of a P-F curve).
ONSET_HEALTH = 0.3
# Days from defect onset to functional failure at typical use (the P-F interval), drawn uniformly.
PF_DAYS = (8.0, 40.0)
# Typical daily use that `life_days` refers to.
TYPICAL_HOURS_PER_DAY = 8.0
TYPICAL_CYCLES_PER_DAY = 3.0

SPECS: dict[str, ComponentSpec] = {
    "engine": ComponentSpec(
        "engine", "ENG", 25000, 18000, 2000, 0.7, 0.3, 0.2, 0.12,
        (
            FailureMode(
                "hot_section_deterioration",
                {"egt_c": 1, "egt_margin_c": -1, "fuel_efficiency": -1, "fuel_flow_kgph": 1},
            ),
            FailureMode("bearing_wear", {"vibration_ips": 1, "oil_temp_c": 1}),
            FailureMode("oil_system_leak", {"oil_pressure_psi": -1, "oil_temp_c": 1}),
        ),
        ("bird_strike", "foreign_object_damage"),
        "replacement",
    ),
    "landing_gear": ComponentSpec(
        "landing_gear", "LDG", 30000, 20000, 1500, 0.2, 0.8, 0.6, 0.15,
        (
            FailureMode("brake_wear_out", {"brake_wear_pct": 1, "brake_temp_c": 1}),
            FailureMode("hydraulic_leak", {"hydraulic_pressure_psi": -1}),
            FailureMode("strut_seal_failure", {"strut_compression_mm": 1, "tire_pressure_psi": -1}),
        ),
        ("tire_burst", "hard_landing_damage"),
        "replacement",
    ),
    "avionics": ComponentSpec(
        "avionics", "AVN", 40000, 40000, 1800, 0.8, 0.2, 0.1, 0.2,
        (
            FailureMode("lru_overheating", {"lru_temp_c": 1, "power_draw_w": 1}),
            FailureMode("connector_corrosion", {"signal_integrity_pct": -1, "error_count": 1}),
            FailureMode("power_supply_degradation", {"bus_voltage_v": -1, "power_draw_w": 1}),
        ),
        ("lightning_strike", "power_surge"),
        "replacement",
    ),
    "cabin_pressurization": ComponentSpec(
        "cabin_pressurization", "CPS", 35000, 30000, 1600, 0.3, 0.7, 0.2, 0.12,
        (
            FailureMode("outflow_valve_sticking", {"outflow_valve_pct": 1}),
            FailureMode("pack_degradation", {"airflow_cfm": -1, "humidity_pct": -1}),
            FailureMode(
                "door_seal_leak",
                {"cabin_altitude_ft": 1, "cabin_pressure_psi": -1, "outflow_valve_pct": -1},
            ),
        ),
        ("rapid_decompression",),
        "repair",
    ),
    "airframe": ComponentSpec(
        "airframe", "AFR", 90000, 60000, 1800, 0.2, 0.8, 1.0, 0.06,
        (
            FailureMode("fatigue_crack",
                        {"strain_microstrain": 1, "stress_mpa": 1, "fatigue_index": 1}),
            FailureMode("corrosion", {"temp_fluctuation_c": 1, "stress_mpa": 1}),
        ),
        ("severe_turbulence_damage",),
        "repair",
    ),
}  # fmt: skip

TYPE_INDEX: dict[str, int] = {t: i for i, t in enumerate(COMPONENT_TYPES)}


def slots(engine_count: int) -> list[tuple[str, str, str]]:
    """(component_type, id suffix, position) of every component slot of an aircraft."""
    out = [("engine", f"ENG{i}", f"engine_{i}") for i in range(1, engine_count + 1)]
    out += [
        ("landing_gear", "LDG", "main_gear"),
        ("avionics", "AVN", "avionics_bay"),
        ("cabin_pressurization", "CPS", "pressurization_system"),
        ("airframe", "AFR", "fuselage"),
    ]
    return out
