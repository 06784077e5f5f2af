"""What a Spark session needs on this machine before it can start: a JVM to run in, and a
master that answers."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Spark's standalone client waits for a master that does not answer for 3 x 20 s, fixed in
# its code (StandaloneAppClient; no setting): the master is asked here first, for this long.
MASTER_TIMEOUT_S = 5.0
STANDALONE_PORT = 7077  # a spark:// URL without a port
JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
# A Java exception's text as py4j gives it: the call, then the exception, then its frames.
_PY4J_CALL = re.compile(r"^An error occurred while calling \S+\.?$")
MESSAGE_CHARS = 300  # of a start failure's reason: its first line, no stack


class SparkUnavailable(RuntimeError):
    """Spark cannot start here; the message says what is missing and how to get it."""


def _java(environ: Mapping[str, str]) -> tuple[str, str | None]:
    """The Java pyspark's launcher would run: (how it is found, its path; None: not found).

    The launcher runs `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` on PATH.
    """
    home = environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        return "JAVA_HOME/bin/java", str(java) if os.access(java, os.X_OK) else None
    return "java on PATH", shutil.which("java", path=environ.get("PATH", ""))


def java_problem(environ: Mapping[str, str]) -> str | None:
    """Why pyspark's launcher would find no Java (None: it finds one)."""
    if _java(environ)[1] is not None:
        return None
    if home := environ.get("JAVA_HOME"):
        return f"JAVA_HOME is {home}, with no bin/java"
    return "no java on PATH and JAVA_HOME is not set"


def java_version_problem(environ: Mapping[str, str]) -> str | None:
    """Why the Java found (`java_problem` None) cannot run Spark: `java -version` fails,
    or names a Java older than 17 (None: it runs, or says nothing we can read)."""
    named, java = _java(environ)
    if java is None:
        return None
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, env=dict(environ)
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{named} ({java}) does not run: {exc}"
    said = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    if done.returncode != 0:
        why = said[-1] if said else "no message"
        return f"{named} ({java}) cannot start a JVM (exit code {done.returncode}: {why})"
    found = JAVA_VERSION.search(" ".join(said))  # after any "Picked up JAVA_TOOL_OPTIONS"
    if found is not None:
        major = int(found[2] or 0) if found[1] == "1" else int(found[1])  # 1.8 is Java 8
        if major < 17:
            return f"{named} ({java}) is Java {major}"
    return None


def require_java(environ: Mapping[str, str]) -> None:
    """Raise SparkUnavailable when Spark would find no Java to start its JVM with, or one
    that cannot start it."""
    problem = java_problem(environ) or java_version_problem(environ)
    if problem is not None:
        raise SparkUnavailable(
            f"Spark needs Java 17 or later: {problem} (install a JDK, e.g. "
            "`apt-get install openjdk-17-jre-headless`, or set JAVA_HOME)"
        )


def master_problem(master: str, timeout_s: float = MASTER_TIMEOUT_S) -> str | None:
    """Why standalone master URL `master` (spark://host:port[,host:port]) cannot be reached:
    no address of it accepts a connection within `timeout_s` (None: one does, or `master`
    is no standalone URL)."""
    if not master.startswith("spark://"):
        return None
    reasons = []
    for address in (a.strip() for a in master.removeprefix("spark://").split(",")):
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "")
        try:
            with socket.create_connection((host, int(port or STANDALONE_PORT)), timeout_s):
                return None
        except (OSError, ValueError) as exc:
            reasons.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
    return "; ".join(reasons)


def require_master(master: str) -> None:
    """Raise SparkUnavailable, at once, when standalone master `master` does not answer."""
    problem = master_problem(master)
    if problem is not None:
        raise SparkUnavailable(
            f"pipeline.spark_master {master}: no Spark master answers ({problem}); start "
            "the master, or set pipeline.spark_master to local[*] to run Spark in process"
        )


def start_failure(master: str, exc: BaseException) -> SparkUnavailable:
    """A Spark session that failed to start (`exc`), as one line: the master and the first
    line of the reason (a Java exception's, without its stack)."""
    lines = [line.strip().removeprefix(": ").strip() for line in str(exc).splitlines()]
    reason = next(
        (line for line in lines if line and not _PY4J_CALL.match(line)), type(exc).__name__
    )
    if len(reason) > MESSAGE_CHARS:
        reason = reason[: MESSAGE_CHARS - 3] + "..."
    return SparkUnavailable(f"Spark could not start (pipeline.spark_master {master}): {reason}")
