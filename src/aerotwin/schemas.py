"""Data contracts shared by the simulator, real feeds and the pipeline.

Component types, their sensors (unit and physical range) and the landing-zone layout.
Both `sim` (which writes the landing zone) and `lakehouse`/`pipeline` (which read it)
import from here, so the two sides cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Sensor:
    """One telemetry column: name (unit in the name), unit, and the physically possible range."""

    name: str
    unit: str
    low: float
    high: float
    description: str
    integer: bool = False


COMPONENT_TYPES: Final = ("engine", "landing_gear", "avionics", "cabin_pressurization", "airframe")

SENSORS: Final[dict[str, tuple[Sensor, ...]]] = {
    "engine": (
        Sensor("thrust_level_pct", "%", 0, 110, "commanded thrust as a share of rated thrust"),
        Sensor("egt_c", "°C", -60, 1200, "exhaust gas temperature"),
        Sensor("egt_margin_c", "°C", -150, 250, "margin to the EGT red line"),
        Sensor("vibration_ips", "in/s", 0, 10, "broadband vibration velocity"),
        Sensor("oil_pressure_psi", "psi", 0, 200, "oil pressure"),
        Sensor("oil_temp_c", "°C", -60, 250, "oil temperature"),
        Sensor("fuel_flow_kgph", "kg/h", 0, 15000, "fuel flow"),
        Sensor("fuel_efficiency", "ratio", 0, 1.5, "thrust per fuel flow vs a new engine (1.0)"),
    ),
    "landing_gear": (
        Sensor("hydraulic_pressure_psi", "psi", 0, 5000, "hydraulic system pressure"),
        Sensor("brake_wear_pct", "%", 0, 100, "brake wear indicator"),
        Sensor("brake_temp_c", "°C", -60, 1000, "peak brake temperature"),
        Sensor("strut_compression_mm", "mm", 0, 600, "shock strut compression at touchdown"),
        Sensor("tire_pressure_psi", "psi", 0, 300, "tire pressure"),
    ),
    "avionics": (
        Sensor("power_draw_w", "W", 0, 5000, "electrical power draw"),
        Sensor("bus_voltage_v", "V", 0, 40, "DC bus voltage"),
        Sensor("signal_integrity_pct", "%", 0, 100, "data-bus signal integrity"),
        Sensor(
            "error_count", "count", 0, 100000, "bus errors in the reading interval", integer=True
        ),
        Sensor("lru_temp_c", "°C", -60, 150, "line-replaceable-unit temperature"),
    ),
    "cabin_pressurization": (
        Sensor("airflow_cfm", "ft³/min", 0, 5000, "pack airflow"),
        Sensor("cabin_pressure_psi", "psi", 0, 16, "cabin absolute pressure"),
        Sensor("cabin_altitude_ft", "ft", -2000, 20000, "cabin pressure altitude"),
        Sensor("humidity_pct", "%", 0, 100, "cabin relative humidity"),
        Sensor("outflow_valve_pct", "%", 0, 100, "outflow valve opening"),
    ),
    "airframe": (
        Sensor("stress_mpa", "MPa", 0, 800, "peak structural stress"),
        Sensor("fatigue_index", "index", 0, 1, "accumulated fatigue damage (Miner's sum)"),
        Sensor("temp_fluctuation_c", "°C", 0, 150, "skin temperature swing over the flight"),
        Sensor("strain_microstrain", "µε", 0, 5000, "peak strain"),
    ),
}

# Every telemetry record carries these keys before its sensors.
TELEMETRY_KEYS: Final = ("component_id", "aircraft_id", "flight_id", "reading_ts")

# Timestamps (in UTC) and dates must fall in these years, first and last included: outside
# is a typo (0026, 20026) and may be a year Python cannot hold (DuckDB reads 10000 and 1 BC).
YEARS: Final = (1900, 2199)

# What a value's text must look like to be typed (regular expressions both engines and
# SQLGlot read alike): each engine's cast also reads forms the other does not (Spark a time
# alone as today, `1.5d` and `2f`; DuckDB hour 24 as the next midnight, `1_000`). `\z`, not
# `$`: Java's `$` also matches before a line break that ends the text.
# A timestamp: an ISO-8601 date and time of day (hours 00..23), an optional Z or offset
# after the seconds (Spark reads no zone after a time without seconds, DuckDB does).
TIMESTAMP_SHAPE: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?"
    r"(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?)?\z"
)
DATE_SHAPE: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\z"
# A number: plain decimal or scientific notation, an optional sign.
NUMBER_SHAPE: Final = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?\z"
# A boolean: the words both engines read, in any case; Spark also reads them with spaces around.
BOOLEAN_SHAPE: Final = r"^(?i)(true|false|t|f|yes|no|y|n|1|0)\z"

# Landing zone: {landing}/{feed}/date=YYYY-MM-DD/part-*.{jsonl|csv}; reference data as
# {landing}/reference/{name}.csv; the bad-record manifest at {landing}/_manifest/.
TELEMETRY_FEEDS: Final = {ct: f"telemetry_{ct}" for ct in COMPONENT_TYPES}
EVENT_FEEDS: Final = ("flights", "weather", "maintenance_events", "failures")
REFERENCE_TABLES: Final = ("airports", "aircraft", "components", "routes")

BAD_RECORD_KINDS: Final = (
    "missing_field",
    "wrong_type",
    "out_of_range",
    "exact_duplicate",
    "near_duplicate",
    "late_arrival",
    "out_of_order",
    "unknown_aircraft",
    "unknown_component",
    "truncated_line",
)


def sensor_names(component_type: str) -> tuple[str, ...]:
    """The sensor columns of one component type, in contract order."""
    return tuple(s.name for s in SENSORS[component_type])
