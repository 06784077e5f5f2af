"""Engine RUL on the full C-MAPSS subset (default FD001): accuracy, intervals, training time.

`python -m benchmarks.run rul -- [--data DIR] [--subset FD001] [--seeds 3]` trains the model
exactly as `aerotwin evaluate cmapss` does (grouped 5-fold CV over the candidate settings on
the training units, refit, conformal calibration), scores the official test split, and prints
a markdown table for docs/benchmarks.md. Results also go to benchmarks/out/rul_<subset>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from rich.progress import Progress

from aerotwin.ml.cmapss import load_subset
from aerotwin.ml.rul import RulConfig, describe, evaluate, train_rul

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "cmapss"


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.machine()}"


def run(data_dir: Path, subset: str, seeds: int, threads: int) -> dict:
    """Train and evaluate once per seed; per-seed metrics and the machine description."""
    data = load_subset(data_dir, subset)
    runs = []
    for seed in range(seeds):
        config = RulConfig(seed=7 + seed, threads=threads)
        with Progress(transient=True) as progress:
            started = time.perf_counter()
            result = train_rul(data.train, subset, config, progress=progress)
            seconds = time.perf_counter() - started
        evaluation = evaluate(result.model, data)
        preds = evaluation.predictions
        example = preds.iloc[int((preds["rul"] - 40).abs().argmin())]
        runs.append(
            {
                "seed": config.seed,
                **evaluation.metrics,
                **result.cv,
                "train_seconds": seconds,
                "chosen": {k: result.params[k] for k in ("num_leaves", "min_child_samples")},
                "example": f"unit {int(example['unit'])}: {describe(example, config.coverage)}"
                f"; true {int(example['true_rul'])}",
            }
        )
        print(json.dumps(runs[-1]))
    return {"subset": subset, "machine": _machine(), "runs": runs}


def markdown(report: dict) -> str:
    """Rows for docs/benchmarks.md: each seed, then the mean."""
    keys = [
        ("test_rmse", "RMSE", ".2f"),
        ("test_phm08_score", "PHM08 score", ".0f"),
        ("test_rmse_capped", "RMSE (true capped 125)", ".2f"),
        ("test_phm08_score_capped", "score (capped)", ".0f"),
        ("test_coverage", "coverage (90 %)", ".2f"),
        ("test_mean_width", "mean width", ".1f"),
        ("cv_rmse", "CV RMSE", ".2f"),
        ("train_seconds", "train s", ".0f"),
    ]
    lines = [
        "| seed | " + " | ".join(label for _, label, _ in keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for r in report["runs"]:
        lines.append(f"| {r['seed']} | " + " | ".join(f"{r[k]:{f}}" for k, _, f in keys) + " |")
    means = {k: float(np.mean([r[k] for r in report["runs"]])) for k, _, _ in keys}
    lines.append("| mean | " + " | ".join(f"{means[k]:{f}}" for k, _, f in keys) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see module docstring)."""
    parser = argparse.ArgumentParser(prog="rul_bench", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--subset", default="FD001")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not (args.data / f"train_{args.subset}.txt").is_file():
        print(f"rul: C-MAPSS {args.subset} not found in {args.data.resolve()}; skipped")
        return 0
    report = run(args.data, args.subset, args.seeds, args.threads)
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rul_{args.subset}.json").write_text(json.dumps(report, indent=2))
    print(f"machine: {report['machine']}")
    print(markdown(report))
    return 0
