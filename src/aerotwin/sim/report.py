"""Presenting a simulator run: the history run behind a progress bar, and a summary table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from aerotwin.config import Settings
from aerotwin.sim.history import SimSummary, run_history


def simulate_with_progress(settings: Settings, console: Console) -> SimSummary:
    """Run the history simulation with a rich progress bar over the days."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(
            f"simulating {settings.sim.aircraft} aircraft", total=settings.sim.days
        )
        return run_history(settings, lambda done, total: progress.update(task, completed=done))


def summary_table(summary: SimSummary) -> Table:
    """Files and rows written per feed."""
    table = Table(title=f"Landing zone {summary.landing_dir}")
    table.add_column("feed")
    table.add_column("files", justify="right")
    table.add_column("rows", justify="right")
    for feed in sorted(summary.rows):
        table.add_row(feed, f"{summary.files[feed]:,}", f"{summary.rows[feed]:,}")
    return table


def bad_records_table(summary: SimSummary) -> Table:
    """Injected bad records by kind (the manifest has every one of them)."""
    table = Table(title="Injected bad records")
    table.add_column("kind")
    table.add_column("records", justify="right")
    for kind, count in summary.bad_records.items():
        table.add_row(kind, f"{count:,}")
    table.add_row("[bold]total[/bold]", f"{sum(summary.bad_records.values()):,}")
    return table


def print_summary(summary: SimSummary, console: Console) -> None:
    """Print what a history run produced: feeds, failures, maintenance, bad records."""
    console.print(summary_table(summary))
    by_type = ", ".join(f"{t} {n}" for t, n in summary.failures_by_type.items() if n)
    detail = f" ({summary.sudden_failures} sudden; {by_type})" if summary.failures else ""
    console.print(
        f"{summary.aircraft} aircraft, {summary.components} components, {summary.days} days: "
        f"[bold]{summary.failures}[/bold] failures{detail}"
    )
    maint = ", ".join(f"{t} {n:,}" for t, n in summary.maintenance_by_type.items() if n)
    console.print(f"maintenance events: {maint or 'none'}")
    console.print(bad_records_table(summary))
