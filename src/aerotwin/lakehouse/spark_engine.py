"""The scale engine: PySpark with delta-spark, running the same DuckDB-dialect SQL via SQLGlot."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from functools import lru_cache
from typing import Any

import pyarrow as pa
import sqlglot

from aerotwin.lakehouse.delta import TABLE_PROPERTIES, Lakehouse, WriteMode
from aerotwin.lakehouse.engine import BATCH_COLUMN
from aerotwin.lakehouse.spark_jars import local_jars, s3_jars
from aerotwin.lakehouse.spark_runtime import (
    SparkUnavailable,
    require_java,
    require_master,
    start_failure,
)
from aerotwin.lakehouse.spark_storage import hadoop_options, ships_s3a

USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
SKIP_EMPTY_COMMITS_CONF = "spark.databricks.delta.skipRecordingEmptyCommits"


@lru_cache(maxsize=512)
def to_spark_sql(duckdb_sql: str) -> str:
    """DuckDB SQL transpiled to Spark SQL (one definition, two engines)."""
    return sqlglot.transpile(duckdb_sql, read="duckdb", write="spark")[0]


def build_session(
    master: str = "local[*]",
    shuffle_partitions: int = 4,
    small_data: bool = False,
    s3a: bool | None = None,
) -> Any:
    """A Spark session with Delta Lake from the project-local jars (no download at run time).

    A local or standalone session also gets S3A (hadoop-aws; `s3a`: see `ships_s3a`).
    `small_data` (tests, demos) interprets queries instead of compiling them: on a few
    thousand rows, Spark spends far longer generating code than running it.
    """
    from pyspark.sql import SparkSession

    require_java(os.environ)  # else pyspark fails with "Java gateway process exited"
    require_master(master)  # else Spark retries an unreachable master for a minute
    found = [*local_jars(), *(s3_jars() if ships_s3a(master, s3a) else [])]
    jars = ",".join(str(j) for j in found)
    builder = SparkSession.builder
    if small_data:
        builder = builder.config("spark.sql.codegen.wholeStage", "false").config(
            "spark.sql.codegen.factoryMode", "NO_CODEGEN"
        )
    builder = (
        builder.master(master)
        .appName("aerotwin")
        .config("spark.jars", jars)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Delta's log replay defaults to 50 partitions, far too many for a laptop table.
        .config("spark.databricks.delta.snapshotPartitions", str(shuffle_partitions))
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.databricks.delta.schema.autoMerge.enabled", "false")
        # The tables' properties as the DuckDB engine creates them (`TABLE_PROPERTIES`).
        .config(
            "spark.databricks.delta.properties.defaults.checkpointInterval",
            TABLE_PROPERTIES["delta.checkpointInterval"],
        )
    )
    try:
        return builder.getOrCreate()
    except Exception as exc:  # a Java stack or a page of retries: one line, the reason
        raise start_failure(master, exc) from exc


class SparkEngine:
    """Runs the pipeline's SQL on Spark; reads and writes the lakehouse tables with delta-spark."""

    name = "spark"

    def __init__(
        self,
        lakehouse: Lakehouse,
        master: str = "local[*]",
        session: Any = None,
        s3a: bool | None = None,
    ) -> None:
        self.lakehouse = lakehouse
        self._owns_session = session is None
        self.spark = session or build_session(master, s3a=s3a)
        # Spark's default writes timestamps as legacy INT96, which other readers (DuckDB, the
        # default engine) take for zone-less times: the table's next DuckDB run then failed.
        self.spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        # A merge with nothing to write still commits, as the DuckDB engine's does: the commit
        # carries the table's watermark (else the batch is redone by every later run) and
        # metrics of 0 rows (else the previous commit's counts are read back as this one's).
        self.spark.conf.set(SKIP_EMPTY_COMMITS_CONF, "false")
        self._reach_store(s3a)
        self._cached: dict[str, Any] = {}
        self._tables: dict[tuple[str, int | None], Any] = {}

    def _reach_store(self, s3a: bool | None) -> None:
        """Give the session's Hadoop configuration the lakehouse's object-store settings."""
        own = ships_s3a(str(self.spark.sparkContext.master), s3a)
        options = hadoop_options(
            self.lakehouse.root, self.lakehouse.storage_options, os.environ, own_s3a=own
        )
        if not options:
            return
        if own and not s3_jars():
            raise SparkUnavailable(
                f"lakehouse.root {self.lakehouse.root}: this Spark session needs Hadoop's "
                "S3A jars: run `make jars` (or `python -m aerotwin.lakehouse.spark_jars`) once"
            )
        conf = self.spark.sparkContext._jsc.hadoopConfiguration()
        for key, value in options.items():
            conf.set(key, value)

    def _sql(self, duckdb_sql: str) -> Any:
        return self.spark.sql(to_spark_sql(duckdb_sql))

    def register_table(self, view: str, table: str, after_batch: int | None = None) -> None:
        """Expose lakehouse table `table` as view `view` (`after_batch`: see `Engine`)."""
        # Reading a Delta table replays its log (a Spark job): reuse it while its version holds.
        key = (table, self.lakehouse.version(table))
        frame = self._tables.get(key)
        if frame is None:
            frame = self.spark.read.format("delta").load(self.lakehouse.uri(table))
            self._tables = {k: v for k, v in self._tables.items() if k[0] != table}
            self._tables[key] = frame
        if after_batch is not None:
            # Delta's data skipping reads only the files of later batches (their statistics).
            frame = frame.where(frame[BATCH_COLUMN] > int(after_batch))
        frame.createOrReplaceTempView(view)

    def register_arrow(self, view: str, data: pa.Table) -> None:
        """Expose an in-memory Arrow table as view `view`."""
        self.spark.createDataFrame(data).createOrReplaceTempView(view)

    def view(self, view: str, sql: str) -> None:
        """Define view `view` as `sql` (evaluated lazily, where it is used)."""
        self._sql(sql).createOrReplaceTempView(view)

    def materialize(self, view: str, sql: str) -> None:
        """Compute `sql` once (cached) and keep it as view `view`."""
        self.drop(view)
        # Cached lazily: the first query over the view fills the cache, the next ones reuse it.
        frame = self._sql(sql).cache()
        self._cached[view] = frame
        frame.createOrReplaceTempView(view)

    def drop(self, *views: str) -> None:
        """Forget the views and unpersist them."""
        for view in views:
            frame = self._cached.pop(view, None)
            if frame is not None:
                frame.unpersist()
            self.spark.catalog.dropTempView(view)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a small query and return its rows."""
        return [tuple(r) for r in self._sql(sql).collect()]

    def columns(self, view: str) -> list[str]:
        """The column names of view `view`, in order."""
        return list(self.spark.table(view).columns)

    def to_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as Arrow."""
        return self._sql(sql).toArrow()

    def write(
        self,
        table: str,
        view: str,
        mode: WriteMode,
        *,
        partition_by: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        keys: Sequence[str] = (),
    ) -> int:
        """Write view `view` to lakehouse table `table` in one Delta commit."""
        writer = self.spark.table(view).write.format("delta").mode(mode)
        if mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        if metadata:
            writer = writer.option("userMetadata", json.dumps(dict(metadata), default=str))
        writer.save(self.lakehouse.uri(table))
        return self.lakehouse.committed(table)  # Spark committed it, not the Lakehouse object

    def merge(
        self,
        table: str,
        view: str,
        keys: Sequence[str],
        *,
        update_when: str | None = None,
        insert_only: bool = False,
        delete_unmatched_where: str | None = None,
        partition_by: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Upsert view `view` into `table` on `keys` in one Delta commit."""
        from delta.tables import DeltaTable

        if not self.lakehouse.exists(table):
            return self.write(table, view, "append", partition_by=partition_by, metadata=metadata)
        condition = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        target = DeltaTable.forPath(self.spark, self.lakehouse.uri(table)).alias("t")
        builder = target.merge(self.spark.table(view).alias("s"), condition)
        if not insert_only:
            builder = builder.whenMatchedUpdateAll(condition=update_when)
        builder = builder.whenNotMatchedInsertAll()
        if delete_unmatched_where:
            builder = builder.whenNotMatchedBySourceDelete(condition=delete_unmatched_where)
        if metadata:
            self.spark.conf.set(USER_METADATA_CONF, json.dumps(dict(metadata), default=str))
        try:
            builder.execute()
        finally:
            self.spark.conf.unset(USER_METADATA_CONF)
        return self.lakehouse.committed(table)

    def cancel(self) -> None:
        """Cancel every running Spark job of the session (a second Ctrl-C): the threads
        waiting on them get an error at once instead of waiting for the job's end."""
        self.spark.sparkContext.cancelAllJobs()

    def close(self) -> None:
        """Unpersist cached views; stop the session if this engine started it: each of them,
        also after one failed (its error is raised once all were tried)."""
        with ExitStack() as closing:  # callbacks run last in, first out: the session last
            if self._owns_session:
                closing.callback(self.spark.stop)
            for view in list(self._cached):
                closing.callback(self.drop, view)
