"""The pipeline on a Spark cluster: a standalone master and worker on loopback, S3 by moto.

A standalone cluster runs pyspark's own Spark, which has no filesystem for `s3://`: the
session must bring S3A to its executors, as a local one does. The run happens in a child
process, since a process holds one SparkContext and the suite's is local.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aerotwin.config import Settings, with_section
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import run_pipeline

from .conftest import (
    assert_same_tables,
    free_port,
    hold_back_last_day,
    land_held_back,
    newest_commit_info,
    on_s3,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# One table is enough to show executors reach S3A; flights on Spark are tested locally.
ON_SPARK = ("telemetry_engine",)

CHILD = """
import sys
from aerotwin.config import Settings
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.engine import open_engine
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import run_pipeline

settings = Settings.model_validate_json(sys.argv[1])
keep = set(sys.argv[2].split(","))
declared = load_tables(layers=("bronze", "silver"))
tables = [t for t in declared if t.layer == "bronze" or t.name in keep]
engine = open_engine("spark", Lakehouse.from_settings(settings), settings)
try:
    result = run_pipeline(settings, engine=engine, tables=tables)
    print("CHANGED", ",".join(sorted(t.table_name for t in result.changed)))
    print("MASTER", engine.spark.sparkContext.master)
finally:
    engine.close()
"""


def _spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while text not in (log.read_text() if log.exists() else ""):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{log.name}: no {text!r}:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A standalone Spark master and one worker (1 core, 1 GiB) on loopback: (URL, work dir)."""
    base = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    daemons = []
    try:
        for name, args, ready in (
            ("master", ["org.apache.spark.deploy.master.Master", "--port", str(port)], "ALIVE"),
            (
                "worker",
                ["org.apache.spark.deploy.worker.Worker", url, "--cores", "1", "--memory", "1g"],
                "Successfully registered with master",
            ),
        ):
            log = base / f"{name}.log"
            common = ["--host", "127.0.0.1", "--webui-port", str(free_port())]
            extra = ["--work-dir", str(base / "work")] if name == "worker" else []
            with log.open("wb") as out:
                daemons.append(
                    subprocess.Popen(
                        [str(_spark_class()), *args, *common, *extra],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
            _wait_for(log, ready, daemons[-1], 90)
        yield url, base / "work"
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
            daemon.wait(timeout=30)


def test_a_standalone_cluster_runs_the_new_day_on_an_s3_lakehouse(
    fresh_landing: Settings,
    first_run: tuple[Settings, Any],
    s3_endpoint: str,
    standalone_cluster: tuple[str, Path],
    tmp_path: Path,
) -> None:
    url, work = standalone_cluster
    s3, settings = on_s3(fresh_landing, s3_endpoint, "cluster-lake", "prod")
    settings = with_section(settings, "pipeline", spark_master=url)
    parking = tmp_path / "parked"
    hold_back_last_day(settings.landing_dir, parking)
    run_pipeline(settings, tables=load_tables(layers=("bronze", "silver")))  # DuckDB's history
    land_held_back(parking, settings.landing_dir)

    child = subprocess.run(
        [sys.executable, "-c", CHILD, settings.model_dump_json(), ",".join(ON_SPARK)],
        capture_output=True,
        text=True,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in child.stdout.splitlines() if " " in line)
    assert lines["MASTER"] == url
    assert set(lines["CHANGED"].split(",")) >= set(ON_SPARK)
    # The executor ran on the worker (its folder holds the application's logs).
    assert any(work.glob("app-*/0/stderr"))
    info = newest_commit_info(s3, "cluster-lake", "prod/telemetry_engine")
    assert info["operation"] == "MERGE" and "Apache-Spark" in info["engineInfo"]
    local = Lakehouse.from_settings(first_run[0])
    assert_same_tables(Lakehouse.from_settings(settings), local, ON_SPARK)
