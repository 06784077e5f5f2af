"""Rich tables for `aerotwin train` and `aerotwin models list`."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from rich import box
from rich.table import Table

from aerotwin.ml.registry import VersionInfo
from aerotwin.ml.train_job import TrainReport

# No borders, one space between columns: the widest table still fits 80 columns.
COMPACT: dict[str, Any] = {
    "box": box.SIMPLE_HEAD,
    "show_edge": False,
    "padding": (0, 1),
    "collapse_padding": True,
    "pad_edge": False,
}


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def training_table(reports: list[TrainReport]) -> Table:
    """One row per trained component type: version, alias and holdout metrics (fits 80 columns).

    PR-AUC is the model's on the holdout, "rules" the rule status's PR-AUC on the same
    snapshots; recall, precision and lead days are at the model's stored threshold.
    """
    table = Table(
        title="Risk models on the holdout (aircraft and days never trained on)",
        caption="rules: PR-AUC of the health status; lead: median days of warning;\n"
        "caught: holdout failures with an alert before them / all holdout failures",
        **COMPACT,
    )
    table.add_column("type")
    table.add_column("v", justify="right")
    table.add_column("alias")
    for name in ("PR-AUC", "rules", "recall", "prec.", "lead", "caught"):
        table.add_column(name, justify="right")
    for r in reports:
        h = r.holdout
        table.add_row(
            r.component_type,
            str(r.version),
            "champion" if r.decision.promoted else "challenger",
            _fmt(h.get("pr_auc"), 2),
            _fmt(r.baseline_pr_auc, 2),
            _fmt(h.get("recall"), 2),
            _fmt(h.get("precision"), 2),
            _fmt(h.get("median_lead_days"), 1),
            f"{int(h.get('failures_caught', 0))}/{int(h.get('failures', 0))}",
        )
    return table


def decision_lines(reports: list[TrainReport]) -> list[str]:
    """Why each new version did or did not become champion."""
    lines = []
    for r in reports:
        outcome = "champion" if r.decision.promoted else "stays challenger"
        lines.append(f"{r.component_type} v{r.version}: {r.decision.reason} -> {outcome}")
    return lines


def models_table(versions: list[VersionInfo]) -> Table:
    """Every registered risk model version with its aliases and holdout PR-AUC."""
    table = Table(title="Registered risk models (aerotwin-<type>-risk)", **COMPACT)
    for name in ("type", "v", "aliases", "PR-AUC", "decision", "created (UTC)"):
        table.add_column(name, no_wrap=True)
    table.add_column("why")  # the decision's reason; the one column that may wrap
    for v in versions:
        created = dt.datetime.fromtimestamp(v.created_ms / 1000, dt.UTC)
        table.add_row(
            v.name.removeprefix("aerotwin-").removesuffix("-risk"),
            str(v.version),
            ", ".join(v.aliases) or "-",
            _fmt(v.holdout_pr_auc),
            (v.decision or "-").replace("_", " "),
            created.strftime("%m-%d %H:%M"),
            v.reason or "-",
        )
    table.caption = "PR-AUC: on its training run's holdout (aircraft and days never trained on)"
    return table
