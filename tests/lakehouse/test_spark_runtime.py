"""Spark's prerequisites on this machine: a missing Java is named before pyspark fails."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.spark_runtime import SparkUnavailable, java_problem, require_java


def _fake_jdk(root: Path) -> Path:
    java = root / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return root


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
