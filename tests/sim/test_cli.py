"""`aerotwin simulate` and the demo's simulation step, through the real Typer app."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from aerotwin.cli import DEMO_FLEET, _demo_simulate, _sim_settings, app
from aerotwin.config import load_settings

runner = CliRunner()


def _run(tmp_path: Path, *args: str):
    return runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args])


def test_simulate_tiny_fleet(tmp_path: Path) -> None:
    result = _run(tmp_path, "simulate", "--aircraft", "3", "--days", "4", "--seed", "5",
                  "--start-date", "2026-03-01", "--bad-record-rate", "0.05")  # fmt: skip
    assert result.exit_code == 0, result.output
    landing = tmp_path / "data" / "landing"
    manifest = json.loads((landing / "_manifest" / "manifest.json").read_text())
    assert manifest["params"] == {
        "aircraft": 3, "days": 4, "seed": 5, "start_date": "2026-03-01", "bad_record_rate": 0.05,
    }  # fmt: skip
    days = sorted(p.name for p in (landing / "flights").iterdir())
    assert days == [f"date=2026-03-0{d}" for d in range(1, 5)]
    assert "telemetry_engine" in result.output and "failures" in result.output
    assert str(manifest["rows"]["telemetry_engine"]) in result.output.replace(",", "")
    # Four days of a new fleet: nothing failed and no check was due.
    assert manifest["failures"] == 0
    assert "days: 0 failures\n" in result.output and "maintenance events: none" in result.output


def test_negative_fleet_size_names_the_key(tmp_path: Path) -> None:
    result = _run(tmp_path, "simulate", "--aircraft", "-3")
    assert result.exit_code == 2
    assert "sim.aircraft" in result.output and "greater than or equal to 1" in result.output
    assert not (tmp_path / "data" / "landing").exists()


def test_bad_start_date_and_rate(tmp_path: Path) -> None:
    result = _run(tmp_path, "simulate", "--start-date", "2026-13-01")
    assert result.exit_code == 2 and "sim.start_date" in result.output
    result = _run(tmp_path, "simulate", "--bad-record-rate", "0.9")
    assert result.exit_code == 2 and "sim.bad_record_rate" in result.output


def test_unknown_airport_in_custom_reference(tmp_path: Path) -> None:
    folder = tmp_path / "ref"
    folder.mkdir()
    bundled = resources.files("aerotwin.sim").joinpath("data", "routes.csv")
    shutil.copyfile(str(bundled), folder / "routes.csv")
    text = (folder / "routes.csv").read_text().replace(",HNL,", ",QQQ,", 1)
    (folder / "routes.csv").write_text(text)
    result = _run(tmp_path, "simulate", "--aircraft", "2", "--days", "2",
                  "--reference-dir", str(folder))  # fmt: skip
    assert result.exit_code == 2
    assert "routes.csv" in result.output and "unknown airport" in result.output
    assert "'QQQ'" in result.output


def test_live_without_history_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "simulate", "--live", "--duration", "0.1")
    assert result.exit_code == 2
    assert "run `aerotwin simulate` first" in result.output.replace("\n", "")


def test_unreadable_state_is_a_one_line_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "simulate", "--aircraft", "2", "--days", "2")
    assert result.exit_code == 0, result.output
    state = tmp_path / "data" / "landing" / "_state" / "sim_state.json"
    state.write_text("")  # what a kill during a non-atomic write left
    result = _run(tmp_path, "simulate", "--live", "--duration", "0.1")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1
    assert str(state) in result.output and "unreadable" in result.output


def test_live_rate_must_be_positive(tmp_path: Path) -> None:
    result = _run(tmp_path, "simulate", "--live", "--rate", "0")
    assert result.exit_code == 2 and "sim.live_rate" in result.output


def test_demo_step_simulates_a_fleet(tmp_path: Path) -> None:
    # The demo's simulation step alone, on a smaller fleet than the demo's own.
    settings = load_settings(None, data_dir=tmp_path / "data")
    console = Console(record=True, width=120)
    _demo_simulate(settings, console, {"aircraft": 12, "days": 60})
    output = console.export_text()
    manifest = json.loads((settings.landing_dir / "_manifest" / "manifest.json").read_text())
    assert manifest["params"]["aircraft"] == 12 and manifest["params"]["days"] == 60
    assert "Injected bad records" in output and f"{manifest['failures']} failures" in output
    assert f"{manifest['rows']['flights']:,}" in output


def test_options_win_over_variables(tmp_path: Path) -> None:
    env = {"AEROTWIN_DATA_DIR": str(tmp_path / "envd"), "AEROTWIN_SIM__AIRCRAFT": "3"}
    args = ["--data-dir", str(tmp_path / "optd"), "simulate", "--aircraft", "2", "--days", "1"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    manifest = tmp_path / "optd" / "landing" / "_manifest" / "manifest.json"
    assert json.loads(manifest.read_text())["params"]["aircraft"] == 2
    assert not (tmp_path / "envd").exists()


def test_the_demo_fleet_is_the_demos_whatever_the_sim_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "aerotwin.toml").write_text("[sim]\naircraft = 5\ndays = 10\nseed = 7\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEROTWIN_SIM__AIRCRAFT", "6")
    demo = _sim_settings(load_settings(), DEMO_FLEET)
    assert (demo.sim.aircraft, demo.sim.days) == (200, 365)
    assert demo.sim.seed == 7  # the rest of [sim] still applies
