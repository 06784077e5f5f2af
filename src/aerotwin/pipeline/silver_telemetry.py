"""Silver telemetry: one table per component type, typed, validated and deduplicated.

Generated from the data contract (`aerotwin.schemas`), so a sensor added there is typed and
range-checked here without another edit. Bronze columns hold raw JSON tokens ('"E-1"',
'612.3', 'null'); a sensor given as a JSON string is a wrong type even if it looks numeric.
Rule order decides which rule a row is quarantined under: the first one it breaks.
"""

from __future__ import annotations

from aerotwin.pipeline.definitions import Expectation, LandingSource, TableDef
from aerotwin.schemas import COMPONENT_TYPES, SENSORS, TELEMETRY_FEEDS, TELEMETRY_KEYS

LINEAGE = ("_source_file", "_line", "_arrival_date", "_ingested_ts", "_batch_id")
# Latest arrival wins among duplicates: arrival day, then file (parts in order), then line.
LATEST_BY = ("_arrival_date", "_source_file", "_line")
KEYS = ("component_id", "reading_ts")
PARSE_RULE = "parse_error"


def bronze_name(component_type: str) -> str:
    """Name of the bronze table of one component type's telemetry."""
    return f"bronze_{TELEMETRY_FEEDS[component_type]}"


def silver_name(component_type: str) -> str:
    """Name of the silver telemetry table of one component type."""
    return TELEMETRY_FEEDS[component_type]


def _string(token: str) -> str:
    """The text of a JSON string token; NULL when the token is not a JSON string."""
    return f"CASE WHEN {token} LIKE '\"%\"' THEN substring({token}, 2, length({token}) - 2) END"


def _present(token: str) -> str:
    return f"({token} IS NOT NULL AND {token} <> 'null')"


def telemetry_sql(component_type: str) -> str:
    """DuckDB SQL typing one bronze telemetry table and flagging what its rules need.

    Each token is cast once (in `t`); the flags reuse the casts.
    """
    sensors = SENSORS[component_type]
    tokens = [*TELEMETRY_KEYS, *(s.name for s in sensors)]
    inner = [
        *(f"b.{t} AS __tok_{t}" for t in tokens),
        *(f"{_string('b.' + k)} AS {k}" for k in ("component_id", "aircraft_id", "flight_id")),
        f"TRY_CAST({_string('b.reading_ts')} AS TIMESTAMPTZ) AS reading_ts",
        *(f"TRY_CAST(b.{s.name} AS DOUBLE) AS __d_{s.name}" for s in sensors),
        *(f"b.{c}" for c in LINEAGE),
        "b._raw AS __raw",
        "b._parse_ok AS __parse_ok",
    ]
    typed_ok = [
        *(f"__tok_{k} LIKE '\"%\"'" for k in TELEMETRY_KEYS),
        "reading_ts IS NOT NULL",
        *(f"(__tok_{s.name} NOT LIKE '\"%' AND __d_{s.name} IS NOT NULL)" for s in sensors),
        *(f"__d_{s.name} = floor(__d_{s.name})" for s in sensors if s.integer),
    ]
    outer = [
        *(f"t.{k}" for k in ("component_id", "aircraft_id", "flight_id", "reading_ts")),
        # Via DOUBLE: the engines disagree on casting '12.0' straight to BIGINT.
        *(
            f"CAST(__d_{s.name} AS BIGINT) AS {s.name}"
            if s.integer
            else f"__d_{s.name} AS {s.name}"
            for s in sensors
        ),
        *(f"t.{c}" for c in LINEAGE),
        "__raw",
        "__parse_ok",
        f"({' AND '.join(_present('__tok_' + t) for t in tokens)}) AS __complete",
        f"({' AND '.join(typed_ok)}) AS __typed",
        "("
        + " AND ".join(f"__d_{s.name} BETWEEN {s.low} AND {s.high}" for s in sensors)
        + ") AS __in_range",
        "a.aircraft_id IS NOT NULL AS __known_aircraft",
        "c.component_id IS NOT NULL AS __known_component",
    ]
    return f"""WITH t AS (
  SELECT {", ".join(inner)}
  FROM {bronze_name(component_type)} AS b
)
SELECT {", ".join(outer)}
FROM t
LEFT JOIN aircraft AS a ON a.aircraft_id = t.aircraft_id
LEFT JOIN components AS c
  ON c.component_id = t.component_id AND c.component_type = '{component_type}'"""


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
