"""End to end on the small simulated fleet: gold tables, twin views, what-if, rules, ERD."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aerotwin.cli import app
from aerotwin.config import Settings, load_settings, with_section
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.runner import run_pipeline
from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.twin import erd
from aerotwin.twin.gold import pipeline_tables
from aerotwin.twin.health import health_table
from aerotwin.twin.rules import bundled_rules_path, load_rules
from aerotwin.twin.views import COMPONENT_VIEW, ENGINE_VIEW, SUMMARY
from aerotwin.twin.whatif import WhatIfError, what_if

ROOT = Path(__file__).resolve().parents[2]


def rows(settings: Settings, sql: str) -> list[dict]:
    return query(Lakehouse.from_settings(settings), sql).to_pylist()


def test_twin_view_has_exactly_one_row_per_component(gold_fleet: Settings) -> None:
    (counts,) = rows(
        gold_fleet,
        f"SELECT (SELECT count(*) FROM components) AS components, count(*) AS n, "
        f"count(DISTINCT component_id) AS ids, count(component_health_status) AS with_status "
        f"FROM {COMPONENT_VIEW}",
    )
    assert counts["n"] == counts["ids"] == counts["components"] > 0
    assert counts["with_status"] == counts["n"]  # every component has readings in 30 days
    engines = rows(gold_fleet, f"SELECT component_id, fuel_efficiency FROM {ENGINE_VIEW}")
    (n_engines,) = rows(
        gold_fleet, "SELECT count(*) AS n FROM components WHERE component_type = 'engine'"
    )
    assert len(engines) == len({e["component_id"] for e in engines}) == n_engines["n"]
    assert all(e["fuel_efficiency"] is not None for e in engines)


def test_every_aircraft_is_in_the_summary_with_its_worst_component(gold_fleet: Settings) -> None:
    summary = rows(gold_fleet, f"SELECT * FROM {SUMMARY}")
    aircraft = rows(gold_fleet, "SELECT aircraft_id, model FROM aircraft")
    assert sorted(s["aircraft_id"] for s in summary) == sorted(a["aircraft_id"] for a in aircraft)
    view = rows(gold_fleet, f"SELECT aircraft_id, component_id, health_level FROM {COMPONENT_VIEW}")
    for s in summary:
        mine = [v for v in view if v["aircraft_id"] == s["aircraft_id"]]
        worst = max(v["health_level"] for v in mine)
        assert s["alert_count"] == sum(v["health_level"] >= 1 for v in mine)
        assert s["worst_component_id"] in {
            v["component_id"] for v in mine if v["health_level"] == worst
        }
        assert s["engine_health_status"] in ("Nominal", "Warning", "Critical")
        assert s["last_maintenance_date"] is None or s["last_maintenance_date"].year == 2026


def test_health_tables_cover_every_reading(gold_fleet: Settings) -> None:
    for ct in COMPONENT_TYPES:
        (n,) = rows(
            gold_fleet,
            f"SELECT (SELECT count(*) FROM features_{ct}) AS f, count(*) AS h, "
            f"count(DISTINCT rules_version) AS versions FROM {health_table(ct)}",
        )
        assert n["f"] == n["h"] > 0 and n["versions"] == 1, ct


def test_views_show_the_part_installed_by_the_latest_replacement(gold_fleet: Settings) -> None:
    latest = """SELECT component_id, new_serial, event_date FROM (
      SELECT *, row_number() OVER (PARTITION BY component_id ORDER BY event_ts DESC) AS n
      FROM maintenance_events WHERE event_type = 'replacement') WHERE n = 1"""
    replaced = {r["component_id"]: r for r in rows(gold_fleet, latest)}
    assert replaced  # the fleet replaces parts within 30 days
    reference = {r["component_id"]: r for r in rows(gold_fleet, "SELECT * FROM components")}
    for view in (COMPONENT_VIEW, ENGINE_VIEW):
        for v in rows(gold_fleet, f"SELECT * FROM {view}"):
            r, c = replaced.get(v["component_id"]), reference[v["component_id"]]
            assert v["serial"] == (r["new_serial"] if r else c["serial"]), view
            if view == COMPONENT_VIEW:
                assert v["install_date"] == (r["event_date"] if r else c["install_date"])


def versions(settings: Settings) -> dict[str, int | None]:
    lake = Lakehouse.from_settings(settings)
    return {name: lake.version(name) for name in lake.names()}


def nominal_engine(settings: Settings) -> tuple[str, str]:
    (row,) = rows(
        settings,
        f"SELECT aircraft_id, component_id FROM {COMPONENT_VIEW} WHERE component_type = 'engine' "
        "AND component_health_status = 'Nominal' ORDER BY component_id LIMIT 1",
    )
    return row["aircraft_id"], row["component_id"]


def test_whatif_writes_nothing_and_crosses_the_threshold(gold_fleet: Settings) -> None:
    before = versions(gold_fleet)
    tail, component = nominal_engine(gold_fleet)
    slot = component.removeprefix(f"{tail}-")
    crossed = what_if(gold_fleet, tail, slot, ["vibration_ips=2.5"])
    assert crossed.component_id == component
    assert crossed.before["component_health_status"] == "Nominal"
    assert crossed.after["component_health_status"] == "Critical"
    assert crossed.after["rules_fired"] == "vibration_high"
    assert (crossed.before["vibration_ips"], crossed.after["vibration_ips"]) != (2.5, 2.5)
    assert crossed.after["vibration_ips"] == 2.5
    rule = next(r for r in load_rules().rules if r.id == "vibration_high")
    just_below = what_if(gold_fleet, tail, component, [f"vibration_ips={rule.warning - 0.01}"])
    assert just_below.after["component_health_status"] == "Nominal"
    relative = what_if(gold_fleet, tail, component, ["egt_c=+0", "oil_pressure_psi=-0%"])
    assert relative.after == relative.before
    seen: list[str] = []
    scored = what_if(
        gold_fleet, tail, component, ["vibration_ips=2.5"],
        scorer=lambda ct, row: seen.append(ct) or float(row.column("vibration_ips")[0].as_py()),
    )  # fmt: skip
    assert seen == ["engine", "engine"] and scored.risk_after == 2.5
    assert versions(gold_fleet) == before


@pytest.mark.parametrize(
    ("tail", "component", "override", "message"),
    [
        ("N999XX", "ENG1", "egt_c=+1", "unknown aircraft 'N999XX'"),
        (None, "ENG7", "egt_c=+1", "unknown component 'ENG7'"),
        (None, "engine", "egt_c=+1", "is ambiguous"),
        (None, "landing_gear", "egt_c=+1", "unknown sensor 'egt_c' for landing_gear"),
        (None, "ENG1", "egt=+1", "unknown sensor 'egt'"),
        (None, "ENG1", "egt_c=hot", "expected SENSOR=VALUE"),
        (None, "ENG1", "vibration_ips=+50", "outside its physical range"),
        (None, "AVN", "error_count=2.5", "error_count counts whole units and would be 2.5"),
    ],
)
def test_whatif_names_what_is_unknown(
    gold_fleet: Settings, tail: str | None, component: str, override: str, message: str
) -> None:
    aircraft = tail or nominal_engine(gold_fleet)[0]
    with pytest.raises(WhatIfError, match=message):
        what_if(gold_fleet, aircraft, component, [override])


def test_whatif_command_writes_nothing_and_prints_no_library_logs(
    gold_fleet: Settings, tmp_path: Path
) -> None:
    """A lakehouse and no MLflow store: whatif creates none (no champion, no risk), nor
    anything else, and its output is its table alone (MLflow logged INFO lines creating one)."""
    data_dir = tmp_path / "data"
    shutil.copytree(gold_fleet.data_dir / "lakehouse", data_dir / "lakehouse")
    before = sorted(tmp_path.rglob("*"))
    tail, component = nominal_engine(gold_fleet)
    done = subprocess.run(
        [sys.executable, "-c", "from aerotwin.cli import app; app()", "--data-dir",
         str(data_dir), "whatif", tail, component, "--set", "vibration_ips=2.5"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "vibration_high" in done.stdout and "nothing written" in done.stdout
    assert done.stderr == "" and "INFO" not in done.stdout
    assert sorted(tmp_path.rglob("*")) == before


def test_whatif_command(gold_fleet: Settings) -> None:
    tail, component = nominal_engine(gold_fleet)
    runner = CliRunner()
    args = ["--data-dir", str(gold_fleet.data_dir), "whatif", tail, component]
    ok = runner.invoke(app, [*args, "--set", "vibration_ips=2.5", "--set", "egt_c=+20"])
    assert ok.exit_code == 0, ok.output
    assert "Critical" in ok.output and "vibration_high" in ok.output
    bad = runner.invoke(app, [*args, "--set", "egt_f=+20"])
    assert bad.exit_code == 2
    assert "unknown sensor 'egt_f'" in bad.output


def test_editing_a_threshold_and_rerunning_changes_the_statuses(
    gold_fleet: Settings, tmp_path: Path
) -> None:
    shutil.copytree(gold_fleet.data_dir, tmp_path / "data")
    base = load_settings(None, data_dir=tmp_path / "data")
    text = bundled_rules_path().read_text()
    edited = text.replace(
        "    warning: 0.6\n    critical: 0.8\n", "    warning: 0.01\n    critical: 0.02\n"
    )
    assert edited.count("warning: 0.01") == 1  # fatigue_high only; the version is unchanged
    (tmp_path / "rules.yaml").write_text(edited)
    settings = with_section(base, "twin", rules_file=tmp_path / "rules.yaml")
    airframe = health_table("airframe")
    fired = f"SELECT count(*) AS n FROM {airframe} WHERE rules_fired LIKE '%fatigue_high%'"
    assert rows(settings, fired)[0]["n"] == 0  # bundled thresholds: no airframe is fatigued

    result = run_pipeline(settings, tables=pipeline_tables(settings))  # no --full-refresh
    changed = {t.table_name: t for t in result.changed}
    assert set(changed) == {airframe, COMPONENT_VIEW, SUMMARY}
    assert changed[airframe].refresh == "full" and "definition changed" in changed[airframe].message
    (stored,) = rows(
        settings,
        f"SELECT count(*) AS n, count(*) FILTER (WHERE rules_fired LIKE '%fatigue_high%') AS hit, "
        f"(SELECT count(*) FROM features_airframe) AS readings FROM {airframe}",
    )
    assert stored["n"] == stored["readings"] and stored["hit"] > 0
    view = rows(
        settings,
        f"SELECT component_health_status AS s, rules_fired FROM {COMPONENT_VIEW} "
        "WHERE component_type = 'airframe'",
    )
    assert view and all(v["s"] == "Critical" and "fatigue_high" in v["rules_fired"] for v in view)

    again = run_pipeline(settings, tables=pipeline_tables(settings))
    assert again.changed == []


def test_full_refresh_of_gold_needs_no_raw_records(gold_fleet: Settings, tmp_path: Path) -> None:
    shutil.copytree(gold_fleet.data_dir, tmp_path / "data")
    settings = load_settings(None, data_dir=tmp_path / "data")
    declared = pipeline_tables(settings)
    assert not [t.name for t in declared if t.layer == "gold" and "__raw" in (t.sql or "")]
    views = [t for t in declared if t.name in (ENGINE_VIEW, COMPONENT_VIEW, SUMMARY)]
    count = "SELECT table_name, count(*) AS n FROM quarantine GROUP BY ALL ORDER BY ALL"
    before = rows(settings, count)
    result = run_pipeline(settings, full_refresh=True, tables=views)
    assert {t.table_name for t in result.changed} == {ENGINE_VIEW, COMPONENT_VIEW, SUMMARY}
    assert all(t.refresh == "full" for t in result.changed)
    assert before and rows(settings, count) == before  # silver's quarantined rows untouched


def test_committed_erd_is_up_to_date(gold_fleet: Settings) -> None:
    entities = erd.build_entities(Lakehouse.from_settings(gold_fleet), pipeline_tables(gold_fleet))
    names = {e.name for e in entities}
    assert {SUMMARY, COMPONENT_VIEW, "features_engine", "pipeline_events"} <= names
    hint = "run `aerotwin --data-dir <a built lakehouse> docs erd` and commit docs/ and README.md"
    assert (ROOT / "docs" / "data_model.md").read_text() == erd.page(entities), hint
    readme = (ROOT / "README.md").read_text()
    assert erd.readme_section(readme, entities) == readme, hint


def test_docs_erd_stops_at_a_root_without_readme(gold_fleet: Settings, tmp_path: Path) -> None:
    root = tmp_path / "nonexistent"
    args = ["--data-dir", str(gold_fleet.data_dir), "docs", "erd", "--root", str(root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "no README.md here" in result.output
    assert not root.exists()
