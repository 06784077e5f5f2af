"""JSON lines typed once, in bronze: typed columns, and what was missing or of the wrong type.

A field's type follows the data contract's naming (DESIGN.md, Data contracts): `*_ts` is a
UTC timestamp, `*_id` is text, any other field (a sensor) is a number. DuckDB parses each
line once (`from_json` into raw JSON tokens) and reads each field's type and value off its
token. A value whose JSON type is not its field's (a sensor given as
"12.5", an id given as 12, a timestamp that does not parse or falls outside
`schemas.YEARS`) is NULL in its column and named
in `_mistyped`; a field absent or null is named in `_missing`. A line that is not a JSON
object has `_parse_ok` false (and no fields). Silver's rules read these columns, so both
engines judge a record from the same parse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aerotwin.schemas import TIMESTAMP_SHAPE, YEARS

TEXT, NUMBER, TIMESTAMP = "VARCHAR", "DOUBLE", "TIMESTAMPTZ"


def field_type(name: str) -> str:
    """The SQL type of a JSON field, by the contract's naming: `_ts`, `_id`, else a number."""
    if name.endswith("_ts"):
        return TIMESTAMP
    if name.endswith("_id"):
        return TEXT
    return NUMBER


def within_years(value: str, sql_type: str) -> str:
    """SQL: `value` (a TIMESTAMPTZ or DATE expression) when its year, in UTC, is within
    `schemas.YEARS` (both included); NULL (a wrong type) otherwise. Runs on both engines."""
    first, last = YEARS
    if sql_type == "DATE":
        low, high = (f"DATE '{year}-01-01'" for year in (first, last + 1))
    else:
        low, high = (f"CAST('{year}-01-01T00:00:00Z' AS {sql_type})" for year in (first, last + 1))
    return f"CASE WHEN {value} >= {low} AND {value} < {high} THEN {value} END"


def shaped(text: str, shape: str) -> str:
    """SQL: whether the text `text` has the form `shape` (a `schemas` *_SHAPE) as a whole;
    NULL when it is NULL. Runs on both engines."""
    return f"regexp_matches({text}, '{shape}')"


def _value(name: str) -> str:
    """The typed value of a field from its raw JSON token; NULL when of another JSON type."""
    token = f'__v."{name}"'
    kind = field_type(name)
    if kind == NUMBER:
        # Only a JSON number casts: a string token keeps its quotes, true/null/[..] fail.
        return f"TRY_CAST(CAST({token} AS VARCHAR) AS DOUBLE)"
    text = f"CASE WHEN starts_with(CAST({token} AS VARCHAR), '\"') THEN {token} ->> '$' END"
    if kind == TIMESTAMP:
        # A date alone would pass as midnight, a time the record never had; hour 24 as the
        # next day's midnight, a time it never said.
        value = within_years(f"TRY_CAST({text} AS TIMESTAMPTZ)", TIMESTAMP)
        shape = shaped(f"{token} ->> '$'", TIMESTAMP_SHAPE)
        return f"CASE WHEN {shape} THEN {value} END"
    return text


def _listed(terms: list[str]) -> str:
    return f"NULLIF(concat_ws(',', {', '.join(terms)}), '')"


def typed_sql(view: str, fields: Sequence[str], untrusted: str | None = None) -> str:
    """DuckDB SQL over `view` (raw lines in `_raw` plus lineage) adding `_parse_ok`, the
    typed fields, `_missing` and `_mistyped`.

    One parse per line: `from_json` gives each field's raw JSON token (SQL NULL when the
    field is absent or null); the type and value are read off the token. `untrusted`: a
    boolean column of `view` (dropped from the result) marking lines that fail parsing
    whatever they read as: those whose bytes had to be escaped (`landing.split_lines`).
    """
    struct = json.dumps(dict.fromkeys(fields, "JSON"))
    values = ", ".join(f'{_value(f)} AS "{f}"' for f in fields)
    names = ", ".join(f'"{f}"' for f in fields)
    missing = [f"CASE WHEN __v.\"{f}\" IS NULL THEN '{f}' END" for f in fields]
    mistyped = [
        f'CASE WHEN __v."{f}" IS NOT NULL AND "{f}" IS NULL THEN \'{f}\' END' for f in fields
    ]
    # The common case (every value typed) skips building the two lists.
    suspect = " OR ".join(f'"{f}" IS NULL' for f in fields)
    trusted = f" AND {untrusted} IS NOT TRUE" if untrusted else ""
    dropped = f"__v, {untrusted}" if untrusted else "__v"
    return f"""WITH parsed AS (
  SELECT *, CASE WHEN _parse_ok THEN from_json(_raw, '{struct}') END AS __v
  FROM (SELECT *, json_valid(_raw) AND starts_with(ltrim(_raw), '{{'){trusted} AS _parse_ok
        FROM {view})
), typed AS (
  SELECT *, {values} FROM parsed
)
SELECT * EXCLUDE ({dropped}, {names}), {names},
       CASE WHEN _parse_ok AND ({suspect}) THEN {_listed(missing)} END AS _missing,
       CASE WHEN _parse_ok AND ({suspect}) THEN {_listed(mistyped)} END AS _mistyped
FROM typed"""
