"""AeroTwin: digital twin and predictive maintenance for aircraft fleets."""

__version__ = "0.1.0"
