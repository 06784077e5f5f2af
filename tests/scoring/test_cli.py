"""The ML commands end to end: train, score, models list / promote / rollback."""

from __future__ import annotations

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from aerotwin.cli import app
from aerotwin.config import load_settings
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.ml.synthetic import synthetic_fleet
from aerotwin.ml.tracking import mlflow_session

pytestmark = pytest.mark.slow


def test_train_score_and_models_commands(tmp_path, monkeypatch) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("AEROTWIN_ML__TUNING_SECONDS", "0")
    monkeypatch.setenv("COLUMNS", "160")
    lake = Lakehouse.from_settings(load_settings(None, data_dir=data_dir))
    fleet = synthetic_fleet("avionics", aircraft=12, days=160, seed=4, components_per_aircraft=1)
    lake.write("features_avionics", pa.Table.from_pandas(fleet.features), "overwrite")
    lake.write("failures", pa.Table.from_pandas(fleet.failures), "overwrite")
    runner = CliRunner()
    base = ["--data-dir", str(data_dir)]

    bad = runner.invoke(app, [*base, "train", "--component-type", "wing"])
    assert bad.exit_code == 2 and "not one of" in bad.output
    # A skipped type is named once, then the reason (a KeyError's text unquoted).
    absent = runner.invoke(app, [*base, "train", "--component-type", "engine"])
    assert absent.exit_code == 1
    assert "skipped engine: feature table 'features_engine' does not exist" in absent.output
    missing = runner.invoke(app, [*base, "score"])
    assert missing.exit_code == 1, missing.output
    assert "avionics: never trained; run `aerotwin train" in missing.output

    for _ in range(2):
        trained = runner.invoke(app, [*base, "train", "--component-type", "avionics"])
        assert trained.exit_code == 0, trained.output
    assert "avionics v2: PR-AUC" in trained.output and "challenger" in trained.output

    scored = runner.invoke(app, [*base, "score"])
    assert scored.exit_code == 0, scored.output
    assert "Fleet risk: 12 components of 12 aircraft" in scored.output

    listed = runner.invoke(app, [*base, "models", "list"])
    rows = {
        r[1]: r[2]
        for r in (line.split() for line in listed.output.splitlines())
        if r and r[0] == "avionics"
    }
    assert set(rows) == {"1", "2"} and rows["2"].startswith("challenger"), listed.output
    promoted = runner.invoke(app, [*base, "models", "promote", "avionics", "2"])
    assert promoted.exit_code == 0 and "champion is now version 2 (was 1)" in promoted.output
    back = runner.invoke(app, [*base, "models", "rollback", "avionics"])
    assert back.exit_code == 0 and "champion is now version 1 (was 2)" in back.output
    unknown = runner.invoke(app, [*base, "models", "promote", "foo", "1"])
    assert unknown.exit_code == 2, unknown.output
    assert "unknown component type 'foo': one of engine" in unknown.output
    same = runner.invoke(app, [*base, "models", "promote", "avionics", "1"])
    assert same.exit_code == 0 and "version 1 is already champion" in same.output, same.output
    listed = runner.invoke(app, [*base, "models", "list"])
    rows = {
        r[1]: r for r in (ln.split() for ln in listed.output.splitlines()) if r[:1] == ["avionics"]
    }
    assert rows["2"][2] == "challenger" and rows["2"][4:6] == ["rolled", "back"], listed.output
    assert "restored by rollback" in " ".join(rows["1"]), listed.output
    nothing = runner.invoke(app, [*base, "models", "rollback", "avionics"])
    assert nothing.exit_code == 2 and "no earlier champion" in nothing.output

    # No champion left: score says why, a promotion says there was none before.
    with mlflow_session(load_settings(None, data_dir=data_dir)) as client:
        client.delete_registered_model_alias("aerotwin-avionics-risk", "champion")
    none = runner.invoke(app, [*base, "score"])
    assert none.exit_code == 1, none.output
    assert "avionics: no champion among v2 challenger, v1 no alias" in none.output
    assert "`aerotwin models promote avionics 2`" in none.output
    first = runner.invoke(app, [*base, "models", "promote", "avionics", "2"])
    assert first.exit_code == 0, first.output
    assert "champion is now version 2 (no champion before)" in first.output
