"""Delta Lake jars for Spark: fetched once at install time into a project-local Ivy folder.

`python -m aerotwin.lakehouse.spark_jars` (run by the Makefile's install step) resolves
`io.delta:delta-spark_<spark>_<scala>:<version>` and its dependencies from Maven Central into
`.ivy2/`; Spark sessions then load the jars from there, so nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SCALA_VERSION = "2.13"
# The pip package delta-spark 4.4.1 only changed Python files; Maven Central's newest jar is 4.4.0.
DELTA_JAR_VERSION = "4.4.0"


def delta_artifact() -> str:
    """The Maven coordinate of the delta-spark jar matching the installed pyspark."""
    import pyspark

    spark_major_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_major_minor}_{SCALA_VERSION}:{DELTA_JAR_VERSION}"


def default_ivy_dir() -> Path:
    """`.ivy2/` at the project root (the checkout this package is installed from, editable)."""
    env = os.environ.get("AEROTWIN_IVY_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / ".ivy2"


def local_jars(ivy_dir: Path | None = None) -> list[Path]:
    """The fetched jars; raises RuntimeError with the fix when they are missing."""
    jars_dir = (ivy_dir or default_ivy_dir()) / "jars"
    jars = sorted(jars_dir.glob("*.jar")) if jars_dir.is_dir() else []
    if not any(j.name.startswith("io.delta_delta-spark") for j in jars):
        raise RuntimeError(
            f"Delta Lake jars not found in {jars_dir}: run `make jars` (or "
            "`python -m aerotwin.lakehouse.spark_jars`) once with network access and a JDK"
        )
    return jars


def fetch(ivy_dir: Path | None = None) -> list[Path]:
    """Resolve the Delta jars from Maven Central into `ivy_dir` by starting Spark once."""
    from pyspark.sql import SparkSession

    ivy = (ivy_dir or default_ivy_dir()).resolve()
    ivy.mkdir(parents=True, exist_ok=True)
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("aerotwin-fetch-delta-jars")
        .config("spark.jars.packages", delta_artifact())
        .config("spark.jars.ivy", str(ivy))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.stop()
    return local_jars(ivy)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    for jar in fetch(target):
        print(jar)
