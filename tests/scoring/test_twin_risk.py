"""Risk in the twin views: scoring refreshes them through their declarations; reruns keep it.

A copy of the small simulated fleet, every table built by the pipeline, gets made-up engine
failures in its landing zone (30 simulated days hold too few to train on), so a real
champion is trained and registered; `score` then writes the risk tables and the runner
rebuilds the views that read them.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from aerotwin.cli import app
from aerotwin.config import Settings, load_settings, with_section
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.run_lock import LakehouseBusy, exclusive_run
from aerotwin.ml.train_job import train_all
from aerotwin.pipeline.runner import run_pipeline
from aerotwin.scoring.batch import score, score_readers
from aerotwin.scoring.whatif import champion_scorer
from aerotwin.twin import risk_tables
from aerotwin.twin.risk_tables import COMPONENT_SCORES
from aerotwin.twin.views import COMPONENT_VIEW, ENGINE_VIEW, SUMMARY
from aerotwin.twin.whatif import what_if

pytestmark = [
    pytest.mark.slow,
    # The anomaly detector's sample size (256) exceeds this tiny fleet's training rows.
    pytest.mark.filterwarnings("ignore:max_samples .* greater than the total:UserWarning"),
]
HEADER = (
    "failure_id,failure_ts,failure_date,aircraft_id,component_id,component_type,serial,"
    "failure_mode,sudden,flight_id,hours_since_new,cycles_since_new"
)


def rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    return query(Lakehouse.from_settings(settings), sql).to_pylist()


def _land_failures(settings: Settings) -> int:
    """Engine failures on days 6 to 27 (each engine two or four times), as a landing file."""
    engines = rows(
        settings,
        "SELECT component_id, aircraft_id, serial FROM components "
        "WHERE component_type = 'engine' ORDER BY component_id",
    )
    lines = [HEADER]
    for i, e in enumerate(engines):
        for day in (6, 12, 22, 27) if i % 2 == 0 else (9, 24):
            ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day, hours=12)
            lines.append(
                f"FT-{i:03d}-{day:02d},{ts:%Y-%m-%dT%H:%M:%SZ},{ts:%Y-%m-%d},{e['aircraft_id']},"
                f"{e['component_id']},engine,{e['serial']},made_up,false,,100.0,50"
            )
    target = settings.landing_dir / "failures" / "date=2026-01-30" / "part-99999.csv"
    target.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


@pytest.fixture(scope="module")
def scored(gold_fleet: Settings, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("twin_risk") / "data"
    shutil.copytree(gold_fleet.data_dir, data_dir)
    base = load_settings(None, data_dir=data_dir)
    # A short horizon and a large held-out share: 30 days and 6 aircraft still split.
    ml = {"tuning_seconds": 0, "horizon_days": 3, "holdout_aircraft_share": 0.8}
    settings = with_section(base, "ml", **ml)
    landed = _land_failures(settings)
    run_pipeline(settings)
    assert rows(settings, "SELECT count(*) AS n FROM failures WHERE failure_mode = 'made_up'") == [
        {"n": landed}
    ]
    (report,) = train_all(settings, ["engine"])
    assert report.decision.promoted
    return settings, report, score(settings)


def _view(settings: Settings) -> pd.DataFrame:
    frame = pd.DataFrame(rows(settings, f"SELECT * FROM {COMPONENT_VIEW}"))
    return frame.set_index("component_id")


def test_scoring_refreshes_the_views_from_the_latest_scores(scored) -> None:  # type: ignore[no-untyped-def]
    settings, report, result = scored
    assert {COMPONENT_VIEW, ENGINE_VIEW, SUMMARY} <= set(result.versions)
    scores = result.components.set_index("component_id")
    view = _view(settings)
    engines = view[view["component_type"] == "engine"]
    assert sorted(engines.index) == sorted(scores.index) and len(engines) > 0
    assert engines["risk_score"].to_dict() == pytest.approx(scores["risk_score"].to_dict())
    assert engines["predicted_alert"].to_dict() == scores["predicted_alert"].to_dict()
    assert set(engines["model_version"]) == {report.version}
    assert (engines["risk_scored_ts"] == result.scored_ts).all()
    assert view[view["component_type"] != "engine"]["risk_score"].isna().all()
    engine_view = rows(settings, f"SELECT component_id, risk_score FROM {ENGINE_VIEW}")
    assert {e["component_id"]: e["risk_score"] for e in engine_view} == pytest.approx(
        scores["risk_score"].to_dict()
    )
    summary = {r["aircraft_id"]: r for r in rows(settings, f"SELECT * FROM {SUMMARY}")}
    per_aircraft = scores.groupby("aircraft_id").agg(
        risk=("risk_score", "max"), alerts=("predicted_alert", "sum")
    )
    assert set(summary) == set(per_aircraft.index)
    for aircraft, expected in per_aircraft.iterrows():
        assert summary[aircraft]["max_risk_score"] == pytest.approx(expected["risk"])
        assert summary[aircraft]["predicted_alert_count"] == expected["alerts"]


def test_risk_survives_pipeline_runs_and_a_full_refresh(scored) -> None:  # type: ignore[no-untyped-def]
    settings, _, _ = scored
    before = _view(settings)[["risk_score", "model_version", "risk_scored_ts"]]
    assert before["risk_score"].notna().any()
    assert run_pipeline(settings).changed == []
    # A full refresh of the score tables and their readers: scores kept, views rebuilt.
    declared = [*risk_tables.tables(), *score_readers(settings)]
    full = run_pipeline(settings, full_refresh=True, tables=declared)
    assert {t.table_name for t in full.changed} == {COMPONENT_VIEW, ENGINE_VIEW, SUMMARY}
    after = _view(settings)[["risk_score", "model_version", "risk_scored_ts"]]
    pd.testing.assert_frame_equal(after.sort_index(), before.sort_index())
    (summary,) = rows(
        settings, f"SELECT count(*) AS n, count(max_risk_score) AS risk FROM {SUMMARY}"
    )
    assert summary["risk"] == summary["n"] > 0  # every aircraft has scored engines


def test_the_views_follow_the_newest_scoring_run(scored) -> None:  # type: ignore[no-untyped-def]
    settings, _, first = scored
    second = score(settings)
    assert second.scored_ts > first.scored_ts
    (runs,) = rows(settings, f"SELECT count(DISTINCT run_id) AS n FROM {COMPONENT_SCORES}")
    assert runs["n"] >= 2
    engines = _view(settings).query("component_type == 'engine'")
    assert (engines["risk_scored_ts"] == second.scored_ts).all()


def test_scoring_stops_or_waits_while_another_run_holds_the_lakehouse(  # type: ignore[no-untyped-def]
    scored, lock_held_for
) -> None:
    settings, _, _ = scored
    lake = Lakehouse.from_settings(settings)
    versions = {name: lake.version(name) for name in lake.names()}
    cli = ["--data-dir", str(settings.data_dir), "score"]
    with exclusive_run(lake, "pipeline run holder00score"):
        with pytest.raises(LakehouseBusy, match=r"\(pipeline run holder00score, process"):
            score(settings)
        no_wait = {"AEROTWIN_PIPELINE__LOCK_WAIT_S": "0"}  # the option wins over the variable
        shown = CliRunner().invoke(app, [*cli, "--wait", "0.3"], env=no_wait)
    assert shown.exit_code == 1, shown.output
    assert "waiting up to 0.3 s for pipeline run holder00score" in shown.output
    assert "scoring stopped: lakehouse " in shown.output and "after waiting 0.3 s" in shown.output
    assert "Traceback" not in shown.output
    assert {name: lake.version(name) for name in lake.names()} == versions  # nothing written

    with lock_held_for(lake, "pipeline run holder01score", 0.5):
        started = time.monotonic()
        # The views' refresh runs under the lock score holds, without taking it a second time.
        result = score(with_section(settings, "pipeline", lock_wait_s=30))
        assert time.monotonic() - started >= 0.5
    assert {COMPONENT_VIEW, ENGINE_VIEW, SUMMARY} <= set(result.versions)
    engines = _view(settings).query("component_type == 'engine'")
    assert (engines["risk_scored_ts"] == result.scored_ts).all()


def test_whatif_reports_risk_before_and_after_from_the_champion(scored) -> None:  # type: ignore[no-untyped-def]
    settings, _, _ = scored
    lake = Lakehouse.from_settings(settings)
    versions = {name: lake.version(name) for name in lake.names()}
    engine = _view(settings).query("component_type == 'engine'").sort_index().iloc[0]
    result = what_if(
        settings,
        engine["aircraft_id"],
        engine.name,
        ["vibration_ips=2.5", "egt_c=+40"],
        scorer=champion_scorer(settings),
    )
    # Before: the latest state the batch scored, recomputed in memory, scores the same.
    assert result.risk_before == pytest.approx(engine["risk_score"])
    assert result.risk_after is not None and 0 <= result.risk_after <= 1
    assert result.after["component_health_status"] == "Critical"
    base = ["--data-dir", str(settings.data_dir), "whatif", engine["aircraft_id"], engine.name]
    shown = CliRunner().invoke(
        app, [*base, "--set", "vibration_ips=2.5", "--set", "egt_c=+40"], env={"COLUMNS": "160"}
    )
    assert shown.exit_code == 0, shown.output
    (line,) = [x for x in shown.output.splitlines() if "risk_score" in x]
    assert f"{result.risk_before:,.4g}" in line and f"{result.risk_after:,.4g}" in line
    assert {name: lake.version(name) for name in lake.names()} == versions
