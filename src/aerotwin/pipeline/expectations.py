"""Expectations compiled to SQL: which rule a row breaks, what is kept, what is quarantined.

Drop and fail rules are checked in declaration order and a row is attributed to the first one
it breaks (`__rule`); warn rules are flagged independently (`__warn_<i>`) and never remove a
row. NULL counts as breaking a rule, so a rule cannot pass by accident on missing data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from aerotwin.pipeline.definitions import Expectation


class ExpectationFailed(RuntimeError):
    """A `fail` expectation was broken: the run stops before the table is written."""

    def __init__(self, table: str, rule: str, rows: int) -> None:
        super().__init__(f"table {table}: expectation {rule!r} failed on {rows} row(s)")
        self.table, self.rule, self.rows = table, rule, rows


def broken(condition: str) -> str:
    """SQL that is TRUE when `condition` is not TRUE (FALSE or NULL)."""
    return f"NOT COALESCE(({condition}), false)"


def warn_column(index: int) -> str:
    """The stage column flagging rows that break warn expectation number `index`."""
    return f"__warn_{index}"


def stage_sql(view: str, columns: Sequence[str], expectations: Sequence[Expectation]) -> str:
    """SQL over the definition's view adding `__rule` and the warn flags.

    The raw record (`__raw`) is kept only on rows that break a rule, to save memory.
    """
    rules = [e for e in expectations if e.action != "warn"]
    rule = (
        "CASE " + " ".join(f"WHEN {broken(e.condition)} THEN '{e.name}'" for e in rules) + " END"
        if rules
        else "CAST(NULL AS VARCHAR)"
    )
    warns = [
        f"{broken(e.condition)} AS {warn_column(i)}"
        for i, e in enumerate(expectations)
        if e.action == "warn"
    ]
    kept = [c for c in columns if c != "__raw"]
    raw = ["CASE WHEN __rule IS NOT NULL THEN __raw END AS __raw"] if "__raw" in columns else []
    inner = ", ".join(["*", f"{rule} AS __rule", *warns])
    outer = ", ".join([*kept, *raw, "__rule", *(w.rsplit(" AS ", 1)[1] for w in warns)])
    return f"SELECT {outer} FROM (SELECT {inner} FROM {view}) AS checked"


def split_sql(
    stage: str, columns: Sequence[str], keys: Sequence[str], latest_by: Sequence[str]
) -> str:
    """SQL for the rows that are kept: no rule broken, one per key (the latest arrival).

    Duplicates are rare: only the rows of a repeated key are ranked (a window over every row
    sorted 1.25 M readings for a few hundred duplicates; finding the repeated keys is a hash
    aggregate, about twice as fast). The kept rows are read from `stage` in each branch, not
    from a CTE: DuckDB would materialize a CTE used twice (a copy of every row).
    """
    listed = ", ".join(columns)
    kept = f"SELECT {listed} FROM {stage} WHERE __rule IS NULL"
    if not (keys and latest_by):
        return kept
    order = ", ".join(f"{c} DESC" for c in latest_by)
    same = " AND ".join(f"d.{k} IS NOT DISTINCT FROM r.{k}" for k in keys)
    repeated = f"SELECT 1 FROM __repeated AS d WHERE {same}"
    return f"""WITH __repeated AS (
  SELECT {", ".join(keys)} FROM {stage} WHERE __rule IS NULL
  GROUP BY {", ".join(keys)} HAVING count(*) > 1
)
SELECT {listed} FROM {stage} AS r WHERE r.__rule IS NULL AND NOT EXISTS ({repeated})
UNION ALL
SELECT {listed} FROM (
  SELECT r.*, row_number() OVER (PARTITION BY {", ".join(keys)} ORDER BY {order}) AS __n
  FROM {stage} AS r WHERE r.__rule IS NULL AND EXISTS ({repeated})
) AS ranked WHERE __n = 1"""


def quarantine_sql(stage: str, table: str, run_id: str, columns: Sequence[str]) -> str:
    """SQL for the quarantined rows in the `quarantine` table's columns."""
    if "__raw" not in columns:
        raise ValueError(
            f"table {table}: a drop expectation needs a `__raw` column (the raw record) "
            "in the definition's SQL"
        )
    lineage = "_source_file" in columns and "_line" in columns
    source = "CAST(_source_file AS VARCHAR)" if lineage else "CAST(NULL AS VARCHAR)"
    line = "CAST(_line AS BIGINT)" if lineage else "CAST(NULL AS BIGINT)"
    record_id = (
        "_source_file || ':' || CAST(_line AS VARCHAR)"
        if lineage
        else "md5(CAST(__raw AS VARCHAR))"
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"""SELECT '{run_id}' AS run_id, '{table}' AS table_name, __rule AS rule,
       {record_id} AS record_id, CAST(__raw AS VARCHAR) AS raw_record,
       {source} AS source_file, {line} AS line,
       CAST('{now}' AS TIMESTAMPTZ) AS quarantined_ts
FROM {stage} WHERE __rule IS NOT NULL"""
