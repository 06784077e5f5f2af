"""Run benchmarks by name: `python -m benchmarks.run [NAME ...] [-- ARGS]` (all when none).

Each entry maps a name to a module with `main(argv: list[str]) -> int`. Add yours to BENCHMARKS.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: dict[str, str] = {
    "sim": "benchmarks.sim_bench",
    "rul": "benchmarks.rul_bench",
    "ml": "benchmarks.ml_bench",
    "gold": "benchmarks.gold_bench",
    "pipeline": "benchmarks.pipeline_bench",
}


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (or all) in order; the first failure's code is returned."""
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    unknown = [name for name in args if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in args or list(BENCHMARKS):
        code = importlib.import_module(BENCHMARKS[name]).main(extra)
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
