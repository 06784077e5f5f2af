"""Pipeline at scale: landing -> bronze -> silver for 500 aircraft x 365 days, DuckDB vs Spark.

`python -m benchmarks.run pipeline -- [--data-dir DIR] [--spark-days N] [--skip-spark]`

The landing zone is simulated once into DIR (default /tmp/aerotwin-bench-500x365) and reused.
Each measurement runs in a fresh process (peak memory = that process's peak resident set;
Spark adds its JVM's). Telemetry rows/s = bronze telemetry rows / wall time of the run.
Runs: (1) DuckDB from an empty lakehouse over all days; (2) `--full-refresh` (silver rebuilt
from bronze); (3) one new day incrementally on top of the other days, as daily operation leaves
them (the last `--daily-runs` days ran one by one before it), `--repeat` times, each from a
copy of the lakehouse before it and each followed by a full run (1) to take the ratio of the
pair; (4) DuckDB and Spark from an empty lakehouse over the same files (symlinked): every
arrival day, or the first `--spark-days`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TELEMETRY_PREFIX = "telemetry_"


def _child(data_dir: Path, engine: str, full_refresh: bool) -> dict[str, Any]:
    """One pipeline run (bronze and silver tables) in this process; what it took."""
    from aerotwin.config import load_settings, with_section
    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.lakehouse.engine import open_engine
    from aerotwin.pipeline.registry import load_tables
    from aerotwin.pipeline.runner import run_pipeline

    # The simulated year runs ahead of the clock: its day folders still close older ones.
    settings = with_section(load_settings(None, data_dir=data_dir), "pipeline", future_days=True)
    tables = [t for t in load_tables() if t.layer in ("bronze", "silver")]
    lakehouse = Lakehouse.from_settings(settings, snapshot=True)  # as `pipeline run` has it
    started = time.perf_counter()
    live = open_engine(engine, lakehouse, settings)
    session_s = time.perf_counter() - started
    result = run_pipeline(settings, full_refresh=full_refresh, engine=live, tables=tables)
    total = time.perf_counter() - started
    jvm_peak, jvm_cpu = _jvm_usage(live) if engine == "spark" else (0.0, 0.0)
    live.close()

    usage = resource.getrusage(resource.RUSAGE_SELF)

    def rows(layer: str, field: str) -> int:
        return sum(
            getattr(t, field)
            for t in result.tables
            if t.layer == layer and TELEMETRY_PREFIX in t.table_name
        )

    return {
        "engine": engine,
        "full_refresh": full_refresh,
        "seconds": round(total, 2),
        "engine_start_s": round(session_s, 2),
        # Tables of a layer may run at once: a layer's time is its first start to last end.
        "bronze_s": _layer_wall(result.tables, "bronze"),
        "silver_s": _layer_wall(result.tables, "silver"),
        "telemetry_bronze_rows": rows("bronze", "rows_in"),
        "telemetry_silver_rows_in": rows("silver", "rows_in"),
        "telemetry_silver_rows_out": rows("silver", "rows_out"),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 0),
        # CPU seconds (all threads; Spark's JVM added): comparable even on a busy machine.
        "cpu_s": round(usage.ru_utime + usage.ru_stime + jvm_cpu, 1),
        "jvm_peak_rss_mib": round(jvm_peak, 0),
    }


def _floor(data_dir: Path, out: Path) -> dict[str, Any]:
    """DuckDB's fastest paths for the telemetry feeds, none with a check, dedup or Delta commit:
    parse and write once; raw lines only; raw lines and typed columns in one pass. Landing ->
    silver must keep every raw line and write typed rows: at least the first two together."""
    import duckdb

    from aerotwin.pipeline.json_lines import field_type
    from aerotwin.pipeline.registry import load_tables

    feeds = {
        t.source.feed: t.source.fields
        for t in load_tables()
        if t.source is not None and t.source.feed.startswith(TELEMETRY_PREFIX)
    }
    raw = (
        "read_csv('{files}', columns={{'_raw': 'VARCHAR'}}, delim=chr(1), "
        "quote='', escape='', header=false)"
    )
    variants = {
        "parse_and_write": "SELECT * FROM read_json('{files}', format='newline_delimited', "
        "ignore_errors=true, columns={columns})",
        "raw_lines_write": f"SELECT * FROM {raw}",
        # A malformed line (0.2 % are) keeps its raw text and NULL typed columns.
        "raw_and_typed_one_pass": "SELECT _raw, unnest(CASE WHEN json_valid(_raw) "
        f"THEN json_transform(_raw, '{{shape}}') END) FROM {raw}",
    }
    con = duckdb.connect()
    result: dict[str, Any] = {"engine": "duckdb floor"}
    for name, select in variants.items():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        started, cpu = time.perf_counter(), _cpu_s()
        rows = 0
        for feed, fields in feeds.items():
            columns = "{" + ", ".join(f"'{f}': '{field_type(f)}'" for f in fields) + "}"
            shape = json.dumps({f: field_type(f) for f in fields})
            files = data_dir / "landing" / feed / "*" / "*.jsonl"
            query = select.format(files=files, columns=columns, shape=shape)
            rows += con.execute(f"COPY ({query}) TO '{out / feed}.parquet'").fetchone()[0]
        seconds = time.perf_counter() - started
        result[name] = {
            "seconds": round(seconds, 2),
            "cpu_s": round(_cpu_s() - cpu, 1),
            "rows": rows,
            "rows_per_s": round(rows / seconds),
        }
    both = result["parse_and_write"]["seconds"] + result["raw_lines_write"]["seconds"]
    result["parse_and_write_plus_raw_lines"] = {
        "seconds": round(both, 2),
        "rows_per_s": round(result["parse_and_write"]["rows"] / both),
    }
    shutil.rmtree(out, ignore_errors=True)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    return result


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _layer_wall(runs: list[Any], layer: str) -> float:
    """Wall seconds from the layer's first table start to its last table end."""
    ran = [t for t in runs if t.layer == layer and t.status != "skipped"]
    if not ran:
        return 0.0
    start = min(t.started_ts.timestamp() for t in ran)
    return round(max(t.started_ts.timestamp() + t.duration_s for t in ran) - start, 2)


def _jvm_usage(engine: Any) -> tuple[float, float]:
    """Peak resident MiB and CPU seconds of the Spark JVM (a child process of this one)."""
    gateway = engine.spark.sparkContext._gateway
    pid = gateway.proc.pid if getattr(gateway, "proc", None) else None
    if pid is None:
        return 0.0, 0.0
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return peak, (int(fields[11]) + int(fields[12])) / ticks


def _run_child(
    data_dir: Path,
    engine: str,
    full_refresh: bool = False,
    floor: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.pipeline_bench", "child", str(data_dir), engine]
    if full_refresh:
        command.append("--full-refresh")
    if floor:
        command.append("--floor")
    load_before = os.getloadavg()[0]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    # The machine is shared: the 1-minute load average says how much others were running.
    result["load_1m_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if not quiet:
        print(json.dumps(result), flush=True)
    return dict(result)


def _ensure_landing(data_dir: Path, aircraft: int, days: int) -> None:
    if (data_dir / "landing" / "_manifest" / "manifest.json").exists():
        return
    from aerotwin.config import load_settings, with_section
    from aerotwin.sim.history import run_history

    settings = with_section(
        load_settings(None, data_dir=data_dir), "sim", aircraft=aircraft, days=days
    )
    run_history(settings)


def _linked_landing(source: Path, target: Path, keep: set[str] | None) -> None:
    """A landing zone of symlinks to `source`'s partitions (only dates in `keep`, if given)."""
    shutil.rmtree(target, ignore_errors=True)
    (target / "landing").mkdir(parents=True)
    landing = source / "landing"
    os.symlink(landing / "reference", target / "landing" / "reference")
    for part in landing.glob("*/date=*"):
        if keep is None or part.name in keep:
            feed = target / "landing" / part.parent.name
            feed.mkdir(exist_ok=True)
            os.symlink(part, feed / part.name)


def _dates(landing: Path) -> list[str]:
    """Every arrival day of any feed (late records land in days of their own)."""
    return sorted({p.name for p in landing.glob("*/date=*")})


def _last_day(landing: Path) -> str:
    """The last simulated day's partition name (later ones hold only its late records)."""
    params = json.loads((landing / "_manifest" / "manifest.json").read_text())["params"]
    start = dt.date.fromisoformat(params["start_date"])
    return f"date={start + dt.timedelta(days=int(params['days']) - 1)}"


def main(argv: list[str]) -> int:
    """Run the pipeline benchmark; prints one JSON line per measurement."""
    if argv and argv[0] == "child":
        if "--floor" in argv:
            print(json.dumps(_floor(Path(argv[1]), Path(argv[1]) / "floor-out")))
        else:
            print(json.dumps(_child(Path(argv[1]), argv[2], "--full-refresh" in argv)))
        return 0
    parser = argparse.ArgumentParser(prog="pipeline_bench")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/aerotwin-bench-500x365"))
    parser.add_argument("--aircraft", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--spark-days", type=int, default=0, help="compare the engines on the first N days (0: all)"
    )
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the new day")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="idle seconds before each new day"
    )
    parser.add_argument(
        "--daily-runs", type=int, default=30, help="days run one by one before the new day"
    )
    args = parser.parse_args(argv)
    python = platform.python_version()
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {python}")
    _ensure_landing(args.data_dir, args.aircraft, args.days)
    dates = _dates(args.data_dir / "landing")
    work = args.data_dir.parent / (args.data_dir.name + "-runs")
    if not args.skip_full:
        full = work / "full"
        _linked_landing(args.data_dir, full, None)
        print("# DuckDB, empty lakehouse, all days")
        _run_child(full, "duckdb")
        print("# DuckDB, --full-refresh (silver rebuilt from bronze)")
        _run_child(full, "duckdb", full_refresh=True)
        incremental = work / "incremental"
        last = _last_day(args.data_dir / "landing")
        # As daily operation leaves the lakehouse: all but the last `--daily-runs` days in
        # one run, then one run per day (each adds files); then the new day is measured.
        daily = [d for d in dates if d < last][-args.daily_runs :] if args.daily_runs else []
        first_daily = daily[0] if daily else last
        _linked_landing(args.data_dir, incremental, {d for d in dates if d < first_daily})
        print(f"# DuckDB, days before {first_daily}, then {len(daily)} daily runs (set-up)")
        _run_child(incremental, "duckdb")
        source = args.data_dir / "landing"
        for day in [*daily, None]:
            for part in source.glob("*/date=*"):
                if part.name == day or (day is None and part.name >= last):
                    feed = incremental / "landing" / part.parent.name
                    feed.mkdir(exist_ok=True)
                    os.symlink(part, feed / part.name)
            if day is not None:
                _run_child(incremental, "duckdb", quiet=True)
        # A run of one or two seconds is at the mercy of a shared machine: measure it
        # `--repeat` times, each from a copy of the lakehouse as it was before the new day.
        before = work / "incremental-before"
        shutil.rmtree(before, ignore_errors=True)
        shutil.copytree(incremental / "lakehouse", before, symlinks=True)
        # This machine's speed drifts by up to half within minutes: each new day is paired
        # with a full run from the landing zone right after it, and the ratio taken per pair.
        ratios = []
        for attempt in range(args.repeat):
            if attempt:
                shutil.rmtree(incremental / "lakehouse")
                shutil.copytree(before, incremental / "lakehouse", symlinks=True)
            os.sync()  # the copy's write-back must not run during the measurement
            time.sleep(args.settle)  # and the full run before it must not weigh on it
            print(f"# DuckDB, one new day ({last} and its late records) incrementally")
            day = _run_child(incremental, "duckdb")["seconds"]
            shutil.rmtree(full / "lakehouse", ignore_errors=True)
            os.sync()
            print("# DuckDB, empty lakehouse, all days (paired with the new day above)")
            year = _run_child(full, "duckdb")["seconds"]
            ratios.append(day / year)
            print(
                json.dumps(
                    {
                        "pair": attempt,
                        "new_day_s": day,
                        "full_s": year,
                        "new_day_over_full": round(day / year, 4),
                    }
                ),
                flush=True,
            )
        print(
            json.dumps(
                {
                    "new_day_over_full_median": round(statistics.median(ratios), 4),
                    "range": [round(min(ratios), 4), round(max(ratios), 4)],
                }
            ),
            flush=True,
        )
    if not args.skip_floor:
        floor = work / "floor"
        _linked_landing(args.data_dir, floor, None)
        print("# floor: DuckDB parses and writes once; raw lines only; raw and typed in one pass")
        _run_child(floor, "duckdb", floor=True)
    days = dates[: args.spark_days] if args.spark_days else dates
    subset = work / f"first{len(days)}"
    if not args.skip_spark:
        for engine in ("duckdb", "spark"):
            _linked_landing(args.data_dir, subset, set(days))
            print(f"# {engine}, empty lakehouse, {len(days)} arrival days")
            _run_child(subset, engine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
