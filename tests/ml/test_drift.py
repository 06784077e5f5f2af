"""PSI and out-of-range share against the training reference."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aerotwin.ml.drift import drift_frame, reference_profile


def test_psi_near_zero_for_same_distribution_and_large_for_shifted() -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(0, 1, 20000), "y": rng.uniform(0, 1, 20000)})
    profile = reference_profile(train, ("x", "y"))
    same = pd.DataFrame({"x": rng.normal(0, 1, 5000), "y": rng.uniform(0, 1, 5000)})
    shifted = pd.DataFrame({"x": rng.normal(1.5, 1, 5000), "y": rng.uniform(0.5, 1.5, 5000)})
    same_drift = drift_frame(profile, same).set_index("feature")
    shifted_drift = drift_frame(profile, shifted).set_index("feature")
    assert (same_drift["psi"] < 0.02).all()
    assert (shifted_drift["psi"] > 0.5).all()
    assert same_drift.loc["y", "out_of_range_share"] < 0.005
    assert 0.4 < shifted_drift.loc["y", "out_of_range_share"] < 0.6
    assert shifted_drift.loc["x", "rows"] == 5000
