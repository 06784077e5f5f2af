"""How a table is declared: name, layer, inputs, SQL, expectations, write mode and keys.

A definition is data, not a script: the runner derives the graph from `inputs`, runs each
table on the configured engine and records the run in `pipeline_events`. SQL is written once,
in DuckDB's dialect; the Spark engine transpiles it with SQLGlot.

Adding a table (e.g. a gold table) is one declaration in a module listed in
`aerotwin.pipeline.registry.PIPELINE_MODULES`:

    TableDef(
        name="component_health_engine",
        layer="gold",
        inputs=("telemetry_engine",),
        sql="SELECT component_id, max(egt_c) AS max_egt_c FROM telemetry_engine GROUP BY ALL",
        expectations=(Expectation("egt_known", "max_egt_c IS NOT NULL", "warn"),),
        mode="overwrite",
        keys=("component_id",),
    )
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

Layer = Literal["bronze", "silver", "gold"]
Action = Literal["warn", "drop", "fail"]
Mode = Literal["overwrite", "merge", "append"]
LAYERS: tuple[Layer, ...] = ("bronze", "silver", "gold")
ACTIONS: tuple[Action, ...] = ("warn", "drop", "fail")

# Columns whose names start with this prefix help expectations and are never written.
HELPER_PREFIX = "__"


def new_rows_view(table: str) -> str:
    """The view of `table`'s rows added since the last build, for tables that scope on it."""
    return f"new_{table}"


class DefinitionError(ValueError):
    """A table declaration is inconsistent; the message names the table and the field."""


@dataclass(frozen=True)
class Expectation:
    """A row-level rule: `condition` (DuckDB SQL) must be TRUE; NULL counts as a failure.

    warn: keep the row and count it; drop: move it to `quarantine` with this rule's name and
    the raw record; fail: stop the run before anything of this table is written.
    """

    name: str
    condition: str
    action: Action = "drop"

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise DefinitionError(f"expectation {self.name}: action must be one of {ACTIONS}")


@dataclass(frozen=True)
class LandingSource:
    """Where a bronze table ingests from: a landing-zone feed and its file format."""

    feed: str
    format: Literal["jsonl", "csv"]
    # jsonl: the JSON keys typed into columns; csv: the columns every file's header must have
    fields: tuple[str, ...] = ()
    # reference data: one file re-read whenever its content changes (a snapshot, not a stream)
    snapshot: bool = False


@dataclass(frozen=True)
class External:
    """A table written outside the pipeline (e.g. by `aerotwin score`), declared so others read it.

    The runner never computes it: it creates it empty with `schema` when it is missing, so the
    tables that read it always can; `writer` names what fills it.
    """

    writer: str
    schema: pa.Schema


@dataclass(frozen=True)
class TableDef:
    """One table of the pipeline.

    name: the table's stable name; layer: bronze / silver / gold.
    inputs: tables the SQL reads, by name (the graph's edges).
    sql: a DuckDB-dialect SELECT over the inputs (absent for bronze, which has a `source`).
    expectations: rules checked on every row the SQL produces, in order.
    mode: overwrite (recomputed from all input rows when an input changed), merge (upsert on
        `keys`, only new rows of `incremental_input`), or append (only new rows).
    keys: the primary key; with `latest_by`, duplicates on the key keep the greatest `latest_by`.
    incremental_input: the input whose new rows (by `_batch_id`) are processed on an
        incremental run; the others are read whole. Full refresh reads it whole.
    scope_inputs: inputs that an incremental run also exposes as view `new_<input>`
        (`new_rows_view`), holding only their rows with `_batch_id` above the table's last
        build (all rows on a full build), so the SQL can recompute what those rows affect.
    external: instead of `sql` or `source`, a table another command writes (no inputs).
    """

    name: str
    layer: Layer
    inputs: tuple[str, ...] = ()
    sql: str | None = None
    expectations: tuple[Expectation, ...] = ()
    mode: Mode = "overwrite"
    keys: tuple[str, ...] = ()
    latest_by: tuple[str, ...] = ()
    incremental_input: str | None = None
    scope_inputs: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    source: LandingSource | None = None
    external: External | None = None
    description: str = ""
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        where = f"table {self.name}"
        if self.layer not in LAYERS:
            raise DefinitionError(f"{where}: layer must be one of {LAYERS}, got {self.layer!r}")
        if self.external is not None:
            if self.sql is not None or self.source is not None or self.inputs:
                raise DefinitionError(f"{where}: an external table has no sql, source or inputs")
            unknown = [k for k in self.keys if k not in self.external.schema.names]
            if unknown:
                raise DefinitionError(f"{where}: key column(s) {unknown} not in its schema")
        elif (self.source is None) == (self.sql is None):
            raise DefinitionError(f"{where}: declare exactly one of `sql` or `source`")
        if self.mode == "merge" and not self.keys:
            raise DefinitionError(f"{where}: mode 'merge' needs `keys`")
        if self.latest_by and not self.keys:
            raise DefinitionError(f"{where}: `latest_by` needs `keys`")
        if self.incremental_input and self.incremental_input not in self.inputs:
            raise DefinitionError(f"{where}: incremental_input must be one of its inputs")
        if any(s not in self.inputs for s in self.scope_inputs):
            raise DefinitionError(f"{where}: scope_inputs must be among its inputs")
        if self.scope_inputs and not self.incremental_input:
            raise DefinitionError(f"{where}: scope_inputs needs `incremental_input`")
        if self.mode in ("merge", "append") and self.source is None and not self.incremental_input:
            raise DefinitionError(f"{where}: mode {self.mode!r} needs `incremental_input`")
        names = [e.name for e in self.expectations]
        if len(set(names)) != len(names):
            raise DefinitionError(f"{where}: expectation names must be unique")

    def fingerprint(self) -> str:
        """A digest of what defines the table's rows (not its description or tags).

        The runner stores it with each build and rebuilds the table in full when it changes,
        so an edited rules file, SQL, expectation or key takes effect on the next run.
        """
        defining = {
            "inputs": self.inputs,
            "sql": self.sql,
            "expectations": [(e.name, e.condition, e.action) for e in self.expectations],
            "mode": self.mode,
            "keys": self.keys,
            "latest_by": self.latest_by,
            "incremental_input": self.incremental_input,
            "partition_by": self.partition_by,
        }
        if self.scope_inputs:  # only when set: other tables keep the digest of their builds
            defining["scope_inputs"] = self.scope_inputs
        return hashlib.sha256(json.dumps(defining, sort_keys=True).encode()).hexdigest()[:16]
