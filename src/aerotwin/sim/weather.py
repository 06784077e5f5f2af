"""Daily weather per airport from its climate: temperature, humidity, wind and storms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Climate:
    """Yearly weather of one climate: mean, seasonal swing, humidity and storm odds."""

    mean_temp_c: float
    seasonal_swing_c: float
    humidity_pct: float
    storm_probability: float
    mean_wind_kt: float


CLIMATES: dict[str, Climate] = {
    "tropical": Climate(27.0, 2.0, 78.0, 0.15, 9.0),
    "arid": Climate(25.0, 10.0, 25.0, 0.03, 10.0),
    "semi_arid": Climate(11.0, 12.0, 45.0, 0.06, 12.0),
    "mediterranean": Climate(18.0, 4.0, 65.0, 0.03, 8.0),
    "oceanic": Climate(11.0, 7.0, 78.0, 0.07, 12.0),
    "humid_subtropical": Climate(17.0, 10.0, 70.0, 0.10, 9.0),
    "continental": Climate(10.0, 14.0, 68.0, 0.08, 11.0),
    "subarctic": Climate(2.0, 15.0, 70.0, 0.06, 10.0),
}


@dataclass(frozen=True)
class DailyWeather:
    """One day's weather, one entry per airport (reference order)."""

    temperature_c: np.ndarray
    humidity_pct: np.ndarray
    wind_kt: np.ndarray
    storm: np.ndarray
    precipitation_mm: np.ndarray


def daily_weather(
    climates: list[str], latitudes: np.ndarray, day_of_year: int, rng: np.random.Generator
) -> DailyWeather:
    """Weather for every airport on one day; seasons flip in the southern hemisphere."""
    params = [CLIMATES[c] for c in climates]
    mean = np.array([p.mean_temp_c for p in params])
    swing = np.array([p.seasonal_swing_c for p in params])
    hum = np.array([p.humidity_pct for p in params])
    storm_p = np.array([p.storm_probability for p in params])
    wind = np.array([p.mean_wind_kt for p in params])
    # Coldest around 15 January in the north; cosine season, flipped south of the equator.
    season = -np.cos(2 * np.pi * (day_of_year - 15) / 365.25) * np.sign(latitudes + 1e-9)
    n = len(params)
    storm = rng.random(n) < storm_p * (1 + 0.5 * season)
    temperature = mean + swing * season + rng.normal(0, 3.0, n)
    humidity = np.clip(hum + rng.normal(0, 8.0, n) + 15 * storm, 3, 100)
    wind_kt = np.clip(rng.gamma(4.0, wind / 4.0) + 18 * storm, 0, 90)
    precipitation = np.where(storm, rng.gamma(2.0, 8.0, n), rng.gamma(0.3, 2.0, n))
    return DailyWeather(
        temperature_c=np.round(temperature, 1),
        humidity_pct=np.round(humidity, 1),
        wind_kt=np.round(wind_kt, 1),
        storm=storm,
        precipitation_mm=np.round(precipitation, 1),
    )
