"""Engine RUL features from raw C-MAPSS cycles: operating conditions, normalisation, windows.

Pure functions over pandas frames with the C-MAPSS columns (unit, cycle, op settings, sensors).
Everything learnt from data (condition centres, per-condition means and deviations, which
sensors are constant) lives in a `Preprocessor` fitted on training units only, so the same
object turns a test unit's raw cycles, or a user's, into model features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aerotwin.ml.cmapss import OP_SETTINGS, SENSORS

RUL_CAP = 125
# Rounding resolution per op setting (altitude kft, Mach, throttle angle): noise is far below it.
SETTING_RESOLUTION = np.array([1.0, 0.01, 1.0])
MIN_CONDITION_SHARE = 0.005
MEAN_WINDOWS = (5, 10, 20, 30)
SLOPE_WINDOWS = (10, 20, 40)
BASELINE_CYCLES = 10


def capped_rul(frame: pd.DataFrame, cap: int = RUL_CAP) -> pd.Series:
    """Piecewise-linear target of run-to-failure units: cycles left to the unit's last, capped."""
    last = frame.groupby("unit")["cycle"].transform("max")
    return (last - frame["cycle"]).clip(upper=cap).astype("float64").rename("rul")


def fit_conditions(settings: np.ndarray) -> np.ndarray:
    """Operating-condition centres: rounded setting combinations holding >= 0.5 % of rows.

    The rounding finds how many conditions there are (1 in FD001, 6 in FD002); the centres are
    the mean settings of each group, and rows are then assigned to the nearest centre, so a
    noisy row rounding to a rare neighbouring key still joins its real condition.
    """
    keys = np.round(settings / SETTING_RESOLUTION).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    keep = np.flatnonzero(counts >= MIN_CONDITION_SHARE * len(settings))
    if len(keep) == 0:
        keep = np.array([int(np.argmax(counts))])
    centres = np.stack([settings[inverse.ravel() == k].mean(axis=0) for k in keep])
    return centres[np.lexsort(centres.T[::-1])]


def assign_conditions(settings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest condition centre for each row (distance in rounding units)."""
    diff = (settings[:, None, :] - centres[None, :, :]) / SETTING_RESOLUTION
    return np.argmin((diff**2).sum(axis=2), axis=1)


@dataclass
class Preprocessor:
    """Per-condition sensor normalisation learnt from training cycles."""

    centres: np.ndarray
    sensors: list[str]
    means: np.ndarray  # (conditions, sensors)
    stds: np.ndarray
    dropped: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, train: pd.DataFrame) -> Preprocessor:
        """Learn conditions, per-condition mean/std, and drop sensors constant in every condition.

        A sensor is constant when, in each condition, it takes at most two distinct values
        (C-MAPSS stores some flat channels with a last-digit flicker) or has zero deviation.
        """
        settings = train[OP_SETTINGS].to_numpy(np.float64)
        centres = fit_conditions(settings)
        cond = assign_conditions(settings, centres)
        kept: list[str] = []
        dropped: list[str] = []
        for sensor in SENSORS:
            values = train[sensor].to_numpy(np.float64)
            informative = any(
                np.unique(values[cond == c]).size > 2 and values[cond == c].std() > 0
                for c in range(len(centres))
            )
            (kept if informative else dropped).append(sensor)
        if not kept:
            raise ValueError("train: every sensor is constant within its operating condition")
        values = train[kept].to_numpy(np.float64)
        means = np.stack([values[cond == c].mean(axis=0) for c in range(len(centres))])
        stds = np.stack([values[cond == c].std(axis=0) for c in range(len(centres))])
        stds[~(stds > 0)] = 1.0  # a sensor flat in one condition only: centre it, do not scale
        return cls(centres=centres, sensors=kept, means=means, stds=stds, dropped=dropped)

    def normalise(self, frame: pd.DataFrame) -> pd.DataFrame:
        """unit, cycle, condition and the kept sensors as z-scores within their condition."""
        cond = assign_conditions(frame[OP_SETTINGS].to_numpy(np.float64), self.centres)
        z = (frame[self.sensors].to_numpy(np.float64) - self.means[cond]) / self.stds[cond]
        out = pd.DataFrame(z, columns=self.sensors, index=frame.index)
        out.insert(0, "condition", cond)
        out.insert(0, "cycle", frame["cycle"].to_numpy())
        out.insert(0, "unit", frame["unit"].to_numpy())
        return out


def _window_sums(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing-window sums of each column and the window length, truncated at the start."""
    n = len(values)
    cums = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    end = np.arange(1, n + 1)
    start = np.maximum(0, end - window)
    return cums[end] - cums[start], (end - start).astype(np.float64)


def _unit_features(z: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Window features of one unit's normalised sensors, each row using only its past."""
    n = len(z)
    t = np.arange(n, dtype=np.float64)[:, None]
    feats: dict[str, np.ndarray] = {}
    for w in MEAN_WINDOWS:
        s, cnt = _window_sums(z, w)
        mean = s / cnt[:, None]
        for j, name in enumerate(names):
            feats[f"{name}_mean{w}"] = mean[:, j]
    for w in SLOPE_WINDOWS:
        sx, cnt = _window_sums(z, w)
        stx, _ = _window_sums(z * t, w)
        st, _ = _window_sums(t, w)
        stt, _ = _window_sums(t * t, w)
        cnt = cnt[:, None]
        denom = cnt * stt - st * st
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(denom > 0, (cnt * stx - st * sx) / denom, 0.0)
        for j, name in enumerate(names):
            feats[f"{name}_slope{w}"] = slope[:, j]
    # Engines start with different wear: drift from the unit's own first cycles tells health.
    base = z[: min(BASELINE_CYCLES, n)].mean(axis=0)
    s, cnt = _window_sums(z, MEAN_WINDOWS[1])
    cum = np.cumsum(z, axis=0) / np.arange(1, n + 1)[:, None]
    for j, name in enumerate(names):
        feats[f"{name}_drift"] = s[:, j] / cnt - base[j]
        feats[f"{name}_expmean"] = cum[:, j]
    return feats


def window_features(normalised: pd.DataFrame, sensors: list[str]) -> pd.DataFrame:
    """One feature row per input cycle: cycle number, windowed means/slopes and drift per sensor.

    Rows must be sorted by unit and cycle; a row's features use that unit's cycles up to it.
    """
    parts = []
    for unit, group in normalised.groupby("unit", sort=False):
        feats = _unit_features(group[sensors].to_numpy(np.float64), sensors)
        part = pd.DataFrame(feats, index=group.index)
        part.insert(0, "cycle", group["cycle"].to_numpy(np.float64))
        part.insert(0, "unit", unit)
        parts.append(part)
    return pd.concat(parts)


def feature_columns(features: pd.DataFrame) -> list[str]:
    """Model inputs: every feature column but the unit id."""
    return [c for c in features.columns if c != "unit"]
