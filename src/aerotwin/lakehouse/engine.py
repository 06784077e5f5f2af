"""The engine interface: run DuckDB-dialect SQL over lakehouse tables and write the results.

Table definitions are written once, in DuckDB's SQL dialect; the Spark engine transpiles them
with SQLGlot. The runner talks only to this interface, so the engine is a setting, not an
`if spark:` scattered through the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

from aerotwin.lakehouse.delta import Lakehouse, WriteMode

ENGINES = ("duckdb", "spark")
# Bronze's batch: the version that added a row; the runner reads later batches incrementally.
BATCH_COLUMN = "_batch_id"


class Engine(Protocol):
    """What the pipeline runner needs from an execution engine."""

    name: str
    lakehouse: Lakehouse

    def register_table(self, view: str, table: str, after_batch: int | None = None) -> None:
        """Expose lakehouse table `table` as view `view`; with `after_batch`, only its rows
        of later batches (`BATCH_COLUMN`: the bronze version that added them)."""

    def register_arrow(self, view: str, data: pa.Table) -> None:
        """Expose an in-memory Arrow table as view `view`."""

    def view(self, view: str, sql: str) -> None:
        """Define view `view` as `sql` (evaluated lazily, where it is used)."""

    def materialize(self, view: str, sql: str) -> None:
        """Compute `sql` once and keep the result as view `view` for the following steps."""

    def drop(self, *views: str) -> None:
        """Forget the views and release what they hold."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a small query and return its rows."""

    def columns(self, view: str) -> list[str]:
        """The column names of view `view`, in order."""

    def to_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as Arrow (small results: tests, CLI)."""

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
        """Write view `view` to lakehouse table `table` in one commit; returns the version."""

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
        """Upsert view `view` into `table` on `keys` in one commit; returns the version."""

    def close(self) -> None:
        """Release the engine's resources."""


def open_engine(name: str, lakehouse: Lakehouse, settings: Any | None = None) -> Engine:
    """Build the engine called `name` over `lakehouse` (Spark needs the `spark` extra)."""
    if name == "duckdb":
        from aerotwin.lakehouse.duckdb_engine import DuckDBEngine

        threads = settings.pipeline.duckdb_threads if settings is not None else None
        return DuckDBEngine(lakehouse, threads=threads)
    if name == "spark":
        from aerotwin.lakehouse.spark_engine import SparkEngine

        if settings is None:
            return SparkEngine(lakehouse)
        pipeline = settings.pipeline
        return SparkEngine(lakehouse, master=pipeline.spark_master, s3a=pipeline.spark_s3a)
    raise ValueError(f"engine: unknown engine {name!r} (choose one of {', '.join(ENGINES)})")
