"""Delta Lake jars for Spark: fetched once at install time into a project-local Ivy folder.

`python -m aerotwin.lakehouse.spark_jars` (run by the Makefile's install step) resolves
`io.delta:delta-spark_<spark>_<scala>:<version>` and its dependencies from Maven Central into
`.ivy2/`, and Hadoop's S3A filesystem (hadoop-aws, for a lakehouse on S3) into `.ivy2/s3/`;
Spark sessions then load the jars from there, so nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aerotwin.lakehouse.spark_runtime import SparkUnavailable

SCALA_VERSION = "2.13"
# The pip package delta-spark 4.4.1 only changed Python files; Maven Central's newest jar is 4.4.0.
DELTA_JAR_VERSION = "4.4.0"
# The AWS SDK each Hadoop release of pyspark's own jars builds hadoop-aws against (its
# hadoop-project pom, `aws-java-sdk-v2.version`).
AWS_SDK_FOR_HADOOP = {"3.5.0": "2.35.4"}
# hadoop-aws asks for the SDK's `bundle` of every service (686 MB): S3A needs S3 and STS.
AWS_SDK_BUNDLE = "software.amazon.awssdk:bundle"
AWS_SDK_MODULES = ("s3", "s3-transfer-manager", "sts")
# What pyspark's own jars already hold (other versions of them would only shadow or clash).
PROVIDED_BY_SPARK = (
    *(
        f"io.netty:netty-{m}"
        for m in (
            "buffer",
            "codec",
            "codec-http",
            "codec-http2",
            "common",
            "handler",
            "resolver",
            "transport",
            "transport-classes-epoll",
            "transport-native-unix-common",
        )
    ),
    "org.apache.httpcomponents:httpclient",
    "org.apache.httpcomponents:httpcore",
    "commons-codec:commons-codec",
    "commons-logging:commons-logging",
    "org.slf4j:slf4j-api",
)


def delta_artifact() -> str:
    """The Maven coordinate of the delta-spark jar matching the installed pyspark."""
    import pyspark

    spark_major_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_major_minor}_{SCALA_VERSION}:{DELTA_JAR_VERSION}"


def hadoop_version() -> str:
    """The Hadoop release inside pyspark's own jars (`hadoop-client-api-<version>.jar`)."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    if not found:
        raise RuntimeError(f"no hadoop-client-api jar in {jars}: is pyspark installed whole?")
    return found[-1].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def s3_artifacts() -> list[str]:
    """Maven coordinates of S3A for pyspark's Hadoop: hadoop-aws and the SDK modules it uses."""
    hadoop = hadoop_version()
    sdk = AWS_SDK_FOR_HADOOP.get(hadoop)
    if sdk is None:
        raise RuntimeError(
            f"pyspark bundles Hadoop {hadoop}: add the AWS SDK version its hadoop-aws needs "
            "(hadoop-project pom, aws-java-sdk-v2.version) to AWS_SDK_FOR_HADOOP"
        )
    modules = [f"software.amazon.awssdk:{m}:{sdk}" for m in AWS_SDK_MODULES]
    return [f"org.apache.hadoop:hadoop-aws:{hadoop}", *modules]


def default_ivy_dir() -> Path:
    """`.ivy2/` at the project root (the checkout this package is installed from, editable)."""
    env = os.environ.get("AEROTWIN_IVY_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / ".ivy2"


def local_jars(ivy_dir: Path | None = None) -> list[Path]:
    """The fetched jars; raises SparkUnavailable with the fix when they are missing."""
    jars_dir = (ivy_dir or default_ivy_dir()) / "jars"
    jars = sorted(jars_dir.glob("*.jar")) if jars_dir.is_dir() else []
    if not any(j.name.startswith("io.delta_delta-spark") for j in jars):
        raise SparkUnavailable(
            f"Delta Lake jars not found in {jars_dir}: run `make jars` (or "
            "`python -m aerotwin.lakehouse.spark_jars`) once with network access and a JDK"
        )
    return jars


def s3_jars(ivy_dir: Path | None = None) -> list[Path]:
    """The fetched S3A jars (hadoop-aws and the AWS SDK); empty when they were not fetched."""
    jars_dir = (ivy_dir or default_ivy_dir()) / "s3" / "jars"
    jars = sorted(jars_dir.glob("*.jar")) if jars_dir.is_dir() else []
    return jars if any(j.name.startswith("org.apache.hadoop_hadoop-aws") for j in jars) else []


def _resolve(packages: list[str], ivy: Path, excludes: tuple[str, ...] = ()) -> None:
    """Have Spark's Ivy resolve `packages` from Maven Central into `ivy`/jars.

    In a process of its own: Spark resolves packages only when it starts its JVM, once
    per Python process.
    """
    ivy.mkdir(parents=True, exist_ok=True)
    conf = {
        "spark.jars.packages": ",".join(packages),
        "spark.jars.ivy": str(ivy),
        "spark.ui.enabled": "false",
    }
    if excludes:
        conf["spark.jars.excludes"] = ",".join(excludes)
    script = (
        "import sys, json\n"
        "from pyspark.sql import SparkSession\n"
        "builder = SparkSession.builder.master('local[1]').appName('aerotwin-fetch-jars')\n"
        "for key, value in json.loads(sys.argv[1]).items():\n"
        "    builder = builder.config(key, value)\n"
        "builder.getOrCreate().stop()\n"
    )
    subprocess.run([sys.executable, "-c", script, json.dumps(conf)], check=True)


def fetch(ivy_dir: Path | None = None) -> list[Path]:
    """Resolve the Delta jars into `ivy_dir`, and S3A's into `ivy_dir`/s3."""
    ivy = (ivy_dir or default_ivy_dir()).resolve()
    _resolve([delta_artifact()], ivy)
    _resolve(s3_artifacts(), ivy / "s3", (AWS_SDK_BUNDLE, *PROVIDED_BY_SPARK))
    return [*local_jars(ivy), *s3_jars(ivy)]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    for jar in fetch(target):
        print(jar)
