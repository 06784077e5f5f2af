"""Silver telemetry: one table per component type, typed, validated and deduplicated.

Generated from the data contract (`aerotwin.schemas`), so a sensor added there is typed and
range-checked here without another edit; rows ingested before it existed keep it null.
Bronze parsed each line once into typed columns (`json_lines`); a sensor given as a JSON
string is a wrong type even if it looks numeric.
Rule order decides which rule a row is quarantined under: the first one it breaks.
"""

from __future__ import annotations

from aerotwin.pipeline.definitions import Expectation, LandingSource, TableDef
from aerotwin.schemas import COMPONENT_TYPES, SENSORS, TELEMETRY_FEEDS, TELEMETRY_KEYS

LINEAGE = ("_source_file", "_line", "_arrival_date", "_ingested_ts", "_batch_id")
# Latest arrival wins among duplicates: arrival day, then the bronze batch (a file resent into
# a day's folder by a later run is newer, whatever its name), then file and line in a batch.
LATEST_BY = ("_arrival_date", "_batch_id", "_source_file", "_line")
KEYS = ("component_id", "reading_ts")
PARSE_RULE = "parse_error"


def bronze_name(component_type: str) -> str:
    """Name of the bronze table of one component type's telemetry."""
    return f"bronze_{TELEMETRY_FEEDS[component_type]}"


def silver_name(component_type: str) -> str:
    """Name of the silver telemetry table of one component type."""
    return TELEMETRY_FEEDS[component_type]


def telemetry_sql(component_type: str) -> str:
    """DuckDB SQL validating one bronze telemetry table and flagging what its rules need.

    Bronze holds typed columns already (`json_lines`): a value of the wrong JSON type is NULL
    there and named in `_mistyped`; an absent or null field is named in `_missing`.
    """
    sensors = SENSORS[component_type]
    # A sensor NULL in a row that has no `_missing` or `_mistyped` was not in the contract
    # when the row was ingested (one added since): history keeps its rows, without it.
    typed_ok = [
        "b._mistyped IS NULL",
        *(f"(b.{s.name} IS NULL OR b.{s.name} = floor(b.{s.name}))" for s in sensors if s.integer),
    ]
    columns = [
        *(f"b.{k}" for k in TELEMETRY_KEYS),
        # Integers travel as JSON numbers; only whole ones pass `wrong_type`.
        *(
            f"TRY_CAST(b.{s.name} AS BIGINT) AS {s.name}" if s.integer else f"b.{s.name}"
            for s in sensors
        ),
        *(f"b.{c}" for c in LINEAGE),
        "b._raw AS __raw",
        "b._parse_ok AS __parse_ok",
        "b._missing IS NULL AS __complete",
        f"({' AND '.join(typed_ok)}) AS __typed",
        "("
        + " AND ".join(
            f"(b.{s.name} IS NULL OR b.{s.name} BETWEEN {s.low} AND {s.high})" for s in sensors
        )
        + ") AS __in_range",
        "a.aircraft_id IS NOT NULL AS __known_aircraft",
        "c.component_id IS NOT NULL AS __known_component",
    ]
    return f"""SELECT {", ".join(columns)}
FROM {bronze_name(component_type)} AS b
LEFT JOIN aircraft AS a ON a.aircraft_id = b.aircraft_id
LEFT JOIN components AS c
  ON c.component_id = b.component_id AND c.component_type = '{component_type}'"""


def telemetry_expectations() -> tuple[Expectation, ...]:
    """The rules every telemetry row must pass; names match the manifest's bad-record kinds."""
    return (
        Expectation(PARSE_RULE, "__parse_ok", "drop"),
        Expectation("missing_field", "__complete", "drop"),
        Expectation("wrong_type", "__typed", "drop"),
        Expectation("out_of_range", "__in_range", "drop"),
        Expectation("unknown_aircraft", "__known_aircraft", "drop"),
        Expectation("unknown_component", "__known_component", "drop"),
    )


def bronze_tables() -> list[TableDef]:
    """Bronze telemetry: one table per component type, fed by its landing feed."""
    return [
        TableDef(
            name=bronze_name(ct),
            layer="bronze",
            source=LandingSource(
                feed=TELEMETRY_FEEDS[ct],
                format="jsonl",
                fields=(*TELEMETRY_KEYS, *(s.name for s in SENSORS[ct])),
            ),
            description=f"raw {ct} telemetry lines, as landed, with file, line and batch",
        )
        for ct in COMPONENT_TYPES
    ]


def silver_tables() -> list[TableDef]:
    """Silver telemetry: typed, validated, deduplicated on (component_id, reading_ts)."""
    return [
        TableDef(
            name=silver_name(ct),
            layer="silver",
            inputs=(bronze_name(ct), "aircraft", "components"),
            sql=telemetry_sql(ct),
            expectations=telemetry_expectations(),
            mode="merge",
            keys=KEYS,
            latest_by=LATEST_BY,
            incremental_input=bronze_name(ct),
            description=f"{ct} readings: typed, in physical range, known ids, one per key",
        )
        for ct in COMPONENT_TYPES
    ]


def tables() -> list[TableDef]:
    """Bronze and silver telemetry declarations."""
    return [*bronze_tables(), *silver_tables()]
