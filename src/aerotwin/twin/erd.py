"""The data model as a Mermaid ER diagram, generated from the declarations and the catalog.

Keys come from the table declarations (`TableDef.keys`); column types from the lakehouse
catalog (the Delta schemas as written). Relationships are drawn from a table's column to the
reference or event table keyed by that column (aircraft_id -> aircraft, ...). The output goes
to `docs/data_model.md` and between the README's `<!-- erd:start -->` / `<!-- erd:end -->`
markers; a test regenerates it, so it cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aerotwin.lakehouse.catalog import entries
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.events import EVENTS_TABLE, QUARANTINE_KEYS, QUARANTINE_TABLE

START, END = "<!-- erd:start -->", "<!-- erd:end -->"
# Column -> the table whose one-column key it references.
REFERENCES = {
    "aircraft_id": "aircraft",
    "component_id": "components",
    "airport_code": "airports",
    "base_airport_code": "airports",
    "origin": "airports",
    "destination": "airports",
    "route_id": "routes",
    "flight_id": "flights",
}
BRONZE_KEYS = ("_source_file", "_line")
SYSTEM_KEYS = {QUARANTINE_TABLE: QUARANTINE_KEYS, EVENTS_TABLE: ("run_id", "table_name")}
SYSTEM_NOTES = {
    QUARANTINE_TABLE: "rejected rows with the rule that rejected them and the raw record",
    EVENTS_TABLE: "event log: one row per table per pipeline run (rows, expectations, time)",
}


class ErdError(RuntimeError):
    """The diagram cannot be written: tables missing, no README.md, or an erd marker missing."""


@dataclass(frozen=True)
class Entity:
    """One table in the diagram: its layer, key columns and referencing columns with types."""

    name: str
    layer: str
    keys: tuple[tuple[str, str], ...]
    refs: tuple[tuple[str, str, str], ...]  # (column, type, referenced table)
    columns: int
    description: str


def _type(arrow_type: str) -> str:
    word = re.split(r"[\[(<]", arrow_type)[0]
    return {"large_string": "string", "int64": "bigint", "int32": "int", "bool": "boolean"}.get(
        word, re.sub(r"\W", "_", word) or "unknown"
    )


def build_entities(lakehouse: Lakehouse, declared: list[TableDef]) -> list[Entity]:
    """Every declared table plus the system tables, with keys, references and column counts."""
    layers = {t.name: t.layer for t in declared} | {
        EVENTS_TABLE: "system",
        QUARANTINE_TABLE: "system",
    }
    by_name = {t.name: t for t in declared}
    catalog = {e.name: e for e in entries(lakehouse, layers)}
    missing = sorted(n for n in layers if n not in catalog)
    if missing:
        raise ErdError(
            f"table(s) not built yet: {', '.join(missing)}; run `aerotwin pipeline run` first"
        )
    targets = {v for v in REFERENCES.values()}
    out = []
    for name in sorted(
        layers, key=lambda n: (("bronze", "silver", "gold", "system").index(layers[n]), n)
    ):
        types = dict(catalog[name].columns)
        table = by_name.get(name)
        if table is not None and table.keys:
            keys = table.keys
        else:
            keys = SYSTEM_KEYS.get(name, BRONZE_KEYS if layers[name] == "bronze" else ())
        refs = []
        if layers[name] != "bronze":
            for column, target in REFERENCES.items():
                own_key = keys == (column,) and name == target
                if column in types and target in targets and target in layers and not own_key:
                    refs.append((column, _type(types[column]), target))
        out.append(
            Entity(
                name, layers[name],
                tuple((k, _type(types.get(k, "unknown"))) for k in keys),
                tuple(refs), len(types), table.description if table else SYSTEM_NOTES.get(name, ""),
            )
        )  # fmt: skip
    return out


def mermaid(entities: list[Entity]) -> str:
    """A Mermaid `erDiagram` of the entities: keys (PK), references (FK) and relationships."""
    lines = ["erDiagram"]
    for e in entities:
        lines.append(f"    {e.name} {{")
        key_names = {k for k, _ in e.keys}
        for column, kind in e.keys:
            fk = any(r[0] == column for r in e.refs)
            lines.append(f"        {kind} {column} {'PK, FK' if fk else 'PK'}")
        for column, kind, _ in e.refs:
            if column not in key_names:
                lines.append(f"        {kind} {column} FK")
        lines.append("    }")
    for e in entities:
        for column, _, target in e.refs:
            lines.append(f'    {target} ||--o{{ {e.name} : "{column}"')
    return "\n".join(lines)


def markdown(entities: list[Entity]) -> str:
    """The data-model page: the diagram, then every table with layer, key and column count."""
    rows = [
        f"| `{e.name}` | {e.layer} | {', '.join(k for k, _ in e.keys) or '-'} | {e.columns} "
        f"| {e.description} |"
        for e in entities
    ]
    return "\n".join(
        [
            "```mermaid",
            mermaid(entities),
            "```",
            "",
            "| table | layer | key | columns | what it holds |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def page(entities: list[Entity]) -> str:
    """The whole `docs/data_model.md`."""
    return (
        "# Data model\n\n"
        "Generated by `aerotwin docs erd` from the table declarations and the lakehouse catalog;"
        " do not edit by hand (a test fails when it differs from the generated output).\n"
        "Keys are marked PK; FK columns reference the table keyed by that column.\n\n"
        f"{markdown(entities)}\n"
    )


def readme_section(text: str, entities: list[Entity], name: str = "README.md") -> str:
    """`text` (the README) with the diagram between the erd markers (appended when absent).

    Raises ErdError naming `name` when only one of the two markers is there.
    """
    # The README shows the tables users query (silver and gold); docs/data_model.md has all.
    shown = [e for e in entities if e.layer in ("silver", "gold")]
    note = "Silver and gold tables; every table with its key: docs/data_model.md."
    block = f"{START}\n{note}\n\n```mermaid\n{mermaid(shown)}\n```\n{END}"
    for there, missing in ((START, END), (END, START)):
        if there in text and missing not in text:
            # Appending would leave a second start marker; replacing, the text after it.
            raise ErdError(f"{name}: has {there} but no {missing}; add it or remove both")
    if START in text and END in text:
        head, rest = text.split(START, 1)
        return head + block + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n## Data model\n\n" + block + "\n"


def write_docs(entities: list[Entity], root: Path) -> list[Path]:
    """Write docs/data_model.md and the README section under `root`; returns changed files.

    Raises ErdError, writing nothing, when `root` holds no README.md or its markers are broken.
    """
    readme = root / "README.md"
    if not readme.is_file():
        # A wrong --root would otherwise get a README and a docs folder of its own.
        raise ErdError(f"{root}: no README.md here; give the project folder as --root")
    changed = []
    targets = {
        root / "docs" / "data_model.md": page(entities),
        readme: readme_section(readme.read_text(), entities, str(readme)),
    }
    for path, content in targets.items():
        if not path.exists() or path.read_text() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            changed.append(path)
    return changed
