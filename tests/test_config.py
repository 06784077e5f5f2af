from pathlib import Path

import pytest

from aerotwin.config import SettingsError, load_settings, with_section


def test_toml_file_and_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('data_dir = "x"\n[sim]\naircraft = 7\ndays = 3\n')
    monkeypatch.setenv("AEROTWIN_SIM__DAYS", "9")
    s = load_settings(cfg)
    assert s.data_dir == tmp_path / "x"  # relative to the file's folder
    assert s.sim.aircraft == 7
    assert s.sim.days == 9  # environment wins over the file


def test_bad_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text("[sim]\naircraft = -3\ncolour = 'red'\n")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg)
    message = str(err.value)
    assert "sim.aircraft" in message and "greater than or equal to 1" in message
    assert "sim.colour: unknown key" in message


def test_with_section_validates(tmp_path: Path) -> None:
    s = load_settings(None, data_dir=tmp_path)
    assert with_section(s, "sim", aircraft=3).sim.aircraft == 3
    with pytest.raises(SettingsError, match=r"sim\.aircraft"):
        with_section(s, "sim", aircraft=-1)


def test_a_folder_deltalake_cannot_use_is_refused_by_name(tmp_path: Path) -> None:
    assert load_settings(None, data_dir=tmp_path / "fleet data é").lakehouse_root
    with pytest.raises(SettingsError, match=r"data_dir: deltalake cannot .*fleet#2/data.*'#'"):
        load_settings(None, data_dir=tmp_path / "fleet#2" / "data")
    with pytest.raises(SettingsError, match=r"lakehouse.root: .* holds '%41'"):
        load_settings(None, data_dir=tmp_path, lakehouse={"root": "file:///srv/lake%41"})
    # An object store's URI is deltalake's to read.
    s3 = load_settings(None, data_dir=tmp_path, lakehouse={"root": "s3://bucket/a?b"})
    assert s3.lakehouse_root == "s3://bucket/a?b"


def test_a_bad_value_names_the_variable_that_gave_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text("[sim]\naircraft = 5\ndays = 0\n")
    monkeypatch.setenv("AEROTWIN_SIM__AIRCRAFT", "-1")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg)
    assert "sim.aircraft: Input should be greater than or equal to 1 (got '-1', from " \
        "AEROTWIN_SIM__AIRCRAFT)" in str(err.value)  # fmt: skip
    assert f"sim.days: Input should be greater than or equal to 1 (got 0, from {cfg})" in str(
        err.value
    )


def test_a_variable_that_sets_no_key_or_holds_no_json_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEROTWIN_PIPELINE_WORKERS", "0")  # one underscore: no key
    monkeypatch.setenv("AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS__AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AEROTWIN_IVY_DIR", str(tmp_path))
    with pytest.raises(SettingsError, match=r"  AEROTWIN_PIPELINE_WORKERS: unknown variable\n"):
        load_settings(None, data_dir=tmp_path)
    monkeypatch.delenv("AEROTWIN_PIPELINE_WORKERS")
    # An entry of a mapping is a key too (pydantic-settings lowers the variable's case).
    options = load_settings(None, data_dir=tmp_path).lakehouse.storage_options
    assert options == {"aws_region": "eu-west-1"}
    monkeypatch.setenv("AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS", "notjson")
    with pytest.raises(SettingsError, match=r"a JSON object, e\.g\. AEROTWIN_LAKEHOUSE__STORAGE"):
        load_settings(None, data_dir=tmp_path)


def test_relative_paths_in_a_settings_file_are_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "aerotwin.toml").write_text(
        'data_dir = "data"\n[sim]\nreference_dir = "ref"\n[lakehouse]\nroot = "lake"\n'
        '[twin]\nrules_file = "rules.yaml"\n'
        '[ml]\ntracking_uri = "sqlite:///ml/mlflow.db"\nregistry_uri = "databricks-uc"\n'
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    cfg = Path("../conf/aerotwin.toml")
    s = load_settings(cfg)
    assert s.data_dir == conf / "data" and s.sim.reference_dir == conf / "ref"
    assert s.lakehouse_root == str(conf / "lake") and s.twin.rules_file == conf / "rules.yaml"
    assert s.mlflow_tracking_uri == f"sqlite:///{conf}/ml/mlflow.db"
    assert s.ml.registry_uri == "databricks-uc"  # not a path
    assert s.origin("twin.rules_file") == str(cfg) and s.origin("sim.aircraft") == "the defaults"
    # From a variable or an option: relative to the working directory, as typed.
    monkeypatch.setenv("AEROTWIN_TWIN__RULES_FILE", "mine.yaml")
    s = load_settings(cfg, data_dir=Path("d"))
    assert s.twin.rules_file == Path("mine.yaml") and s.data_dir == Path("d")
    assert s.origin("twin.rules_file") == "AEROTWIN_TWIN__RULES_FILE"
    assert s.origin("data_dir") == "command-line options"
    s = with_section(s, "sim", reference_dir=Path("r"))
    assert (
        s.sim.reference_dir == Path("r") and s.origin("sim.reference_dir") == "command-line options"
    )
    assert s.origin("twin.rules_file") == "AEROTWIN_TWIN__RULES_FILE"
    # An object store's root and an absolute path are left as they are.
    (conf / "aerotwin.toml").write_text(
        f'data_dir = "{tmp_path}"\n[lakehouse]\nroot = "s3://b/x"\n'
    )
    s = load_settings(cfg)
    assert s.data_dir == tmp_path and s.lakehouse_root == "s3://b/x"


def test_options_win_over_variables_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('data_dir = "filed"\n[sim]\naircraft = 7\ndays = 3\nseed = 1\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEROTWIN_DATA_DIR", "envd")
    monkeypatch.setenv("AEROTWIN_SIM__AIRCRAFT", "9")
    monkeypatch.setenv("AEROTWIN_SIM__DAYS", "8")
    monkeypatch.setenv("AEROTWIN_PIPELINE__LOCK_WAIT_S", "0")
    s = load_settings(cfg, data_dir=Path("optd"), sim={"aircraft": 4})
    # defaults < file < variables < options, key by key within a section
    assert s.data_dir == Path("optd") and s.origin("data_dir") == "command-line options"
    assert s.sim.aircraft == 4 and s.origin("sim.aircraft") == "command-line options"
    assert s.sim.days == 8 and s.origin("sim.days") == "AEROTWIN_SIM__DAYS"
    assert s.sim.seed == 1 and s.origin("sim.seed") == str(cfg)
    # An option applied later (a command's own) wins too; the variables are not read again.
    waiting = with_section(s, "pipeline", lock_wait_s=60)
    assert waiting.pipeline.lock_wait_s == 60 and waiting.sim.aircraft == 4
    assert waiting.origin("pipeline.lock_wait_s") == "command-line options"
    assert with_section(s, "sim", days=2).sim.days == 2
    assert with_section(s, "sim", seed=None).sim.days == 8  # an option not given changes nothing
    # A bad option is named as an option, whatever a variable says about the same key.
    with pytest.raises(SettingsError) as err:
        with_section(s, "sim", aircraft=-1)
    assert "sim.aircraft: Input should be greater than or equal to 1 (got -1, from " \
        "command-line options)" in str(err.value)  # fmt: skip
    with pytest.raises(SettingsError, match=r"sim\.aircraft: .* \(got 0, from command-line opt"):
        load_settings(cfg, sim={"aircraft": 0})
