"""What a Spark session needs on this machine before it can start: a JVM to run in."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path


class SparkUnavailable(RuntimeError):
    """Spark cannot start here; the message says what is missing and how to get it."""


def java_problem(environ: Mapping[str, str]) -> str | None:
    """Why pyspark's launcher would find no Java (None: it finds one).

    The launcher runs `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` on PATH.
    """
    home = environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        return None if os.access(java, os.X_OK) else f"JAVA_HOME is {home}, with no bin/java"
    if shutil.which("java", path=environ.get("PATH", "")) is None:
        return "no java on PATH and JAVA_HOME is not set"
    return None


def require_java(environ: Mapping[str, str]) -> None:
    """Raise SparkUnavailable when Spark would find no Java to start its JVM with."""
    problem = java_problem(environ)
    if problem is not None:
        raise SparkUnavailable(
            f"Spark needs Java 17 or later: {problem} (install a JDK, e.g. "
            "`apt-get install openjdk-17-jre-headless`, or set JAVA_HOME)"
        )
