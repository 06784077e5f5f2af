"""Rich renderings of the twin: what-if before/after, and the fleet's health for the demo."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.schemas import COMPONENT_TYPES
from aerotwin.twin.health import health_table
from aerotwin.twin.rules import STATUSES
from aerotwin.twin.views import COMPONENT_VIEW, SUMMARY
from aerotwin.twin.whatif import WhatIfResult

STYLE = {"Nominal": "green", "Warning": "yellow", "Critical": "bold red"}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    text = str(value)
    return f"[{STYLE[text]}]{text}[/]" if text in STYLE else text


def whatif_table(result: WhatIfResult) -> Table:
    """Before and after side by side; changed rows marked."""
    title = (
        f"What if {', '.join(str(o) for o in result.overrides)} on {result.component_id} "
        f"({result.component_type}, latest reading {result.reading_ts:%Y-%m-%d %H:%M} UTC)"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for name, before, after in result.rows():
        mark = "" if before == after else " *"
        table.add_row(name + mark, _fmt(before), _fmt(after))
    table.caption = (
        f"overrides held over the last {result.sustained_readings} reading(s), the longest "
        "duration guard of the rules; nothing written"
    )
    return table


def fleet_health(lake: Lakehouse) -> Group:
    """Counts by status and component type, and the worst aircraft."""
    counts = query(
        lake,
        f"SELECT component_type, coalesce(component_health_status, 'no data') AS status, "
        f"count(*) AS n FROM {COMPONENT_VIEW} GROUP BY ALL ORDER BY ALL",
        [COMPONENT_VIEW],
    ).to_pylist()
    statuses = [*STATUSES, "no data"]
    by_type: dict[str, dict[str, int]] = {}
    for row in counts:
        by_type.setdefault(row["component_type"], {})[row["status"]] = row["n"]
    table = Table(title="Fleet health: components by type and status", title_justify="left")
    table.add_column("component type")
    for status in statuses:
        table.add_column(_fmt(status), justify="right")
    for ctype, row in by_type.items():
        table.add_row(ctype, *(str(row.get(s, 0)) for s in statuses))
    table.add_row("all", *(str(sum(r.get(s, 0) for r in by_type.values())) for s in statuses))
    worst = query(
        lake,
        f"SELECT aircraft_id, model, base_airport_code, aircraft_health_status, alert_count, "
        f"worst_component_id, worst_component_status, worst_component_rules FROM {SUMMARY} "
        "ORDER BY critical_count DESC, alert_count DESC, aircraft_id LIMIT 5",
        [SUMMARY],
    ).to_pylist()
    top = Table(title="Worst aircraft", title_justify="left")
    for column in ("aircraft", "model", "base", "status", "alerts", "worst component", "rules"):
        top.add_column(column)
    for r in worst:
        top.add_row(
            r["aircraft_id"], r["model"], r["base_airport_code"],
            _fmt(r["aircraft_health_status"]), str(r["alert_count"]),
            r["worst_component_id"] or "-", r["worst_component_rules"] or "-",
        )  # fmt: skip
    return Group(table, top, _history(lake))


def _history(lake: Lakehouse) -> Table:
    """Over all readings: how many components reached Warning or Critical, and how often."""
    names = [health_table(ct) for ct in COMPONENT_TYPES if lake.exists(health_table(ct))]
    union = " UNION ALL ".join(
        f"SELECT component_type, component_id, health_level FROM {n}" for n in names
    )
    found = query(
        lake,
        "SELECT component_type, "
        "count(DISTINCT CASE WHEN health_level = 1 THEN component_id END) AS warned, "
        "count(DISTINCT CASE WHEN health_level = 2 THEN component_id END) AS critical, "
        "sum(CASE WHEN health_level = 1 THEN 1 ELSE 0 END) AS warning_readings, "
        "sum(CASE WHEN health_level = 2 THEN 1 ELSE 0 END) AS critical_readings, "
        f"count(*) AS readings FROM ({union}) GROUP BY ALL ORDER BY ALL",
        names,
    ).to_pylist()
    table = Table(title="Health history (all readings)", title_justify="left")
    for column in ("component type", "components ever Warning", "ever Critical", "readings"):
        table.add_column(column, justify="left" if column == "component type" else "right")
    for r in found:
        table.add_row(
            r["component_type"],
            f"{r['warned']} ({r['warning_readings']} readings)",
            f"{r['critical']} ({r['critical_readings']} readings)",
            f"{r['readings']:,}",
        )
    return table
