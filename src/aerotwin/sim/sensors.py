"""Sensor readings: nominal value for the operating conditions + defect signature + noise.

Each component type has a nominal model (what a healthy part reads in today's conditions); the
failure mode in progress shifts its sensors by `SHIFT[sensor] * signature` in the direction the
mode names (components.SPECS). Values are clipped into the physical ranges of schemas.SENSORS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aerotwin.schemas import SENSORS
from aerotwin.sim.components import SPECS

# Shift of each sensor at full defect signature, and its noise (one standard deviation).
SHIFT: dict[str, float] = {
    "thrust_level_pct": 0.0, "egt_c": 45.0, "egt_margin_c": 40.0, "vibration_ips": 1.4,
    "oil_pressure_psi": 18.0, "oil_temp_c": 14.0, "fuel_flow_kgph": 140.0, "fuel_efficiency": 0.07,
    "hydraulic_pressure_psi": 350.0, "brake_wear_pct": 15.0, "brake_temp_c": 110.0,
    "strut_compression_mm": 55.0, "tire_pressure_psi": 22.0,
    "power_draw_w": 260.0, "bus_voltage_v": 2.4, "signal_integrity_pct": 11.0,
    "error_count": 35.0, "lru_temp_c": 20.0,
    "airflow_cfm": 420.0, "cabin_pressure_psi": 0.0, "cabin_altitude_ft": 1900.0,
    "humidity_pct": 4.0, "outflow_valve_pct": 18.0,
    "stress_mpa": 35.0, "fatigue_index": 0.08, "temp_fluctuation_c": 11.0,
    "strain_microstrain": 320.0,
}  # fmt: skip
NOISE: dict[str, float] = {
    "thrust_level_pct": 2.5, "egt_c": 9.0, "egt_margin_c": 7.0, "vibration_ips": 0.15,
    "oil_pressure_psi": 3.0, "oil_temp_c": 3.0, "fuel_flow_kgph": 45.0, "fuel_efficiency": 0.012,
    "hydraulic_pressure_psi": 45.0, "brake_wear_pct": 2.5, "brake_temp_c": 22.0,
    "strut_compression_mm": 11.0, "tire_pressure_psi": 4.0,
    "power_draw_w": 55.0, "bus_voltage_v": 0.2, "signal_integrity_pct": 0.9,
    "error_count": 0.0, "lru_temp_c": 2.5,
    "airflow_cfm": 70.0, "cabin_pressure_psi": 0.02, "cabin_altitude_ft": 160.0,
    "humidity_pct": 2.0, "outflow_valve_pct": 3.0,
    "stress_mpa": 10.0, "fatigue_index": 0.004, "temp_fluctuation_c": 3.0,
    "strain_microstrain": 40.0,
}  # fmt: skip
DECIMALS: dict[str, int] = {"fuel_efficiency": 4, "fatigue_index": 4, "cabin_pressure_psi": 3}


@dataclass(frozen=True)
class Conditions:
    """Operating conditions of each reading (arrays, one entry per reading)."""

    oat_c: np.ndarray  # outside air temperature at departure
    humidity_pct: np.ndarray
    turbulence: np.ndarray
    block_hours: np.ndarray
    seats: np.ndarray  # aircraft size, drives flows and loads
    wear_fraction: np.ndarray  # hours since new / rated life hours


def _nominal(component_type: str, c: Conditions, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(c.oat_c)
    dt = c.oat_c - 15.0
    size = c.seats / 180.0
    if component_type == "engine":
        thrust = np.clip(82 + 0.15 * dt + rng.normal(0, NOISE["thrust_level_pct"], n), 55, 100)
        dthr = thrust - 82
        return {
            "thrust_level_pct": thrust,
            "egt_c": 560 + 4.0 * dthr + 1.1 * dt + 25 * c.wear_fraction,
            "egt_margin_c": 95 - 0.9 * dt - 0.8 * dthr - 20 * c.wear_fraction,
            "vibration_ips": 0.8 + 0.01 * dthr + 0.3 * c.turbulence,
            "oil_pressure_psi": 58 + 0.3 * dthr,
            "oil_temp_c": 92 + 0.35 * dt + 0.2 * dthr,
            "fuel_flow_kgph": 2400 * size**0.8 * (1 + 0.012 * dthr),
            "fuel_efficiency": 1.0 - 0.03 * c.wear_fraction,
        }
    if component_type == "landing_gear":
        return {
            "hydraulic_pressure_psi": np.full(n, 3000.0),
            "brake_wear_pct": 15 + 55 * np.minimum(c.wear_fraction, 1),
            "brake_temp_c": 180 + 1.2 * c.oat_c + 40 * size,
            "strut_compression_mm": 180 + 40 * c.turbulence + 20 * size,
            "tire_pressure_psi": 200 + 0.4 * dt,
        }
    if component_type == "avionics":
        return {
            "power_draw_w": 1400 + 3.0 * dt + 300 * size,
            "bus_voltage_v": np.full(n, 28.0),
            "signal_integrity_pct": 97.0 - 0.01 * c.humidity_pct,
            "error_count": 2 + 0.02 * c.humidity_pct,
            "lru_temp_c": 40 + 0.5 * dt,
        }
    if component_type == "cabin_pressurization":
        return {
            "airflow_cfm": 1800 * size**0.9,
            "cabin_pressure_psi": np.zeros(n),  # derived from cabin altitude below
            "cabin_altitude_ft": 6500 + 300 * np.minimum(c.block_hours, 5) / 5,
            "humidity_pct": 12 + 0.1 * (c.humidity_pct - 60),
            "outflow_valve_pct": 38 + 0.1 * dt,
        }
    return {  # airframe
        "stress_mpa": 180 + 120 * c.turbulence + 10 * size,
        "fatigue_index": 0.05 + 0.7 * np.minimum(c.wear_fraction, 1.2),
        "temp_fluctuation_c": 70 + 0.5 * dt,
        "strain_microstrain": np.zeros(n),  # derived from stress below
    }


def readings(
    component_type: str,
    conditions: Conditions,
    signature: np.ndarray,
    mode: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Sensor values for readings of one component type, in contract order."""
    values = _nominal(component_type, conditions, rng)
    n = len(signature)
    for m, failure_mode in enumerate(SPECS[component_type].modes):
        active = signature * (mode == m)
        for name, direction in failure_mode.signature.items():
            values[name] = values[name] + direction * SHIFT[name] * active
    out: dict[str, np.ndarray] = {}
    # Derived sensors last: cabin pressure follows cabin altitude, strain follows stress.
    derived = ("cabin_pressure_psi", "strain_microstrain")
    ordered = sorted(SENSORS[component_type], key=lambda s: s.name in derived)
    for sensor in ordered:
        name = sensor.name
        v = values[name]
        if name == "error_count":
            v = rng.poisson(np.maximum(v, 0))
        elif name == "cabin_pressure_psi":
            altitude = out["cabin_altitude_ft"]
            v = 14.696 * (1 - 6.8756e-6 * altitude) ** 5.2559 + rng.normal(0, NOISE[name], n)
        elif name == "strain_microstrain":
            # Aluminium skin: strain = stress / E with E about 70 GPa.
            v = out["stress_mpa"] / 70_000 * 1e6 + v + rng.normal(0, NOISE[name], n)
        elif name != "thrust_level_pct":
            v = v + rng.normal(0, NOISE[name], n)
        v = np.clip(v, sensor.low, sensor.high)
        out[name] = v if sensor.integer else np.round(v, DECIMALS.get(name, 2))
    return {s.name: out[s.name] for s in SENSORS[component_type]}
