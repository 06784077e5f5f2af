"""Which tables the pipeline has: the modules that declare them, and the graph between them.

To add tables (e.g. gold), write a module with a `tables() -> list[TableDef]` function and
list it in PIPELINE_MODULES; the runner derives the order from each table's `inputs`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from aerotwin.pipeline.definitions import DefinitionError, TableDef
from aerotwin.pipeline.events import EVENTS_TABLE, QUARANTINE_TABLE

PIPELINE_MODULES: tuple[str, ...] = (
    "aerotwin.pipeline.feeds",
    "aerotwin.pipeline.silver_telemetry",
    "aerotwin.twin.risk_tables",  # written by `aerotwin score`; the twin views read them
    "aerotwin.twin.gold",
)

RESERVED = (EVENTS_TABLE, QUARANTINE_TABLE)


def load_tables(
    modules: Iterable[str] = PIPELINE_MODULES, layers: Iterable[str] | None = None
) -> list[TableDef]:
    """Every declared table (of `layers`, when given), in dependency order."""
    declared: list[TableDef] = []
    for name in modules:
        declared.extend(importlib.import_module(name).tables())
    tables = ordered(declared)
    if layers is None:
        return tables
    wanted = set(layers)
    return [t for t in tables if t.layer in wanted]


def ordered(tables: list[TableDef]) -> list[TableDef]:
    """Tables sorted so each comes after its inputs (stable: declaration order otherwise).

    Raises DefinitionError for a duplicate name, an unknown input or a cycle.
    """
    by_name: dict[str, TableDef] = {}
    for table in tables:
        if table.name in by_name or table.name in RESERVED:
            raise DefinitionError(f"table {table.name}: declared twice or a reserved name")
        by_name[table.name] = table
    for table in tables:
        for inp in table.inputs:
            if inp not in by_name:
                raise DefinitionError(f"table {table.name}: unknown input {inp!r}")
    done: list[TableDef] = []
    seen: set[str] = set()
    visiting: set[str] = set()

    def visit(table: TableDef) -> None:
        if table.name in seen:
            return
        if table.name in visiting:
            raise DefinitionError(f"table {table.name}: its inputs form a cycle")
        visiting.add(table.name)
        for inp in table.inputs:
            visit(by_name[inp])
        visiting.discard(table.name)
        seen.add(table.name)
        done.append(table)

    for table in sorted(tables, key=lambda t: ("bronze", "silver", "gold").index(t.layer)):
        visit(table)
    return done
