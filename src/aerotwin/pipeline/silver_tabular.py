"""Silver reference and event tables: CSV feeds typed by a declared column list.

Each feed declares its columns and types once (below); the SQL and the rules are generated.
A row whose key is missing, whose value does not have its declared type, lies outside its
physical range or out of order (arrival before departure), or that names an aircraft,
component, airport or route the reference tables do not have, is quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aerotwin.pipeline.definitions import Expectation, LandingSource, TableDef
from aerotwin.pipeline.json_lines import shaped, within_years
from aerotwin.pipeline.silver_telemetry import LATEST_BY, LINEAGE, PARSE_RULE
from aerotwin.schemas import BOOLEAN_SHAPE, DATE_SHAPE, NUMBER_SHAPE, TIMESTAMP_SHAPE

FINITE = "1.7976931348623157e308"  # the largest double
WHOLE = "9.2e18"  # below 2 ** 63: a BIGINT holds it


@dataclass(frozen=True)
class Reference:
    """A column that, when not null, must name a row of a silver reference table."""

    column: str
    table: str
    key: str
    rule: str  # the expectation a row breaks when it does not (e.g. unknown_aircraft)


@dataclass(frozen=True)
class Order:
    """Two columns that, when both are set, must not go backwards (`then` >= `first`)."""

    first: str
    then: str
    rule: str  # the expectation a row breaks when they do (e.g. arrival_before_departure)


@dataclass(frozen=True)
class CsvFeed:
    """One CSV feed: its silver table name, typed columns (name -> DuckDB type), key, the
    reference tables its columns must name rows of, the physical range of its numbers
    (name -> (low, high), both included) and the columns that must come in order."""

    name: str
    columns: dict[str, str]
    keys: tuple[str, ...]
    reference: bool = False
    references: tuple[Reference, ...] = ()
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    orders: tuple[Order, ...] = ()


def _rules(feed: CsvFeed) -> dict[str, list[int]]:
    """Each reference rule and the indexes of the references it covers, in declared order."""
    rules: dict[str, list[int]] = {}
    for i, ref in enumerate(feed.references):
        rules.setdefault(ref.rule, []).append(i)
    return rules


def _typed(column: str, sql_type: str) -> str:
    """SQL: the text `b.column` as `sql_type`; NULL (a wrong type) when it is not one."""
    if sql_type == "VARCHAR":
        return f"b.{column}"
    if sql_type in ("BIGINT", "INTEGER", "DOUBLE"):
        # Via DOUBLE for integers: the engines disagree on casting '12.0' straight to BIGINT.
        # Only a plain number casts: DuckDB reads 1_000, Spark 1.5d and 2f, as numbers.
        digits = f"CASE WHEN {shaped(f'b.{column}', NUMBER_SHAPE)} THEN b.{column} END"
        number = f"TRY_CAST({digits} AS DOUBLE)"
        # NaN and infinity pass no bound; an integer must be whole and fit in 64 bits.
        if sql_type == "DOUBLE":
            return f"CASE WHEN abs({number}) <= {FINITE} THEN {number} END"
        whole = f"{number} = floor({number}) AND abs({number}) < {WHOLE}"
        return f"CASE WHEN {whole} THEN CAST({number} AS BIGINT) END"
    if sql_type == "BOOLEAN":
        # Spark reads ` true` (spaces around) as true, DuckDB as no boolean: the shape decides.
        value = f"TRY_CAST(b.{column} AS BOOLEAN)"
        return f"CASE WHEN {shaped(f'b.{column}', BOOLEAN_SHAPE)} THEN {value} END"
    # A date alone would pass as midnight, a time the record never had; a date with a time
    # would lose it (and its offset: the UTC day may be another); Spark reads a time alone
    # as today, DuckDB hour 24 as the next day. DuckDB reads `inf` as a date and years
    # Python cannot hold (10000, 1 BC): the years are bounded.
    shape = {"TIMESTAMPTZ": TIMESTAMP_SHAPE, "DATE": DATE_SHAPE}.get(sql_type)
    if shape:
        value = within_years(f"TRY_CAST(b.{column} AS {sql_type})", sql_type)
        return f"CASE WHEN {shaped(f'b.{column}', shape)} THEN {value} END"
    return f"TRY_CAST(b.{column} AS {sql_type})"


def feed_sql(feed: CsvFeed) -> str:
    """DuckDB SQL typing one CSV bronze table and flagging what its rules need."""
    typed = [f"{_typed(c, t)} AS {c}" for c, t in feed.columns.items()]
    type_ok = [
        f"(b.{c} IS NULL OR {_typed(c, t)} IS NOT NULL)"
        for c, t in feed.columns.items()
        if t != "VARCHAR"
    ]
    flags = [
        "b._raw AS __raw",
        "b._parse_ok AS __parse_ok",
        f"({' AND '.join(f'b.{k} IS NOT NULL' for k in feed.keys)}) AS __complete",
        f"({' AND '.join(type_ok) or 'true'}) AS __typed",
    ]
    refs = feed.references
    for rule, indexes in _rules(feed).items():
        known = [f"(b.{refs[i].column} IS NULL OR r{i}.{refs[i].key} IS NOT NULL)" for i in indexes]
        flags.append(f"({' AND '.join(known)}) AS __pass_{rule}")
    # Reference tables are unique on their key: a left join adds no row.
    joins = "".join(
        f"\nLEFT JOIN {r.table} AS r{i} ON r{i}.{r.key} = b.{r.column}" for i, r in enumerate(refs)
    )
    select = ",\n       ".join([*typed, *(f"b.{c}" for c in LINEAGE), *flags])
    return f"SELECT {select}\nFROM bronze_{feed.name} AS b{joins}"


def feed_expectations(feed: CsvFeed) -> tuple[Expectation, ...]:
    """Rules for CSV rows: parseable, key present, declared types, physical ranges, order,
    known references. Ranges and order read the typed columns (a null passes them)."""
    in_range = [
        f"({column} IS NULL OR {column} BETWEEN {low} AND {high})"
        for column, (low, high) in feed.ranges.items()
    ]
    ranges = (Expectation("out_of_range", " AND ".join(in_range), "drop"),) if in_range else ()
    orders = tuple(
        Expectation(o.rule, f"{o.first} IS NULL OR {o.then} IS NULL OR {o.then} >= {o.first}")
        for o in feed.orders
    )
    return (
        Expectation(PARSE_RULE, "__parse_ok", "drop"),
        Expectation("missing_field", "__complete", "drop"),
        Expectation("wrong_type", "__typed", "drop"),
        *ranges,
        *orders,
        *(Expectation(rule, f"__pass_{rule}", "drop") for rule in _rules(feed)),
    )


def tables(feeds: tuple[CsvFeed, ...]) -> list[TableDef]:
    """Bronze and silver declarations for CSV feeds (reference data: snapshots, overwritten)."""
    out: list[TableDef] = []
    for feed in feeds:
        bronze = f"bronze_{feed.name}"
        out.append(
            TableDef(
                name=bronze,
                layer="bronze",
                source=LandingSource(
                    feed=feed.name,
                    format="csv",
                    fields=tuple(feed.columns),
                    snapshot=feed.reference,
                ),
                description=f"raw {feed.name} rows, as landed",
            )
        )
        out.append(
            TableDef(
                name=feed.name,
                layer="silver",
                inputs=(bronze, *dict.fromkeys(r.table for r in feed.references)),
                sql=feed_sql(feed),
                expectations=feed_expectations(feed),
                mode="overwrite" if feed.reference else "merge",
                keys=feed.keys,
                latest_by=LATEST_BY,
                incremental_input=None if feed.reference else bronze,
                description=f"{feed.name}: typed and deduplicated on {', '.join(feed.keys)}",
            )
        )
    return out
