"""Spark's prerequisites on this machine: a missing Java is named before pyspark fails."""

from __future__ import annotations

import re
import socket
import stat
import time
from pathlib import Path

import pytest

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.spark_runtime import (
    SparkUnavailable,
    java_problem,
    java_version_problem,
    require_java,
    require_master,
    start_failure,
)


def _fake_jdk(root: Path, script: str = "") -> Path:
    java = root / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\n{script}")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return root


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_java_is_found_as_pysparks_launcher_finds_it(tmp_path: Path) -> None:
    jdk = _fake_jdk(tmp_path / "jdk")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert java_problem({"JAVA_HOME": str(jdk), "PATH": str(empty)}) is None
    assert java_problem({"PATH": f"{empty}:{jdk / 'bin'}"}) is None
    # JAVA_HOME wins over PATH, as in spark-class.
    assert java_problem({"JAVA_HOME": str(empty), "PATH": str(jdk / "bin")}) == (
        f"JAVA_HOME is {empty}, with no bin/java"
    )
    assert java_problem({"PATH": str(empty)}) == "no java on PATH and JAVA_HOME is not set"
    with pytest.raises(SparkUnavailable, match="Spark needs Java 17 or later: no java on PATH"):
        require_java({"PATH": str(empty)})


@pytest.mark.spark
def test_an_s3_root_without_the_s3a_jars_is_spark_unavailable_too(
    spark_session: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aerotwin.lakehouse.spark_engine import SparkEngine

    monkeypatch.setenv("AEROTWIN_IVY_DIR", str(tmp_path / "no-ivy"))
    lakehouse = Lakehouse("s3://bucket/lake", {"AWS_REGION": "us-east-1"})
    with pytest.raises(
        SparkUnavailable, match=re.escape("lakehouse.root s3://bucket/lake: this Spark")
    ):
        SparkEngine(lakehouse, session=spark_session)


def test_a_java_that_cannot_start_a_jvm_or_is_too_old_is_named_with_the_reason(
    tmp_path: Path,
) -> None:
    refuses = 'echo "Error: could not create the Java VM" >&2\nexit 1\n'
    broken = _fake_jdk(tmp_path / "broken", refuses)
    with pytest.raises(SparkUnavailable) as raised:
        require_java({"JAVA_HOME": str(broken)})
    assert str(raised.value).startswith(
        f"Spark needs Java 17 or later: JAVA_HOME/bin/java ({broken / 'bin' / 'java'}) cannot "
        "start a JVM (exit code 1: Error: could not create the Java VM)"
    )
    old = _fake_jdk(tmp_path / "old", "echo 'java version \"1.8.0_381\"' >&2\n")
    assert java_version_problem({"JAVA_HOME": str(old)}) == (
        f"JAVA_HOME/bin/java ({old / 'bin' / 'java'}) is Java 8"
    )
    new = _fake_jdk(tmp_path / "new", "echo 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    assert java_version_problem({"JAVA_HOME": str(new)}) is None
    require_java({"JAVA_HOME": str(new)})


def test_a_standalone_master_that_does_not_answer_fails_at_once_naming_the_setting() -> None:
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(SparkUnavailable) as raised:
        require_master(f"spark://127.0.0.1:{port}")
    assert time.monotonic() - started < 5  # not Spark's minute of retries
    assert str(raised.value).startswith(
        f"pipeline.spark_master spark://127.0.0.1:{port}: no Spark master answers "
        f"(127.0.0.1:{port}: Connection refused)"
    )
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        # One address of several answering is enough (a standby master is down).
        require_master(f"spark://127.0.0.1:{closed_port()},127.0.0.1:{port}")
    require_master("local[*]")


def test_a_session_that_fails_to_start_is_one_line_without_the_java_stack() -> None:
    java_error = (
        "An error occurred while calling None.org.apache.spark.api.java.JavaSparkContext.\n"
        ": java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.\n"
    ) + "\tat org.apache.spark.SparkContext.assertNotStopped(SparkContext.scala:122)\n" * 40
    failure = start_failure("spark://10.0.0.9:7077", RuntimeError(java_error))
    assert str(failure) == (
        "Spark could not start (pipeline.spark_master spark://10.0.0.9:7077): "
        "java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext."
    )
    assert len(str(start_failure("local[*]", RuntimeError("x" * 5000)))) < 400
