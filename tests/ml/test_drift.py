"""PSI and out-of-range share against the training reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aerotwin.ml.drift import drift_frame, psi, reference_profile


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


def test_reference_profile_has_quantile_edges_shares_and_range() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, np.nan]})
    profile = reference_profile(train, ("x",), bins=4)
    # Quartiles of 1..8 (linear interpolation): 2.75, 4.5, 6.25; two values per bin.
    assert profile["x"] == {
        "edges": [2.75, 4.5, 6.25],
        "shares": [0.25, 0.25, 0.25, 0.25],
        "min": 1.0,
        "max": 8.0,
    }


def test_psi_matches_the_hand_computed_value() -> None:
    reference = {"edges": [2.5], "shares": [0.5, 0.5], "min": 1.0, "max": 4.0}
    # Actual shares 0.75 / 0.25 (2.5 itself falls in the upper bin):
    # (0.75-0.5)*ln(0.75/0.5) + (0.25-0.5)*ln(0.25/0.5) = 0.101366 + 0.173287 = 0.274653
    assert psi(reference, np.array([1.0, 1.0, 1.0, 2.5, np.nan])) == pytest.approx(
        0.274653, abs=1e-6
    )
    assert psi(reference, np.array([1.0, 4.0])) == 0.0
    # An empty bin counts as share 1e-4, not 0 (no infinite PSI):
    # (1-0.5)*ln(1/0.5) + (1e-4-0.5)*ln(1e-4/0.5) = 0.346574 + 4.257745 = 4.604318
    assert psi(reference, np.array([1.0, 2.0])) == pytest.approx(4.604318, abs=1e-6)
    assert np.isnan(psi(reference, np.array([np.nan])))


def test_drift_frame_rows_are_psi_out_of_range_share_and_count() -> None:
    profile = {
        "x": {"edges": [2.5], "shares": [0.5, 0.5], "min": 1.0, "max": 4.0},
        "gone": {"edges": [0.0], "shares": [0.5, 0.5], "min": 0.0, "max": 1.0},
    }
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 4.0, 9.0, np.nan], "other": 1.0})
    drift = drift_frame(profile, frame)
    # Shares 3/5 and 2/5: 0.1*ln(0.6/0.5) + (-0.1)*ln(0.4/0.5) = 0.018232 + 0.022314 = 0.040547.
    # Only 0 and 9 lie outside [1, 4] (the bounds are inside): share 2/5 of the 5 present.
    # A profiled feature missing from the frame gives no row.
    assert drift["feature"].tolist() == ["x"]
    row = drift.iloc[0]
    assert row["psi"] == pytest.approx(0.040547, abs=1e-6)
    assert row["out_of_range_share"] == 0.4
    assert row["rows"] == 5
