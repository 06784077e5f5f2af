"""Fleet simulator at scale: 500 aircraft x 365 days, rows/s and peak memory.

`python -m benchmarks.run sim -- [--aircraft 500] [--days 365] [--short-days 30] [--no-write]`
runs the history simulation in a fresh child process per size (so each peak is its own), once at
full length and once short, to show that memory does not grow with the number of days. Peak
memory is the child's peak resident set size from `resource.getrusage(RUSAGE_SELF).ru_maxrss`
(the whole process: interpreter, numpy, polars and the simulation), next to its resident size
right after the imports. The result replaces the `## Simulator` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Simulator"


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {cpu}, "
        f"Python {platform.python_version()}"
    )


def _rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(aircraft: int, days: int, folder: Path) -> dict[str, float]:
    """Run one history simulation in this process and measure it."""
    from aerotwin.config import load_settings, with_section
    from aerotwin.sim.history import run_history

    after_imports = _rss_mib()
    settings = with_section(
        load_settings(None, data_dir=folder), "sim", aircraft=aircraft, days=days
    )
    started = time.perf_counter()
    summary = run_history(settings)
    seconds = time.perf_counter() - started
    telemetry = sum(n for feed, n in summary.rows.items() if feed.startswith("telemetry_"))
    size = sum(p.stat().st_size for p in settings.landing_dir.rglob("*") if p.is_file())
    return {
        "aircraft": aircraft,
        "days": days,
        "seconds": seconds,
        "telemetry_rows": telemetry,
        "all_rows": sum(summary.rows.values()),
        "failures": summary.failures,
        "bytes": size,
        "rss_after_imports_mib": after_imports,
        "peak_rss_mib": _rss_mib(),
    }


def _run_child(aircraft: int, days: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="aerotwin-simbench-"))
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.sim_bench",
                "--child",
                str(aircraft),
                str(days),
                str(folder),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _markdown(runs: list[dict[str, float]], when: str) -> str:
    lines = [
        HEADING,
        "",
        f"`python -m benchmarks.run sim` (benchmarks/sim_bench.py), run {when} on {_machine()}; "
        "the machine was shared with other jobs, so times are an upper bound. Default settings "
        "(seed 42, 0.2 % bad records). Each size ran in a fresh process; peak memory is that "
        "process's peak resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`, "
        "interpreter and libraries included), next to its size right after the imports.",
        "",
        "| aircraft x days | telemetry rows | all rows | files on disk | seconds "
        "| telemetry rows/s | peak RSS | RSS after imports | failures |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['aircraft']} x {r['days']} | {r['telemetry_rows']:,} | {r['all_rows']:,} "
            f"| {r['bytes'] / 2**20:,.0f} MiB | {r['seconds']:.1f} "
            f"| {r['telemetry_rows'] / r['seconds']:,.0f} | {r['peak_rss_mib']:.0f} MiB "
            f"| {r['rss_after_imports_mib']:.0f} MiB | {r['failures']} |"
        )
    short, full = runs[0], runs[-1]
    lines += [
        "",
        f"From {short['days']} to {full['days']} days the peak resident size went from "
        f"{short['peak_rss_mib']:.0f} to {full['peak_rss_mib']:.0f} MiB: memory does not grow "
        "with the number of days (one day is held at a time and written before the next).",
    ]
    return "\n".join(lines) + "\n"


def write_section(markdown: str, path: Path = DOCS) -> None:
    """Replace (or append) the simulator's section of docs/benchmarks.md, leaving the rest."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(HEADING + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + markdown
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + markdown + ("" if end < 0 else text[end:])
    path.write_text(text)


def main(argv: list[str]) -> int:
    """Run the benchmark and record it; returns a process exit code."""
    parser = argparse.ArgumentParser(prog="benchmarks.run sim")
    parser.add_argument("--aircraft", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--short-days", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    runs = []
    for days in (args.short_days, args.days):
        print(f"simulating {args.aircraft} aircraft x {days} days ...", flush=True)
        runs.append(_run_child(args.aircraft, days))
        print(json.dumps(runs[-1]), flush=True)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    markdown = _markdown(runs, when)
    print(markdown)
    if not args.no_write:
        write_section(markdown)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        result = child(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        print(json.dumps(result))
    else:
        raise SystemExit(main(sys.argv[1:]))
