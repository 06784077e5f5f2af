"""C-MAPSS loader on the real FD001 files, its errors, the lakehouse import and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from aerotwin.cli import app
from aerotwin.config import Settings, load_settings
from aerotwin.ml.cmapss import (
    COLUMNS,
    CmapssFormatError,
    load_subset,
    read_cycles,
    read_rul,
)
from aerotwin.ml.cmapss_import import (
    CYCLES_TABLE,
    ENGINES_TABLE,
    import_cmapss,
    read_cycles_table,
)
from aerotwin.ml.rul_tracking import MODEL_NAME
from aerotwin.ml.tracking import mlflow_session

CMAPSS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cmapss"


@pytest.fixture(scope="module")
def cmapss_dir() -> Path:
    if not (CMAPSS_DIR / "train_FD001.txt").is_file():
        pytest.skip(f"C-MAPSS FD001 files absent from {CMAPSS_DIR.resolve()}")
    return CMAPSS_DIR


@pytest.fixture(scope="module")
def slice_dir(cmapss_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FD001 cut to 30 training and 20 test units, bytes otherwise as published."""
    out = tmp_path_factory.mktemp("fd001_slice")
    for name, units in (("train_FD001.txt", 30), ("test_FD001.txt", 20)):
        lines = (cmapss_dir / name).read_text().splitlines(keepends=True)
        (out / name).write_text("".join(ln for ln in lines if int(ln.split()[0]) <= units))
    rul = (cmapss_dir / "RUL_FD001.txt").read_text().splitlines(keepends=True)
    (out / "RUL_FD001.txt").write_text("".join(rul[:20]))
    return out


def test_loader_reads_the_published_fd001_files(cmapss_dir: Path) -> None:
    raw_line = (cmapss_dir / "train_FD001.txt").read_text().splitlines()[0]
    assert raw_line.endswith(" "), "the published files carry trailing spaces"
    data = load_subset(cmapss_dir, "FD001")
    assert data.train.shape == (20631, 26)
    assert data.test.shape == (13096, 26)
    assert list(data.train.columns) == COLUMNS
    assert data.train["unit"].nunique() == 100 and data.test["unit"].nunique() == 100
    assert data.train["unit"].dtype == np.int64 and data.train["cycle"].dtype == np.int64
    assert len(data.test_rul) == 100 and data.test_rul.loc[1] == 112
    # First published row: unit 1, cycle 1, ..., sensor_21 = 23.4190.
    first = data.train.iloc[0]
    assert (first["unit"], first["cycle"]) == (1, 1)
    assert first["sensor_21"] == pytest.approx(23.4190)
    assert data.train.groupby("unit")["cycle"].max().loc[1] == 192


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("1 3 0.0 0.0 100.0 " + "1.0 " * 20, "expected 26 space-separated columns, got 25"),
        ("1 3 0.0 0.0 100.0 " + "1.0 " * 20 + "abc", "column sensor_21: not a number: 'abc'"),
        ("1 5 0.0 0.0 100.0 " + "1.0 " * 21, "column cycle: expected 3 for unit 1, got 5"),
        ("1 3 0.0 0.0 nan " + "1.0 " * 21, "column op_setting_3: not finite"),
    ],
)
def test_malformed_file_names_file_line_and_reason(
    tmp_path: Path, bad_line: str, reason: str
) -> None:
    good = "1 {} -0.0007 -0.0004 100.0 " + "518.67 " * 21 + "\n"
    path = tmp_path / "train_FD009.txt"
    path.write_text(good.format(1) + good.format(2) + bad_line + "\n")
    with pytest.raises(CmapssFormatError) as err:
        read_cycles(path)
    assert f"{path}:3:" in str(err.value)
    assert reason in str(err.value)


def test_rul_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "RUL_FD001.txt"
    path.write_text("112\n98\nseventy\n")
    with pytest.raises(CmapssFormatError, match=r"RUL_FD001\.txt:3: expected one non-negative"):
        read_rul(path)
    path.write_text("112\n98\n")
    with pytest.raises(CmapssFormatError, match="2 RUL values for 3 test units"):
        read_rul(path, n_units=3)


def test_missing_file_and_bad_subset_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CmapssFormatError, match=r"train_FD001\.txt: file not found"):
        load_subset(tmp_path, "FD001")
    with pytest.raises(CmapssFormatError, match="subset: expected a name like FD001"):
        load_subset(tmp_path, "FD1; drop")


def test_import_writes_engines_and_cycles_idempotently(settings: Settings, slice_dir: Path) -> None:
    first = import_cmapss(settings, slice_dir, "FD001")
    again = import_cmapss(settings, slice_dir, "FD001")
    assert (first.engines, first.cycles) == (again.engines, again.cycles) == (50, 8422)
    root = settings.lakehouse_root
    engines = DeltaTable(f"{root}/{ENGINES_TABLE}").to_pyarrow_dataset().to_table().to_pandas()
    cycles_ds = DeltaTable(f"{root}/{CYCLES_TABLE}").to_pyarrow_dataset()
    assert len(engines) == 50 and cycles_ds.count_rows() == 8422
    assert set(engines["component_type"]) == {"engine"}
    unit1 = engines.set_index("component_id").loc["CMAPSS-FD001-TEST-U001"]
    assert (unit1["split"], unit1["rul_at_last_cycle"], unit1["run_to_failure"]) == (
        "test",
        112,
        False,
    )
    # Test rows carry RUL from the file: the last cycle of test unit 1 has 112 left.
    rul = cycles_ds.to_table(columns=["component_id", "cycle", "rul"]).to_pandas()
    rul = rul.set_index(["component_id", "cycle"])["rul"]
    assert rul.loc[("CMAPSS-FD001-TEST-U001", 31)] == 112
    assert rul.loc[("CMAPSS-FD001-TRAIN-U001", 1)] == 191
    # Read back in the loader's layout, values exactly as in the files.
    back = read_cycles_table(settings, "FD001", "test")
    pd.testing.assert_frame_equal(back, load_subset(slice_dir, "FD001").test)


def test_reimport_replaces_only_that_subsets_rows(
    settings: Settings, slice_dir: Path, tmp_path: Path
) -> None:
    import_cmapss(settings, slice_dir, "FD001")
    # The same files under another subset name, then FD001 again with its test units cut to 5.
    other = tmp_path / "other"
    other.mkdir()
    for kind in ("train", "test", "RUL"):
        text = (slice_dir / f"{kind}_FD001.txt").read_text()
        (other / f"{kind}_FD002.txt").write_text(text)
        if kind == "test":
            text = "".join(ln for ln in text.splitlines(True) if int(ln.split()[0]) <= 5)
        elif kind == "RUL":
            text = "".join(text.splitlines(True)[:5])
        (other / f"{kind}_FD001.txt").write_text(text)
    import_cmapss(settings, other, "FD002")
    import_cmapss(settings, other, "FD001")
    engines = DeltaTable(f"{settings.lakehouse_root}/{ENGINES_TABLE}").to_pyarrow_dataset()
    counts = engines.to_table().to_pandas().groupby(["subset", "split"]).size().to_dict()
    assert counts == {
        ("FD001", "test"): 5,
        ("FD001", "train"): 30,
        ("FD002", "test"): 20,
        ("FD002", "train"): 30,
    }
    cycles = read_cycles_table(settings, "FD001", "test")
    assert sorted(cycles["unit"].unique()) == [1, 2, 3, 4, 5]


def test_cli_import_and_evaluate_on_a_slice(tmp_path: Path, slice_dir: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "data"
    imported = runner.invoke(app, ["--data-dir", str(data_dir), "import", "cmapss", str(slice_dir)])
    assert imported.exit_code == 0, imported.output
    assert "50 engines, 8422 cycles" in imported.output
    evaluated = runner.invoke(
        app,
        [
            *("--data-dir", str(data_dir), "evaluate", "cmapss", str(slice_dir)),
            *("--subset", "FD001", "--folds", "3", "--trees", "40", "--threads", "1"),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    for text in ("RMSE (vs RUL file)", "PHM08 score", "interval coverage", "90 %)"):
        assert text in evaluated.output
    assert f"{MODEL_NAME} version 1 (champion)" in evaluated.output
    settings = load_settings(None, data_dir=data_dir)
    with mlflow_session(settings) as client:
        version = client.get_model_version_by_alias(MODEL_NAME, "champion")
        metrics = client.get_run(version.run_id).data.metrics
    assert {"test_rmse", "test_phm08_score", "test_coverage", "cv_rmse"} <= metrics.keys()


def test_cli_reports_malformed_file_with_its_line(tmp_path: Path, slice_dir: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("train_FD001.txt", "test_FD001.txt", "RUL_FD001.txt"):
        (bad / name).write_text((slice_dir / name).read_text())
    lines = (bad / "test_FD001.txt").read_text().splitlines()
    lines[6] = " ".join(lines[6].split()[:-1])  # drop the last sensor of line 7
    (bad / "test_FD001.txt").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "data"), "import", "cmapss", str(bad)]
    )
    assert result.exit_code == 2
    assert "test_FD001.txt:7: expected 26 space-separated columns, got 25" in result.output
