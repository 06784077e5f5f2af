"""Delta table I/O, the table catalog and the execution engines (DuckDB, Spark)."""
