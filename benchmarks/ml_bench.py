"""Risk models on simulated fleets through the real product path: accuracy and speed per type.

`python -m benchmarks.run ml -- [--fleet 200x365:7] [--fleet 500x365:42] [--landing DIR]
[--data-dir DIR] [--reuse] [--no-write]`

Each `--fleet AIRCRAFTxDAYS:SEED` is simulated (or, with `--landing`, that landing zone is
copied for the fleet of the same size), run through `run_pipeline` (DuckDB: bronze, silver,
gold feature and health tables), then per component type: read the gold tables, build the
labelled daily snapshots, train (LightGBM + IsolationForest, Optuna off), log and register
in MLflow and decide on the champion; the holdout (aircraft never trained on, days after the
time cut-off) gives the model's and the rule status's PR-AUC. Then `score()` end to end and
the champions' `predict` on every feature row. `--reuse` keeps a lakehouse already built in
`--data-dir/<fleet>` (the pipeline is not rerun; a fresh MLflow store is used either way).
The result replaces `## Risk models` in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
HEADING = "## Risk models"
# Champion predict throughput is measured on up to this many feature rows per type.
PREDICT_ROWS = 300_000


@dataclass
class FleetRun:
    """What one fleet produced: table rows and the run's facts."""

    name: str
    accuracy: list[str] = field(default_factory=list)
    speed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _prepare(aircraft: int, days: int, seed: int, root: Path, landing: Path | None, reuse: bool):
    """Settings for the fleet's data dir, with its landing zone and gold tables built."""
    from aerotwin.config import load_settings, with_section
    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.pipeline.runner import run_pipeline
    from aerotwin.testing import simulate_small_fleet
    from aerotwin.twin.gold import pipeline_tables

    settings = with_section(load_settings(None, data_dir=root), "ml", tuning_seconds=0)
    shutil.rmtree(root / "mlflow", ignore_errors=True)  # a fresh registry: every model is v1
    notes = []
    if reuse and Lakehouse.from_settings(settings).exists("features_engine"):
        notes.append(f"gold tables reused from an earlier pipeline run in {root}")
        return settings, notes
    if landing is not None:
        shutil.copytree(landing, settings.landing_dir, dirs_exist_ok=True)
        notes.append(f"landing zone copied from {landing}")
    else:
        start = time.perf_counter()
        simulate_small_fleet(settings, aircraft, days, seed, bad_record_rate=0.002)
        notes.append(f"simulated in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    run_pipeline(settings, tables=pipeline_tables(settings))
    notes.append(
        f"pipeline (bronze, silver, gold) {time.perf_counter() - start:.0f} s, load {_load()}"
    )
    return settings, notes


def run_fleet(
    aircraft: int, days: int, seed: int, root: Path, landing: Path | None, reuse: bool
) -> FleetRun:
    """One fleet: accuracy per type against the rules, and training / scoring speed."""
    from aerotwin.ml.dataset import build_dataset
    from aerotwin.ml.registry import load_version
    from aerotwin.ml.tracking import mlflow_session, quiet_mlflow
    from aerotwin.ml.train_job import load_inputs, load_interventions, train_component
    from aerotwin.schemas import COMPONENT_TYPES
    from aerotwin.scoring.batch import score

    run = FleetRun(f"{aircraft} x {days}")
    settings, run.notes = _prepare(aircraft, days, seed, root, landing, reuse)
    run.accuracy = [
        "| type | holdout snapshots | positives | failures (caught) | model PR-AUC | "
        "rule PR-AUC | ROC-AUC | recall | precision | threshold | median lead days |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    run.speed = [
        "| type | feature rows | snapshots | features | read s | dataset s | train s | "
        f"log + register + decide s | predict rows/s ({PREDICT_ROWS:,} rows) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with quiet_mlflow():
        for ct in COMPONENT_TYPES:
            start = time.perf_counter()
            features, failures, health = load_inputs(settings, ct)
            fixes = load_interventions(settings, ct)
            read_s = time.perf_counter() - start
            start = time.perf_counter()
            n_snap = len(build_dataset(features, failures, 14, health, fixes))
            dataset_s = time.perf_counter() - start
            start = time.perf_counter()
            report = train_component(settings, ct, features, failures, health, fixes)
            rest_s = time.perf_counter() - start - dataset_s - report.train_seconds
            with mlflow_session(settings):
                model = load_version(ct, report.version)
            sample = features.head(PREDICT_ROWS)
            start = time.perf_counter()
            model.predict(sample)
            rate = len(sample) / (time.perf_counter() - start)
            h = report.holdout
            run.accuracy.append(
                f"| {ct} | {int(h.get('rows', 0)):,} | {int(h.get('positives', 0))} | "
                f"{int(h.get('failures', 0))} ({int(h.get('failures_caught', 0))}) | "
                f"**{_fmt(h.get('pr_auc'))}** | {_fmt(report.baseline_pr_auc)} | "
                f"{_fmt(h.get('roc_auc'))} | {_fmt(h.get('recall'), 2)} | "
                f"{_fmt(h.get('precision'), 2)} | {_fmt(model.threshold, 3)} | "
                f"{_fmt(h.get('median_lead_days'), 1)} |"
            )
            run.speed.append(
                f"| {ct} | {len(features):,} | {n_snap:,} | {len(model.features)} | "
                f"{read_s:.1f} | {dataset_s:.1f} | {report.train_seconds:.1f} | {rest_s:.1f} | "
                f"{rate:,.0f} |"
            )
            print(run.accuracy[-1], run.speed[-1], sep="\n", flush=True)
            del features, failures, health, fixes
        start = time.perf_counter()
        result = score(settings)
        score_s = time.perf_counter() - start
    run.notes.append(
        f"`score()` end to end (latest feature row per component via DuckDB, 5 champions "
        f"loaded from the registry, drift over the last 7 days, result tables written): "
        f"{len(result.components):,} components in {score_s:.1f} s; load {_load()}"
    )
    return run


def _write(section: list[str]) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    block = HEADING + "\n\n" + "\n".join(section).rstrip() + "\n"
    if HEADING in text:
        start = text.index(HEADING)
        nxt = text.find("\n## ", start + len(HEADING))
        text = text[:start] + block + (text[nxt + 1 :] if nxt != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + block
    DOCS.write_text(text)


def _fleet(spec: str) -> tuple[int, int, int]:
    size, _, seed = spec.partition(":")
    aircraft, _, days = size.partition("x")
    return int(aircraft), int(days), int(seed or 7)


def main(argv: list[str]) -> int:
    """Run the benchmark and write its section of docs/benchmarks.md."""
    parser = argparse.ArgumentParser(prog="ml_bench")
    parser.add_argument("--fleet", action="append", help="AIRCRAFTxDAYS[:SEED], repeatable")
    parser.add_argument("--landing", type=Path, help="landing zone to copy for the largest fleet")
    parser.add_argument("--data-dir", type=Path, help="keep each fleet's data here")
    parser.add_argument("--reuse", action="store_true", help="reuse gold tables in --data-dir")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    fleets = [_fleet(s) for s in (args.fleet or ["200x365:7", "500x365:42"])]
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.data_dir or Path(tmp)
        largest = max(fleets)
        for aircraft, days, seed in fleets:
            landing = args.landing if (aircraft, days, seed) == largest else None
            root = base / f"f{aircraft}x{days}"
            runs.append(run_fleet(aircraft, days, seed, root, landing, args.reuse))
    section = [
        f"`python -m benchmarks.run ml` (benchmarks/ml_bench.py), run {started} on {_machine()}, "
        "shared with other engineers' jobs (load average given per run as 1/5/15 min). "
        "LightGBM and IsolationForest on 1 thread, Optuna off (fixed parameters), horizon 14 "
        "days, threshold chosen on validation for recall 0.8 with precision at least 0.2.",
    ]
    for run in runs:
        section += ["", f"### {run.name} days, real path", "", *run.accuracy, "", *run.speed]
        section += ["", *[f"- {n}" for n in run.notes]]
    print("\n".join(section))
    if not args.no_write:
        _write(section)
    return 0
