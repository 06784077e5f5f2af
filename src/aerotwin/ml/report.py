"""Rich tables for `aerotwin train` and `aerotwin models list`."""

from __future__ import annotations

import datetime as dt
import math

from rich.table import Table

from aerotwin.ml.registry import VersionInfo
from aerotwin.ml.train_job import TrainReport


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def training_table(reports: list[TrainReport]) -> Table:
    """One row per trained component type: version, decision and holdout metrics."""
    table = Table(title="Risk models (holdout: aircraft and days never trained on)")
    for name in ("type", "version", "alias", "PR-AUC", "rule PR-AUC", "ROC-AUC"):
        table.add_column(name, justify="left" if name in ("type", "alias") else "right")
    for name in ("recall", "precision", "lead days", "train s"):
        table.add_column(name, justify="right")
    for r in reports:
        h = r.holdout
        decision = "champion" if r.decision.promoted else "challenger"
        table.add_row(
            r.component_type,
            str(r.version),
            decision,
            _fmt(h.get("pr_auc")),
            _fmt(r.baseline_pr_auc),
            _fmt(h.get("roc_auc")),
            _fmt(h.get("recall"), 2),
            _fmt(h.get("precision"), 2),
            _fmt(h.get("median_lead_days"), 1),
            f"{r.train_seconds:.1f}",
        )
    return table


def decision_lines(reports: list[TrainReport]) -> list[str]:
    """Why each new version did or did not become champion."""
    return [f"{r.component_type} v{r.version}: {r.decision.reason}" for r in reports]


def models_table(versions: list[VersionInfo]) -> Table:
    """Every registered risk model version with its aliases and holdout PR-AUC."""
    table = Table(title="Registered risk models")
    for name in ("model", "version", "aliases", "holdout PR-AUC", "decision", "created (UTC)"):
        table.add_column(name)
    for v in versions:
        created = dt.datetime.fromtimestamp(v.created_ms / 1000, dt.UTC)
        table.add_row(
            v.name,
            str(v.version),
            ", ".join(v.aliases) or "-",
            _fmt(v.holdout_pr_auc),
            v.decision or "-",
            created.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table
