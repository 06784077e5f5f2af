"""The fleet's risk summary printed by `aerotwin score` and the demo."""

from __future__ import annotations

from rich.table import Table

from aerotwin.ml.report import COMPACT
from aerotwin.scoring.batch import ScoringResult


def risk_summary(result: ScoringResult, top: int = 10) -> Table:
    """The riskiest aircraft: worst component, its risk, alert and anomaly figures (80 columns)."""
    comp = result.components
    alerts = int(comp["predicted_alert"].sum())
    per_type = comp.groupby("component_type")["predicted_alert"].sum().astype(int).to_dict()
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(per_type.items()))
    table = Table(
        title=f"Fleet risk: {len(comp)} components of {comp['aircraft_id'].nunique()} aircraft, "
        f"{alerts} predicted alerts",
        caption=f"alerts by type: {by_type}\nrisk: probability of failure within the horizon "
        "(champion models); anomaly: unusual readings, about 0.5 is ordinary",
        **COMPACT,
    )
    for name in ("aircraft", "risk", "worst component", "type", "alerts", "anomaly"):
        table.add_column(name, justify="right" if name in ("risk", "alerts", "anomaly") else "left")
    for row in result.aircraft.head(top).itertuples():
        table.add_row(
            str(row.aircraft_id),
            # 3 significant digits: a risk above a small threshold (0.00035) never reads 0.000.
            f"{row.max_risk_score:.3g}",
            str(row.worst_component_id),
            str(row.worst_component_type),
            str(row.predicted_alerts),
            f"{row.max_anomaly_score:.3f}",
        )
    return table
