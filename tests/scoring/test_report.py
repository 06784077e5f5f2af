"""The fleet's risk summary that `aerotwin score` prints."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from aerotwin.scoring.batch import ScoringResult, aircraft_rollup
from aerotwin.scoring.report import risk_summary


def _shown(risks: list[float], alerts: list[bool]) -> list[list[str]]:
    ts = pd.Timestamp("2026-03-02", tz="UTC")
    components = pd.DataFrame(
        {
            "aircraft_id": [f"N{i:03d}AT" for i in range(len(risks))],
            "component_id": [f"N{i:03d}AT-ENG1" for i in range(len(risks))],
            "component_type": "engine",
            "scored_ts": ts,
            "risk_score": risks,
            "predicted_alert": alerts,
            "anomaly_score": 0.5,
        }
    )
    result = ScoringResult("r1", ts, components, aircraft_rollup(components), pd.DataFrame())
    console = Console(width=80, record=True)
    console.print(risk_summary(result))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    return [line.split() for line in text.splitlines() if line.startswith("N")]


def test_a_small_alerting_risk_is_not_shown_as_zero() -> None:
    # A champion whose threshold is 0.0003 alerts on a score of 0.00035.
    rows = _shown([0.00035, 0.8734, 0.0000123, 0.0], [True, True, False, False])
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("N001AT", "0.873", "1"),
        ("N000AT", "0.00035", "1"),
        ("N002AT", "1.23e-05", "0"),
        ("N003AT", "0", "0"),
    ]
