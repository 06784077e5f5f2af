"""Engine RUL: target, per-condition features, conformal intervals, PHM08, training + MLflow."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from aerotwin.config import load_settings
from aerotwin.ml.cmapss import COLUMNS, OP_SETTINGS, SENSORS, CmapssSubset, load_subset
from aerotwin.ml.conformal import empirical_coverage, fit_intervals, residual_quantiles
from aerotwin.ml.rul import RulConfig, describe, evaluate, phm08_score, rmse, train_rul
from aerotwin.ml.rul_features import Preprocessor, capped_rul, window_features
from aerotwin.ml.rul_tracking import MODEL_NAME, log_training
from aerotwin.ml.tracking import mlflow_session

CMAPSS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cmapss"
CONDITIONS = np.array([[0.0, 0.0, 100.0], [20.0, 0.7, 100.0]])


def _synthetic_cycles(units: int = 6, length: int = 60, seed: int = 0) -> pd.DataFrame:
    """Units alternating between two operating conditions; sensor_2 drifts with wear."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(1, units + 1):
        for cycle in range(1, length + 1):
            cond = rng.integers(0, 2)
            settings = CONDITIONS[cond] + rng.normal(0, [0.002, 0.0003, 0.0], 3)
            sensors = np.full(21, 500.0)
            sensors[1] = (640.0 if cond == 0 else 550.0) + rng.normal(0, 0.5) + 0.05 * cycle
            sensors[2] = (1590.0 if cond == 0 else 1360.0) + rng.normal(0, 2.0)
            sensors[5] = 21.61 if rng.random() < 0.9 else 21.60  # flat channel, last-digit flicker
            rows.append([unit, cycle, *settings, *sensors])
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"unit": "int64", "cycle": "int64"})


def test_target_is_cycles_to_the_last_capped_at_125() -> None:
    frame = pd.DataFrame({"unit": [1] * 200 + [2] * 3, "cycle": [*range(1, 201), 1, 2, 3]})
    rul = capped_rul(frame)
    assert rul.iloc[0] == 125 and rul.iloc[74] == 125 and rul.iloc[75] == 124
    assert rul.iloc[199] == 0
    assert rul.iloc[200:].tolist() == [2, 1, 0]
    assert capped_rul(frame, cap=130).iloc[70] == 129


def test_per_condition_normalisation_on_two_conditions() -> None:
    frame = _synthetic_cycles()
    pre = Preprocessor.fit(frame)
    assert len(pre.centres) == 2
    assert "sensor_6" in pre.dropped and "sensor_1" in pre.dropped  # flicker, constant
    assert pre.sensors == ["sensor_2", "sensor_3"]
    z = pre.normalise(frame)
    for _, group in z.groupby("condition"):
        assert group["sensor_3"].mean() == pytest.approx(0.0, abs=1e-9)
        assert group["sensor_3"].std(ddof=0) == pytest.approx(1.0)
    # Raw sensor_2 is dominated by the condition (90 units apart); normalised, only wear is
    # left, so it correlates with the cycle in both conditions alike.
    assert np.corrcoef(frame["sensor_2"], frame["cycle"])[0, 1] < 0.3
    for _, group in z.groupby("condition"):
        assert np.corrcoef(group["sensor_2"], group["cycle"])[0, 1] > 0.6
    # A row far from training noise still lands in its nearest condition.
    probe = frame.head(1).copy()
    probe[OP_SETTINGS] = [[19.9, 0.69, 100.0]]
    assert pre.normalise(probe)["condition"].iloc[0] == 1


def test_window_features_use_only_the_past() -> None:
    frame = _synthetic_cycles(units=2, length=40)
    pre = Preprocessor.fit(frame)
    before = window_features(pre.normalise(frame), pre.sensors)
    changed = frame.copy()
    changed.loc[(changed["unit"] == 1) & (changed["cycle"] == 30), "sensor_2"] += 50.0
    after = window_features(pre.normalise(changed), pre.sensors)
    unit1 = (before["unit"] == 1).to_numpy()
    early = unit1 & (before["cycle"] < 30).to_numpy()
    pd.testing.assert_frame_equal(before[early], after[early])
    assert not before[unit1 & (before["cycle"] == 30).to_numpy()].equals(
        after[unit1 & (after["cycle"] == 30).to_numpy()]
    )
    assert before.shape[0] == len(frame)


def test_phm08_score_on_hand_checked_values() -> None:
    # d = -13 → e - 1 ; d = +10 → e - 1 ; d = 0 → 0
    assert phm08_score(np.array([0.0, 10.0, 20.0]), np.array([13.0, 0.0, 20.0])) == pytest.approx(
        2 * (math.e - 1)
    )
    # Late is worse than early by the same amount.
    assert phm08_score(np.array([20.0]), np.array([0.0])) == pytest.approx(math.exp(2) - 1)
    assert phm08_score(np.array([0.0]), np.array([20.0])) == pytest.approx(math.exp(20 / 13) - 1)
    assert rmse(np.array([3.0, 0.0]), np.array([0.0, 4.0])) == pytest.approx(math.sqrt(12.5))


def test_conformal_intervals_cover_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(3)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        pred = rng.uniform(0, 125, n)
        return pred, pred + rng.normal(0, 2 + 0.15 * pred, n)  # noise grows with the prediction

    cal_pred, cal_y = draw(5000)
    intervals = fit_intervals(cal_pred, cal_y, coverage=0.9, bins=5)
    test_pred, test_y = draw(40000)
    lower, upper = intervals.interval(test_pred)
    assert empirical_coverage(test_y, lower, upper) == pytest.approx(0.9, abs=0.015)
    # Bins follow the noise: intervals near zero are much narrower than near the cap.
    low, high = test_pred < 25, test_pred > 100
    assert np.mean((upper - lower)[low]) < 0.5 * np.mean((upper - lower)[high])
    for mask in (low, high):
        assert empirical_coverage(test_y[mask], lower[mask], upper[mask]) > 0.87
    # A biased model (all residuals positive) still gets intervals holding its prediction.
    biased = fit_intervals(cal_pred, cal_pred + 5 + rng.uniform(0, 1, 5000), coverage=0.9)
    low_b, high_b = biased.interval(test_pred)
    assert (low_b <= test_pred).all() and (high_b >= test_pred + 5).all()
    with pytest.raises(ValueError, match="too few for 90% intervals"):
        residual_quantiles(np.zeros(10), 0.9)


@pytest.fixture(scope="module")
def fd001_slice() -> CmapssSubset:
    if not (CMAPSS_DIR / "train_FD001.txt").is_file():
        pytest.skip(f"C-MAPSS FD001 files absent from {CMAPSS_DIR.resolve()}")
    data = load_subset(CMAPSS_DIR, "FD001")
    return CmapssSubset(
        name="FD001",
        train=data.train[data.train["unit"] <= 30].reset_index(drop=True),
        test=data.test[data.test["unit"] <= 40].reset_index(drop=True),
        test_rul=data.test_rul.loc[:40],
    )


def test_train_evaluate_and_register_on_an_fd001_slice(
    fd001_slice: CmapssSubset, tmp_path: Path
) -> None:
    config = RulConfig(
        folds=3,
        n_estimators=40,
        threads=1,  # one thread: OpenMP spin-waits badly on the shared 2-core machine
        candidates=({"num_leaves": 7, "min_child_samples": 40}, {"num_leaves": 15}),
    )
    result = train_rul(fd001_slice.train, "FD001", config)
    assert len(result.candidates) == 2
    assert result.cv["cv_rmse"] == min(c["cv_rmse"] for c in result.candidates)
    assert result.cv["cv_coverage"] >= 0.88  # conformal on its own calibration set
    assert result.model.preprocessor.dropped  # FD001 has flat channels, found from data
    assert all(s in SENSORS for s in result.model.preprocessor.sensors)

    evaluation = evaluate(result.model, fd001_slice)
    m = evaluation.metrics
    assert m["test_units"] == 40
    assert m["test_rmse"] < 30
    assert m["test_phm08_score"] > 0
    assert 0.6 <= m["test_coverage"] <= 1.0
    preds = evaluation.predictions
    assert (preds["rul_lower"] <= preds["rul"]).all() and (preds["rul"] <= preds["rul_upper"]).all()
    assert describe(preds.iloc[0], 0.9).startswith("fails in ")

    settings = load_settings(None, data_dir=tmp_path / "data")
    example = fd001_slice.test[fd001_slice.test["unit"] == 1]
    first = log_training(settings, result, evaluation, example)
    assert (first.version, first.aliases) == (1, ["champion"])
    # A second, worse model (by CV) on the same subset becomes the challenger.
    worse = train_rul(
        fd001_slice.train,
        "FD001",
        RulConfig(folds=3, n_estimators=3, candidates=({"num_leaves": 2},), threads=1),
    )
    assert worse.cv["cv_rmse"] > result.cv["cv_rmse"]
    second = log_training(settings, worse, None, example)
    assert (second.version, second.aliases) == (2, ["challenger"])

    with mlflow_session(settings) as client:
        champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
        assert int(champion.version) == 1 and champion.tags["subset"] == "FD001"
        run = client.get_run(champion.run_id)
        for key in ("cv_rmse", "test_rmse", "test_phm08_score", "test_coverage"):
            assert key in run.data.metrics
        assert run.data.metrics["test_rmse"] == pytest.approx(m["test_rmse"])
        assert run.data.params["rul_cap"] == "125"
        # The registered model predicts from raw cycles, preprocessing included.
        loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
        served = loaded.predict(fd001_slice.test[fd001_slice.test["unit"] <= 2])
    direct = result.model.predict(fd001_slice.test[fd001_slice.test["unit"] <= 2])
    np.testing.assert_allclose(served["rul"].to_numpy(), direct["rul"].to_numpy())
    assert list(served.columns) == ["unit", "cycle", "rul", "rul_lower", "rul_upper"]


def test_six_operating_conditions_need_no_code_change(fd001_slice: CmapssSubset) -> None:
    """FD001 rows moved to six FD002-like conditions train as well as the original."""
    rng = np.random.default_rng(11)
    centres = np.array(
        [
            [0, 0, 100],
            [10, 0.25, 100],
            [20, 0.7, 100],
            [25, 0.62, 60],
            [35, 0.84, 100],
            [42, 0.84, 100],
        ]
    )
    train = fd001_slice.train.copy()
    cond = rng.integers(0, 6, len(train))
    train[OP_SETTINGS] = centres[cond] + rng.normal(0, [0.003, 0.0003, 0.0], (len(train), 3))
    # Each condition scales and shifts every sensor: far larger than the wear signal.
    scale = rng.uniform(0.7, 1.3, (6, 21))
    shift = rng.uniform(-50, 50, (6, 21))
    train[SENSORS] = train[SENSORS].to_numpy() * scale[cond] + shift[cond]
    config = RulConfig(folds=3, n_estimators=40, threads=1, candidates=({"num_leaves": 15},))
    plain = train_rul(fd001_slice.train, "FD001", config)
    moved = train_rul(train, "FD00X", config)
    assert len(moved.model.preprocessor.centres) == 6
    assert moved.model.preprocessor.dropped == plain.model.preprocessor.dropped
    assert moved.cv["cv_rmse"] < 1.1 * plain.cv["cv_rmse"]
