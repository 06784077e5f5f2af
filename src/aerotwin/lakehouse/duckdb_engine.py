"""The default engine: DuckDB in process, reading Delta through deltalake's Arrow datasets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from aerotwin.lakehouse.delta import Lakehouse, WriteMode
from aerotwin.lakehouse.duckdb_merge import merge_files
from aerotwin.lakehouse.engine import BATCH_COLUMN
from aerotwin.lakehouse.files import (
    BATCH_ROWS,
    cluster_column,
    files_overlapping,
    scan_files,
    table_types,
    write_query,
)


def connect_utc(database: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose session time zone is UTC, as every timestamp we keep is:
    to a new in-memory database, or (a cursor) to `database`'s.

    The time zone is set per connection (a cursor does not inherit it), and after connecting:
    DuckDB 2.0.1 rejects `TimeZone` in `duckdb.connect(config=...)` (ICU is not loaded yet).
    """
    con = database.cursor() if database is not None else duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
    except BaseException:
        con.close()
        raise
    return con


class DuckDBEngine:
    """Runs DuckDB SQL over lakehouse tables; writes back through deltalake."""

    name = "duckdb"

    def __init__(
        self,
        lakehouse: Lakehouse,
        threads: int | None = None,
        database: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        """`database`: a connection whose database to share, on a connection of its own."""
        self.lakehouse = lakehouse
        self.con = connect_utc(database)
        # Insertion order is irrelevant to our tables; dropping it lets DuckDB stream in parallel.
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._keep: dict[str, Any] = {}
        self._kinds: dict[str, str] = {}  # what each name was created as: VIEW or TABLE

    def fork(self) -> DuckDBEngine:
        """An engine on another connection to the same database, for another thread.

        Temp tables and registered views belong to a connection: two forks never see each
        other's, so tables can run side by side under the same view names.
        """
        return DuckDBEngine(self.lakehouse, database=self.con)

    def register_table(self, view: str, table: str, after_batch: int | None = None) -> None:
        """Expose lakehouse table `table` as view `view` (`after_batch`: see `Engine`)."""
        condition = "" if after_batch is None else f" WHERE {BATCH_COLUMN} > {int(after_batch)}"
        files = self.lakehouse.plain_parquet_files(table)
        if files is not None:
            if after_batch is not None:
                # Only the files of later batches; one file if none (a view needs a schema).
                later = {BATCH_COLUMN: (int(after_batch) + 1, None)}
                files = files_overlapping(self.lakehouse, table, files, later) or files[:1]
            # DuckDB's own Parquet reader is several times faster than an Arrow dataset scan.
            # Later batches' files may lack a column the table has: it reads as NULL.
            source = scan_files(files, table_types(self.con, self.lakehouse, table))
        else:
            source = f"__src_{view}"
            dataset = self.lakehouse.scannable(table)
            self._keep[source] = dataset
            self.con.register(source, dataset)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {source}{condition}")
        self._kinds[view] = "VIEW"

    def register_arrow(self, view: str, data: pa.Table) -> None:
        """Expose an in-memory Arrow table as view `view`."""
        self._keep[view] = data
        self.con.register(view, data)

    def view(self, view: str, sql: str) -> None:
        """Define view `view` as `sql` (evaluated lazily, where it is used)."""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
        self._kinds[view] = "VIEW"

    def materialize(self, view: str, sql: str) -> None:
        """Compute `sql` once into a temp table `view`."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {view} AS {sql}")
        self._kinds[view] = "TABLE"

    def drop(self, *views: str) -> None:
        """Forget the views and temp tables; those this engine made go in one statement
        (each statement costs ~0.5 ms, and a table's run drops six)."""
        known = {v: self._kinds.pop(v) for v in views if v in self._kinds}
        if known:
            self.con.execute("; ".join(f"DROP {k} IF EXISTS {v}" for v, k in known.items()))
        for view in views:
            if view not in known:
                self._drop_either(view)
            source = f"__src_{view}"
            if self._keep.pop(source, None) is not None:
                self.con.unregister(source)
            if self._keep.pop(view, None) is not None:
                self.con.unregister(view)

    def _drop_either(self, name: str) -> None:
        """Drop `name` whether a view or a temp table (one made outside this engine)."""
        for kind in ("TABLE", "VIEW"):
            try:
                self.con.execute(f"DROP {kind} IF EXISTS {name}")
            except duckdb.CatalogException:
                continue  # the name is the other kind of object

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a small query and return its rows."""
        return self.con.execute(sql).fetchall()

    def columns(self, view: str) -> list[str]:
        """The column names of view `view`, in order."""
        if view in self._kinds:
            # Stored in the catalog when it was made: 0.5 ms, against 3-4 ms to bind the SQL
            # of a wide view again.
            found = self.con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' "
                "AND table_name = ? ORDER BY column_index",
                [view],
            ).fetchall()
            return [name for (name,) in found]
        return [d[0] for d in self.con.execute(f"SELECT * FROM {view} LIMIT 0").description]

    def to_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as Arrow."""
        return self.con.sql(sql).to_arrow_table()

    def _reader(self, view: str) -> pa.RecordBatchReader:
        return self.con.sql(f"SELECT * FROM {view}").to_arrow_reader(BATCH_ROWS)

    def _cluster_column(self, view: str, keys: Sequence[str]) -> str | None:
        """The first key that is a timestamp or a date: files are clustered by its month."""
        types = dict(
            self.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {view})").fetchall()
        )
        return cluster_column(types, keys)

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
        """Write view `view` into lakehouse table `table` in one commit.

        Local and unpartitioned: DuckDB writes the Parquet files (clustered by the month of
        the first temporal key), deltalake commits them; otherwise streamed to deltalake.
        """
        if partition_by or not self.lakehouse.is_local:
            return self.lakehouse.write(
                table, self._reader(view), mode, partition_by=partition_by, metadata=metadata
            )
        return write_query(
            self.lakehouse,
            self.con,
            f"SELECT * FROM {view}",
            table,
            mode,
            metadata=dict(metadata or {}),
            cluster_by=self._cluster_column(view, keys),
        )

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
        """Upsert view `view` into `table` on `keys` in one commit.

        A local table of plain Parquet files is merged by DuckDB (`duckdb_merge`): only the
        files holding matched keys are read and rewritten. Otherwise deltalake merges.
        """
        exists = self.lakehouse.exists(table)
        files = self.lakehouse.plain_parquet_files(table) if exists else None
        plain = (
            exists
            and self.lakehouse.is_local
            and not partition_by
            and (files is not None or self.lakehouse.state(table).rows == 0)
        )
        if plain:
            return merge_files(
                self.lakehouse,
                self.con,
                view,
                table,
                files or [],
                keys,
                update_when=update_when,
                insert_only=insert_only,
                delete_unmatched_where=delete_unmatched_where,
                metadata=dict(metadata or {}),
            )
        if not exists:
            return self.write(
                table, view, "append", partition_by=partition_by, metadata=metadata, keys=keys
            )
        return self.lakehouse.merge(
            table,
            self.to_arrow(f"SELECT * FROM {view}"),
            keys,
            update_when=update_when,
            insert_only=insert_only,
            delete_unmatched_where=delete_unmatched_where,
            partition_by=partition_by,
            metadata=metadata,
        )

    def close(self) -> None:
        """Close the connection."""
        self.con.close()
        self._keep.clear()
