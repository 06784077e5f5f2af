"""What the CLI prints for the pipeline: per-table progress, run summary and notices,
tables, quality."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import LAYER_ORDER, CatalogEntry, entries, query
from aerotwin.lakehouse.delta import Lakehouse, TableUnreadable
from aerotwin.lakehouse.maintenance import Maintained
from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.events import EVENTS_TABLE, QUARANTINE_TABLE, TableRun
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import CUT_SHORT, RunResult, waiting_reason

# How to end a wait for a feed an airline does not have (docs/pipeline.md, Waiting tables).
WAITING_HINT = (
    "  tables wait until their feed lands; for data you do not have, land an empty file: a CSV "
    "holding only its header line, or a .jsonl holding one empty line (docs/pipeline.md, "
    "Waiting tables)"
)


def layers() -> dict[str, str]:
    """Layer of every declared table, plus the pipeline's own system tables."""
    out: dict[str, str] = {t.name: t.layer for t in load_tables()}
    out.update({EVENTS_TABLE: "system", QUARANTINE_TABLE: "system"})
    return out


@contextmanager
def table_progress(console: Console, total: int) -> Iterator[dict[str, Any]]:
    """A progress bar over tables; yields the `on_start` / `on_done` callbacks for the runner."""
    with Progress(
        TextColumn("[bold]{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("pipeline", total=total)

        def on_start(table: TableDef) -> None:
            progress.update(task, description=f"{table.layer} {table.name}")

        def on_done(run: TableRun) -> None:
            progress.advance(task)
            if run.status == "ok":
                progress.console.print(
                    done_line(run), highlight=False, markup=False, soft_wrap=True
                )

        yield {"on_start": on_start, "on_done": on_done}


def done_line(run: TableRun) -> str:
    """A table's line once it is written: rows in and out, and why it was rebuilt in full
    when the runner chose to (a changed definition, a rebuilt input)."""
    bad = f", {run.quarantined:,} quarantined" if run.quarantined else ""
    line = f"  {run.table_name} {run.rows_in:,} -> {run.rows_out:,}{bad} ({run.duration_s:.1f}s)"
    return f"{line}: {run.message}" if run.message else line


def run_summary(result: RunResult) -> str:
    """What the run changed (one line), then the tables waiting for inputs never built, by
    where the wait starts, and how to end it."""
    changed = result.changed
    rows = sum(t.rows_out for t in changed if t.layer != "bronze")
    seconds = result.seconds  # tables run side by side: not the sum of their times
    refresh = "full refresh" if result.full_refresh else "incremental"
    if not changed:
        built = " built" if result.waiting else ""
        head = f"run {result.run_id} ({result.engine}): nothing new, every table{built} up to date"
    else:
        head = (
            f"run {result.run_id} ({result.engine}, {refresh}): "
            f"{len(changed)} tables written, {rows:,} rows out, {seconds:.1f}s"
        )
    if not result.waiting:
        return head
    waits = [f"waiting ({why}): {', '.join(names)}" for why, names in result.waiting.items()]
    return "\n".join([head, *waits, WAITING_HINT])


def run_notices(result: RunResult, settings: Settings) -> list[str]:
    """A line each for what the run left in the landing zone: files no feed reads, and
    last lines held back for want of their line break."""
    lines = []
    landing = settings.landing_dir
    if result.ignored:
        lines.append(
            f"ignored {_count(len(result.ignored), 'file')} in {landing}: "
            f"{_names(result.ignored)}: telemetry feeds read .jsonl files, the other feeds "
            ".csv files (docs/landing_zone.md); rename a file to have it read"
        )
    if result.held_back:
        days = settings.pipeline.open_days
        lines.append(
            f"held back the last line of {_count(len(result.held_back), 'file')} in {landing}, "
            f"which has no line break yet: {_names(result.held_back)}: it is read once its "
            f"line break lands, or once its date= folder is more than {days} days older than "
            "the newest (pipeline.open_days)"
        )
    return lines


def _names(paths: list[str], shown: int = 5) -> str:
    names = sorted(paths)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def tables_table(lakehouse: Lakehouse, damaged: list[TableUnreadable] | None = None) -> Table:
    """`aerotwin tables`: layer, rows, version and last update of every table.

    A table whose log cannot be read raises TableUnreadable, or, given a `damaged` list, is a
    row saying so and its error is added to the list.
    """
    table = Table(title=f"Tables in {lakehouse.root}")
    for column, justify in [
        ("layer", "left"),
        ("table", "left"),
        ("rows", "right"),
        ("version", "right"),
        ("last update (UTC)", "left"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    entry: CatalogEntry
    layer_of = layers()
    unreadable: list[TableUnreadable] = []
    found = entries(lakehouse, layer_of, None if damaged is None else unreadable)
    rows = []
    for entry in found:
        updated = entry.last_update.strftime("%Y-%m-%d %H:%M:%S") if entry.last_update else "-"
        rows.append((entry.layer, entry.name, f"{entry.rows:,}", str(entry.version), updated))
    for exc in unreadable:
        rows.append((layer_of.get(exc.name, "other"), exc.name, "-", "-", "log damaged"))
    for row in sorted(rows, key=lambda r: (LAYER_ORDER.index(r[0]), r[1])):
        table.add_row(*row)
    if damaged is not None:
        damaged.extend(unreadable)
    if not rows:
        table.caption = "no table yet: `aerotwin pipeline run` builds them from the landing zone"
    return table


def maintenance_table(done: list[Maintained]) -> Table:
    """`aerotwin optimize`: files before and after compaction, files deleted, per table."""
    table = Table(title="Maintenance: small files compacted, unneeded files deleted")
    for column in ("table", "files before", "files after", "files deleted"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for m in done:
        table.add_row(m.table, f"{m.files_before:,}", f"{m.files_after:,}", f"{m.files_deleted:,}")
    return table


def run_history(lakehouse: Lakehouse, limit: int = 10) -> list[str]:
    """`aerotwin pipeline history`: one line per run that changed something, newest first
    (a run that found nothing new records nothing), a line per failed table, and a line per
    reason tables wait for inputs never built (`waiting_reason`), naming them."""
    if not lakehouse.exists(EVENTS_TABLE):
        return []
    runs = query(
        lakehouse,
        f"""SELECT run_id, min(started_ts) AS started, any_value(engine) AS engine,
               any_value(refresh) AS refresh,
               max(epoch(started_ts) + duration_s) - min(epoch(started_ts)) AS seconds,
               count(*) FILTER (WHERE status NOT IN ('interrupted', 'waiting')) AS tables,
               count(*) FILTER (WHERE status = 'interrupted') AS interrupted,
               count(*) FILTER (WHERE status = 'interrupted'
                                AND starts_with(message, '{CUT_SHORT}')) AS cut_short,
               list(struct_pack(t := table_name, m := message) ORDER BY table_name)
                 FILTER (WHERE status = 'waiting') AS waiting,
               coalesce(sum(rows_in) FILTER (WHERE layer = 'bronze'), 0) AS landed,
               sum(quarantined) AS quarantined,
               list(table_name || ': ' || coalesce(message, '') ORDER BY table_name)
                 FILTER (WHERE status = 'failed') AS failures
        FROM {EVENTS_TABLE} GROUP BY run_id ORDER BY started DESC LIMIT {int(limit)}""",
        [EVENTS_TABLE],
    )
    lines = []
    for r in runs.to_pylist():
        failures = r["failures"] or []
        waiting: dict[str, list[str]] = {}  # tables by where their wait starts
        for w in r["waiting"] or []:
            waiting.setdefault(waiting_reason(w["m"]), []).append(w["t"])
        lines.append(
            f"{r['run_id']}  {r['started']:%Y-%m-%d %H:%M:%S} UTC  {r['engine']} {r['refresh']}  "
            f"{r['seconds']:.1f} s  {_count(r['tables'], 'table')}  {r['landed']:,} lines landed  "
            f"{r['quarantined']:,} quarantined"
            + (f"  FAILED: {len(failures)}" if failures else "")
            + _interrupted(r["interrupted"] - r["cut_short"], r["cut_short"])
            + (f"  WAITING: {_count(len(r['waiting']), 'table')}" if waiting else "")
        )
        lines += [f"    failed {f}" for f in failures]
        lines += [f"    waiting ({why}): {', '.join(names)}" for why, names in waiting.items()]
    return lines


def _interrupted(not_started: int, cut_short: int) -> str:
    """A run's history note on the tables Ctrl-C left undone ("" when none)."""
    if not (not_started or cut_short):
        return ""
    note = f"  INTERRUPTED: {_count(not_started, 'table')} not started"
    return note + (f", {cut_short} cut short" if cut_short else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def quality_table(lakehouse: Lakehouse) -> Table:
    """Quarantined rows per table and rule (the quality summary)."""
    table = Table(title="Data quality: quarantined rows by rule")
    for column in ("table", "rule", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    if not lakehouse.exists(QUARANTINE_TABLE):
        table.add_row("-", "no row quarantined", "0")
        return table
    counts = query(
        lakehouse,
        f"SELECT table_name, rule, count(*) AS n FROM {QUARANTINE_TABLE} GROUP BY ALL ORDER BY ALL",
        [QUARANTINE_TABLE],
    )
    for row in counts.to_pylist():
        table.add_row(row["table_name"], row["rule"], f"{row['n']:,}")
    return table


def arrow_table(data: pa.Table, limit: int = 50) -> Table:
    """A query result as a rich table (first `limit` rows)."""
    caption = f"{data.num_rows:,} row(s)" + (f", first {limit}" if data.num_rows > limit else "")
    # As wide as its caption at least: a one-column result wrapped it over three lines.
    table = Table(caption=caption, min_width=len(caption))
    # Text, not markup: a value such as a raw record's "[/x]" is shown as it is.
    for name in data.column_names:
        table.add_column(Text(name))
    for row in data.slice(0, limit).to_pylist():
        table.add_row(*(Text("NULL" if v is None else str(v)) for v in row.values()))
    return table
