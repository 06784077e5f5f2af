"""Feature drift against the training reference: PSI and out-of-training-range share."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_EPS = 1e-4


def reference_profile(frame: pd.DataFrame, features: tuple[str, ...], bins: int = 10) -> dict:
    """Per feature: quantile bin edges, the training share per bin, min and max."""
    profile: dict[str, Any] = {}
    for name in features:
        values = frame[name].astype(float).dropna().to_numpy()
        if values.size == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
        profile[name] = {
            "edges": edges.tolist(),
            "shares": _shares(values, edges).tolist(),
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return profile


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(values.size, 1)


def psi(reference: dict, values: np.ndarray) -> float:
    """Population stability index of `values` against one feature's reference bins."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan")
    expected = np.clip(np.asarray(reference["shares"]), _EPS, None)
    actual = np.clip(_shares(values, np.asarray(reference["edges"])), _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_frame(profile: dict, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per profiled feature: psi, out_of_range_share, rows."""
    rows = []
    for name, ref in profile.items():
        if name not in frame:
            continue
        values = frame[name].astype(float).to_numpy()
        present = values[~np.isnan(values)]
        outside = ((present < ref["min"]) | (present > ref["max"])).mean() if present.size else 0.0
        rows.append(
            {
                "feature": name,
                "psi": psi(ref, values),
                "out_of_range_share": float(outside),
                "rows": int(present.size),
            }
        )
    return pd.DataFrame(rows, columns=["feature", "psi", "out_of_range_share", "rows"])
