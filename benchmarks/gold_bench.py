"""Gold layer refresh: one new day incrementally vs a full rebuild of the gold tables (DuckDB).

`python -m benchmarks.run gold -- [--aircraft 50] [--days 90] [--data-dir DIR] [--no-write]`

Simulates the fleet once, lands every day but the last, runs the pipeline, then lands the last
day and runs it again (incremental: feature and health tables merge only the components the
new rows reach, from the first reading they change on). Then `--full-refresh` on the same data
rebuilds everything. Only the gold tables' wall times are compared (their own durations
from the run result; bronze and silver are the pipeline benchmark's). The incremental tables
are checked equal to the rebuilt ones. Results go to docs/benchmarks.md under `## Gold layer`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Gold layer"


def _gold(result: Any) -> tuple[float, int]:
    """(seconds, rows written) of the gold tables in one run."""
    gold = [t for t in result.tables if t.layer == "gold"]
    return sum(t.duration_s for t in gold), sum(t.rows_out for t in gold)


def _land(source: Path, target: Path, skip: str | None) -> None:
    """Copy the landing zone, leaving out the `skip` day folders."""
    ignore = (lambda _d, names: [n for n in names if n == skip]) if skip else None
    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)


def _same(a: Any, b: Any, names: list[str]) -> bool:
    from aerotwin.lakehouse.catalog import query

    for name in names:
        keys = "component_id, reading_ts"
        rows_a = query(a, f"SELECT * FROM {name} ORDER BY {keys}", [name]).to_pylist()
        rows_b = query(b, f"SELECT * FROM {name} ORDER BY {keys}", [name]).to_pylist()
        if len(rows_a) != len(rows_b):
            return False
        for x, y in zip(rows_a, rows_b, strict=True):
            for k, v in x.items():
                w = y[k]
                close = (
                    isinstance(v, float)
                    and isinstance(w, float)
                    and math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-9)
                )
                if v != w and not close:
                    return False
    return True


def main(argv: list[str]) -> int:
    """Run the benchmark; write the section unless --no-write."""
    parser = argparse.ArgumentParser(prog="gold_bench")
    parser.add_argument("--aircraft", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/aerotwin-bench-gold"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    from aerotwin.config import load_settings, with_section
    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.pipeline.runner import run_pipeline
    from aerotwin.schemas import COMPONENT_TYPES
    from aerotwin.sim.history import run_history
    from aerotwin.twin.gold import feature_table
    from aerotwin.twin.health import health_table

    root = args.data_dir / f"{args.aircraft}x{args.days}"
    sim = load_settings(None, data_dir=root / "sim")
    sim = with_section(sim, "sim", aircraft=args.aircraft, days=args.days)
    if not (sim.landing_dir / "reference").exists():
        run_history(sim)
    last = f"date={(sim.sim.start_date + dt.timedelta(days=args.days - 1)).isoformat()}"
    work = root / "incremental"
    shutil.rmtree(work, ignore_errors=True)
    settings = load_settings(None, data_dir=work)
    _land(sim.landing_dir, settings.landing_dir, last)
    first = run_pipeline(settings)
    base_s, base_rows = _gold(first)
    _land(sim.landing_dir, settings.landing_dir, None)
    incremental = run_pipeline(settings)
    inc_s, inc_rows = _gold(incremental)

    full_dir = root / "full"
    shutil.rmtree(full_dir, ignore_errors=True)
    shutil.copytree(work, full_dir)
    full_settings = load_settings(None, data_dir=full_dir)
    full = run_pipeline(full_settings, full_refresh=True)
    full_s, full_rows = _gold(full)
    per_reading = [n for ct in COMPONENT_TYPES for n in (feature_table(ct), health_table(ct))]
    equal = _same(
        Lakehouse.from_settings(settings), Lakehouse.from_settings(full_settings), per_reading
    )
    readings = sum(
        t.rows_out for t in full.tables if t.layer == "gold" and t.table_name.startswith("feat")
    )
    row = (
        f"| {args.aircraft} x {args.days} | {readings:,} | {full_s:.1f} | {full_rows:,} "
        f"| {inc_s:.1f} | {inc_rows:,} | {inc_s / full_s:.0%} | {'yes' if equal else 'NO'} |"
    )
    print(f"first build of gold over {args.days - 1} days: {base_s:.1f} s, {base_rows:,} rows")
    print(row)
    if not args.no_write:
        _write(args, row)
    return 0 if equal else 1


def _write(args: argparse.Namespace, row: str) -> None:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    section = f"""{HEADING}

`python -m benchmarks.run gold -- --aircraft A --days D` (benchmarks/gold_bench.py), last
run ({args.aircraft} x {args.days}) {when} on {os.cpu_count()} cores, 24 GiB RAM,
{platform.system()} {platform.machine()}, Python {platform.python_version()}, DuckDB engine.
The machine was shared with other jobs (load average {load:.0f} when it finished), so the
times are an upper bound; the ratio is the figure to read.

Every day but the last is landed and the pipeline run; then the last day is landed and the
pipeline run again ("one new day", incremental). The same lakehouse copy is then rebuilt
with `--full-refresh` ("full"). Seconds are the gold tables' own wall times from the run
result (13 tables: features, health, twin views, summary); bronze and silver are not counted.
"rows" are rows written to gold. "equal" checks the incremental feature and health tables
against the rebuilt ones row by row.

| fleet | readings | full s | full rows | new day s | new day rows | new / full | equal |
|---|---:|---:|---:|---:|---:|---:|---|
{row}

The new day recomputes only the components its readings, flights, weather and maintenance
reach, from the first reading they change on, reading 30 days of history before it; the twin
views and the summary are rebuilt in full each time (one row per component or aircraft, from
the latest feature rows).
"""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    # Keep the rows of other fleet sizes measured earlier; this run replaces its own.
    fleet = row.split("|")[1]
    earlier = [
        line
        for line in text.split(HEADING, 1)[-1].split("\n## ", 1)[0].splitlines()
        if HEADING in text
        and line.startswith("| ")
        and "x" in line.split("|")[1]
        and line.split("|")[1] != fleet
        and not line.startswith("| fleet")
    ]
    section = section.replace(f"\n{row}\n", "\n" + "\n".join([*earlier, row]) + "\n")
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        tail = rest.split("\n## ", 1)
        text = head + section + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)
    print(f"wrote {HEADING!r} in {DOCS}")


if __name__ == "__main__":
    start = time.perf_counter()
    raise SystemExit(main([]))
