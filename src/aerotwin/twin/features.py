"""Feature tables: one row per reading, every feature computed as of that reading's time.

Engine-neutral DuckDB SQL (SQLGlot transpiles it for Spark). Point-in-time correctness comes
from the shape of the query, not from care at each column: readings, the aircraft's flights
(at arrival) and the component's maintenance events (when the work finished) are put in one
time-ordered stream per component, and every feature is a window over that stream that ends
at the current row (`RANGE ... PRECEDING AND CURRENT ROW`). Nothing after t can reach row t.
As-of lookups ("cycles at the last maintenance") use the same windows instead of ASOF JOIN,
which Spark does not have: cumulative usage only grows, so its value at the latest event
before t is the max over the events before t.

Age: the components reference gives each part's age at the start of its `as_of_date`; a
reading's age adds the hours flown from then to the reading (subtracts them when the reading
is earlier). Each reading is aged as the part installed at its time: the reference's part
from its installation (the replacement that fitted its serial, else its `install_date`); a
part a later replacement fitted, from zero at that replacement; the part the reference's
replaced, from that replacement's `hours_since_new_before`; older parts from their own
replacement, unknown (NULL) without one.

Windows: every rolling feature (sensor means, deviations, trends, usage over 7 / 30 days)
covers only the installation its row belongs to, the part the ages name: the stream is
partitioned by the component and when that part was installed, so a new part's first
reading sees none of the part it replaced. Cumulative usage runs across installations.
"""

from __future__ import annotations

from aerotwin.pipeline.definitions import new_rows_view
from aerotwin.schemas import TELEMETRY_FEEDS, sensor_names

WINDOWS = {"7d": "INTERVAL 7 DAYS", "30d": "INTERVAL 30 DAYS"}
# Trend x axis: days since 2026-01-01; near zero, so both engines' slopes agree to 1e-12
# (days since 1970 lose about six digits to cancellation, differently on each engine).
TREND_X = "(epoch(ts) - 1767225600) / CAST(86400 AS DOUBLE)"
# How far an incremental run looks back before the earliest new reading: the longest window.
HISTORY = WINDOWS["30d"]
USAGE_COLUMNS = (
    "component_age_hours",
    "cycles_since_maint",
    "days_since_maint",
    "flight_hours_7d",
    "flight_hours_30d",
    "cycles_7d",
    "cycles_30d",
    "turbulence_7d",
    "turbulence_30d",
    "storm_flights_30d",
    "avg_wind_kt_7d",
)
INPUTS = ("components", "flights", "maintenance_events", "weather")
# Bronze tables whose new rows say which feature rows an incremental run recomputes (with the
# telemetry's own bronze table): flights, weather, maintenance and the components reference.
SCOPE_INPUTS = (
    "bronze_flights",
    "bronze_weather",
    "bronze_maintenance_events",
    "bronze_components",
)


def feature_table(component_type: str) -> str:
    """Name of the gold feature table of one component type (agreed with the ML issue)."""
    return f"features_{component_type}"


def bronze_table(component_type: str) -> str:
    """Name of the bronze telemetry table whose new batches drive an incremental run."""
    return f"bronze_{TELEMETRY_FEEDS[component_type]}"


def telemetry_table(component_type: str) -> str:
    """Name of the silver telemetry table the features are computed from."""
    return TELEMETRY_FEEDS[component_type]


def feature_inputs(component_type: str) -> tuple[str, ...]:
    """The tables the feature SQL reads."""
    return (telemetry_table(component_type), *INPUTS)


def changed_inputs(component_type: str) -> tuple[str, ...]:
    """The tables `changed_sql` reads."""
    telemetry = (bronze_table(component_type), telemetry_table(component_type))
    return (*telemetry, "components", "flights", "maintenance_events", *SCOPE_INPUTS)


def sensor_feature_columns(sensor: str) -> tuple[str, ...]:
    """The rolling features of one sensor, in table order."""
    return (
        f"avg_{sensor}_7d",
        f"avg_{sensor}_30d",
        f"dev_{sensor}_7d",
        f"trend_{sensor}_7d",
    )


def feature_columns(component_type: str) -> tuple[str, ...]:
    """Every column of a feature table, in order."""
    sensors = sensor_names(component_type)
    rolling = tuple(c for s in sensors for c in sensor_feature_columns(s))
    keys = ("component_id", "aircraft_id", "component_type", "flight_id", "reading_ts")
    return (*keys, *sensors, *rolling, *USAGE_COLUMNS)


# The installation a stream row belongs to, by when it began (the era's part, see the module
# docstring): the latest replacement, the reference part's installation, NULL for a part
# whose installation is not on record. A row at that instant is the new part's.
INSTALLED_FROM = "CASE era WHEN 'replaced' THEN last_repl_ts WHEN 'reference' THEN installed_ts END"
INSTALLATION = "component_id, installed_from"


def _frame(partition: str, span: str | None) -> str:
    start = f"{span} PRECEDING" if span else "UNBOUNDED PRECEDING"
    return f"OVER (PARTITION BY {partition} ORDER BY ts RANGE BETWEEN {start} AND CURRENT ROW)"


def _days(later: str, earlier: str) -> str:
    """Fractional days between two timestamps, portable (epoch seconds on both engines)."""
    # A DOUBLE divisor: Spark reads `86400.0` as a DECIMAL and would round to 7 places.
    return f"(epoch({later}) - epoch({earlier})) / CAST(86400 AS DOUBLE)"


def reference_part_sql(component_type: str) -> str:
    """SQL: when the reference's part of each component was installed, and the part it replaced.

    `installed_ts`: the latest replacement that fitted the reference's serial, else the start
    of `install_date` (NULL when neither is known). `removed_hours` / `removed_cycles`: the
    replaced part's age at that replacement (`hours_since_new_before`), NULL without one.
    """
    return f"""SELECT c.component_id,
       coalesce(e.event_ts, CAST(c.install_date AS TIMESTAMPTZ)) AS installed_ts,
       CAST(e.hours_since_new_before AS DOUBLE) AS removed_hours,
       CAST(e.cycles_since_new_before AS DOUBLE) AS removed_cycles
FROM components AS c
LEFT JOIN (
  SELECT * FROM (
    SELECT m.component_id, m.event_ts, m.hours_since_new_before, m.cycles_since_new_before,
           row_number() OVER (
             PARTITION BY m.component_id ORDER BY m.event_ts DESC, m.event_id DESC) AS __rn
    FROM maintenance_events AS m JOIN components AS r ON r.component_id = m.component_id
    WHERE m.event_type = 'replacement' AND m.new_serial = r.serial AND m.event_ts IS NOT NULL
  ) AS fitted WHERE __rn = 1
) AS e ON e.component_id = c.component_id
WHERE c.component_type = '{component_type}'"""


def changed_sql(component_type: str) -> str:
    """SQL: (component_id, since) of the components whose features this run may change.

    `since` is the earliest reading time that can change; NULL means every row. Any new row of
    any input the features read counts, late ones included: a new reading (the runner hands
    the bronze telemetry over as only its new batches on an incremental run, and silver rows
    keep their bronze `_batch_id`); a flight, from its arrival, for every component of its
    aircraft; a day's weather at an airport, from the arrival of each flight departing it that
    day; a maintenance event, from when it finished, for its component; a new components
    reference, everything of that type. Ages count from the reference's `as_of_date` and its
    part's installation, so a flight arriving before either, or the replacement that fitted
    the reference's serial, changes every row of the component (earlier readings too).
    A flight or event that replaces an earlier version counts with every version bronze
    holds of it, so rows the old version reached are redone. On a full build every row is
    new, so this covers everything.
    """
    telemetry = telemetry_table(component_type)
    bronze = bronze_table(component_type)
    of_type = f"c.component_type = '{component_type}'"
    flights, weather, maintenance, components = (new_rows_view(t) for t in SCOPE_INPUTS)
    return f"""SELECT component_id,
       CASE WHEN max(CASE WHEN since IS NULL THEN 1 ELSE 0 END) = 1 THEN NULL
            ELSE min(since) END AS since
FROM (
  SELECT t.component_id, t.reading_ts AS since FROM {telemetry} AS t
  WHERE t._batch_id IN (SELECT DISTINCT _batch_id FROM {bronze})
  UNION ALL
  SELECT c.component_id,
         CASE WHEN f.arrival_ts < CAST(c.as_of_date AS TIMESTAMPTZ)
                OR f.arrival_ts <= p.installed_ts THEN CAST(NULL AS TIMESTAMPTZ)
              ELSE f.arrival_ts END AS since
  FROM (SELECT b.aircraft_id, TRY_CAST(b.arrival_ts AS TIMESTAMPTZ) AS arrival_ts
        FROM bronze_flights AS b
        WHERE b.flight_id IN (SELECT flight_id FROM {flights})) AS f
  JOIN components AS c ON c.aircraft_id = f.aircraft_id AND {of_type}
  JOIN ({reference_part_sql(component_type)}) AS p ON p.component_id = c.component_id
  WHERE f.arrival_ts IS NOT NULL
  UNION ALL
  SELECT c.component_id, f.arrival_ts AS since
  FROM (SELECT DISTINCT w.airport_code, TRY_CAST(w.weather_date AS DATE) AS weather_date
        FROM {weather} AS w) AS w
  JOIN flights AS f ON f.origin = w.airport_code AND f.flight_date = w.weather_date
  JOIN components AS c ON c.aircraft_id = f.aircraft_id AND {of_type}
  WHERE f.arrival_ts IS NOT NULL
  UNION ALL
  SELECT m.component_id,
         CASE WHEN m.fits_reference THEN CAST(NULL AS TIMESTAMPTZ) ELSE m.event_ts END AS since
  FROM (SELECT b.component_id, TRY_CAST(b.event_ts AS TIMESTAMPTZ) AS event_ts,
               coalesce(b.event_type = 'replacement' AND b.new_serial = c.serial, false)
                 AS fits_reference
        FROM bronze_maintenance_events AS b
        LEFT JOIN components AS c ON c.component_id = b.component_id
        WHERE b.event_id IN (SELECT event_id FROM {maintenance})) AS m
  WHERE m.event_ts IS NOT NULL
  UNION ALL
  SELECT c.component_id, CAST(NULL AS TIMESTAMPTZ) AS since FROM components AS c
  WHERE {of_type} AND EXISTS (SELECT 1 FROM {components})
) AS changes
GROUP BY component_id"""


def features_sql(component_type: str, incremental: bool = False) -> str:
    """DuckDB SQL of one feature table over its telemetry, flights, maintenance and weather.

    incremental: only the components `changed_sql` names, and only their rows from its
    `since` on (all rows where it is NULL); windows look back `HISTORY` before it and
    cumulative usage starts from aggregates of what came earlier, so the rows equal a full
    computation's.

    Ages (module docstring): running totals less offsets that no window changes (`anchor`);
    `era` names the part a stream row is of, and `installed_from` its installation, which
    partitions the rolling windows.
    """
    sensors = sensor_names(component_type)
    telemetry = telemetry_table(component_type)
    null_sensors = ", ".join(f"CAST(NULL AS DOUBLE) AS {s}" for s in sensors)
    reading_sensors = ", ".join(f"CAST(t.{s} AS DOUBLE) AS {s}" for s in sensors)
    # Cumulative usage runs over the component's whole stream (ages subtract offsets from
    # it); every rolling window stays inside the installation its row belongs to.
    all_ = _frame("component_id", None)
    w7, w30 = (_frame(INSTALLATION, WINDOWS[k]) for k in ("7d", "30d"))
    rolling = []
    for s in sensors:
        rolling += [
            f"avg({s}) {w7} AS avg_{s}_7d",
            f"avg({s}) {w30} AS avg_{s}_30d",
            # A slope needs two readings; one alone would give NaN (0 / 0).
            f"CASE WHEN count({s}) {w7} >= 2 "
            f"THEN regr_slope({s}, {TREND_X}) {w7} END AS trend_{s}_7d",
        ]
    rolling_out = []
    for s in sensors:
        rolling_out += [
            f"s.avg_{s}_7d",
            f"s.avg_{s}_30d",
            f"s.avg_{s}_7d - s.avg_{s}_30d AS dev_{s}_7d",
            f"s.trend_{s}_7d",
        ]
    flight_nulls = (
        "CAST(NULL AS DOUBLE) AS block_hours, CAST(NULL AS DOUBLE) AS cycles, "
        "CAST(NULL AS DOUBLE) AS turbulence, CAST(NULL AS DOUBLE) AS storm, "
        "CAST(NULL AS DOUBLE) AS wind_kt"
    )
    scope = _Scope(component_type) if incremental else None
    return f"""WITH {scope.ctes() if scope else ""}comp AS (
  SELECT c.component_id, c.aircraft_id, c.as_of_date, c.hours_since_new, c.cycles_since_new
         {scope.comp_columns() if scope else ""}
  FROM components AS c {scope.comp_join() if scope else ""}
  WHERE c.component_type = '{component_type}'
),
installed AS ({reference_part_sql(component_type)}),
anchor AS (
  SELECT c.component_id, p.installed_ts, p.removed_hours, p.removed_cycles,
         {_flown("block_hours", "f.arrival_ts < CAST(c.as_of_date AS TIMESTAMPTZ)")}
           AS hours_to_as_of,
         {_flown("cycles", "f.arrival_ts < CAST(c.as_of_date AS TIMESTAMPTZ)")} AS cycles_to_as_of,
         {_flown("block_hours", "f.arrival_ts <= p.installed_ts")} AS hours_to_install,
         {_flown("cycles", "f.arrival_ts <= p.installed_ts")} AS cycles_to_install
  FROM comp AS c JOIN installed AS p ON p.component_id = c.component_id
  LEFT JOIN flights AS f ON f.aircraft_id = c.aircraft_id
    AND (f.arrival_ts < CAST(c.as_of_date AS TIMESTAMPTZ) OR f.arrival_ts <= p.installed_ts)
  GROUP BY c.component_id, p.installed_ts, p.removed_hours, p.removed_cycles
),
{scope.pre_ctes() if scope else ""}stream AS (
  SELECT t.component_id, t.flight_id, t.reading_ts AS ts, 0 AS kind,
         CAST(NULL AS VARCHAR) AS event_type,
         {reading_sensors}, {flight_nulls}
  FROM {telemetry} AS t JOIN comp AS c ON c.component_id = t.component_id
  {"WHERE c.ws IS NULL OR t.reading_ts >= c.ws" if scope else ""}
  UNION ALL
  SELECT c.component_id, f.flight_id, f.arrival_ts AS ts, 1 AS kind,
         CAST(NULL AS VARCHAR) AS event_type,
         {null_sensors},
         CAST(f.block_hours AS DOUBLE) AS block_hours, CAST(f.cycles AS DOUBLE) AS cycles,
         CAST(f.turbulence_experienced AS DOUBLE) AS turbulence,
         CASE WHEN w.storm THEN 1.0 ELSE 0.0 END AS storm, CAST(w.wind_kt AS DOUBLE) AS wind_kt
  FROM flights AS f JOIN comp AS c ON c.aircraft_id = f.aircraft_id
  LEFT JOIN weather AS w ON w.airport_code = f.origin AND w.weather_date = f.flight_date
  WHERE f.arrival_ts IS NOT NULL {"AND (c.ws IS NULL OR f.arrival_ts >= c.ws)" if scope else ""}
  UNION ALL
  SELECT m.component_id, CAST(NULL AS VARCHAR) AS flight_id, m.event_ts AS ts,
         2 AS kind, m.event_type,
         {null_sensors}, {flight_nulls}
  FROM maintenance_events AS m JOIN comp AS c ON c.component_id = m.component_id
  WHERE m.event_ts IS NOT NULL {"AND (c.ws IS NULL OR m.event_ts >= c.ws)" if scope else ""}
),
cum AS (
  SELECT stream.*,
         {_pre("hours0 + ", scope)}coalesce(sum(block_hours) {all_}, 0) AS cum_hours,
         {_pre("cycles0 + ", scope)}coalesce(sum(cycles) {all_}, 0) AS cum_cycles
  FROM {scope.with_pre() if scope else "stream"}
),
s AS (
  SELECT cum.*,
         {_coalesce("max(CASE WHEN kind = 2 THEN ts END) " + all_, "maint0_ts", scope)}
           AS last_maint_ts,
         {
        _coalesce("max(CASE WHEN kind = 2 THEN cum_cycles END) " + all_, "cycles_at_maint0", scope)
    }
           AS cycles_at_maint,
         {
        _coalesce(
            "max(CASE WHEN kind = 2 AND event_type = 'replacement' THEN cum_hours END) " + all_,
            "hours_at_repl0",
            scope,
        )
    } AS hours_at_replacement,
         {
        _coalesce(
            "max(CASE WHEN kind = 2 AND event_type = 'replacement' THEN ts END) " + all_,
            "repl0_ts",
            scope,
        )
    } AS last_repl_ts
  FROM cum
),
aged AS (
  SELECT s.*, a.installed_ts, a.removed_hours, a.removed_cycles, a.hours_to_as_of,
         a.cycles_to_as_of, a.hours_to_install, a.cycles_to_install,
         CASE WHEN s.last_repl_ts IS NOT NULL AND (a.installed_ts IS NULL
                OR s.last_repl_ts > a.installed_ts OR s.ts < a.installed_ts) THEN 'replaced'
              WHEN s.ts < a.installed_ts THEN 'removed'
              ELSE 'reference' END AS era
  FROM s JOIN anchor AS a ON a.component_id = s.component_id
),
w AS (
  SELECT aged.*,
         coalesce(sum(block_hours) {w7}, 0) AS flight_hours_7d,
         coalesce(sum(block_hours) {w30}, 0) AS flight_hours_30d,
         coalesce(sum(cycles) {w7}, 0) AS cycles_7d,
         coalesce(sum(cycles) {w30}, 0) AS cycles_30d,
         avg(turbulence) {w7} AS turbulence_7d,
         avg(turbulence) {w30} AS turbulence_30d,
         coalesce(sum(storm) {w30}, 0) AS storm_flights_30d,
         avg(wind_kt) {w7} AS avg_wind_kt_7d,
         {", ".join(rolling)}
  FROM (SELECT aged.*, {INSTALLED_FROM} AS installed_from FROM aged) AS aged
),
u AS (
  SELECT w.*,
         last_maint_ts IS NOT NULL AND (era <> 'reference' OR installed_ts IS NULL
           OR last_maint_ts >= installed_ts) AS maint_counts
  FROM w
  WHERE w.kind = 0
)
SELECT s.component_id, c.aircraft_id, '{component_type}' AS component_type, s.flight_id,
       s.ts AS reading_ts,
       {", ".join(f"s.{x}" for x in sensors)},
       {", ".join(rolling_out)},
       CASE s.era WHEN 'reference' THEN c.hours_since_new + s.cum_hours - s.hours_to_as_of
            WHEN 'removed' THEN s.removed_hours + s.cum_hours - s.hours_to_install
            ELSE s.cum_hours - s.hours_at_replacement END AS component_age_hours,
       CASE WHEN s.maint_counts THEN s.cum_cycles - s.cycles_at_maint
            WHEN s.era = 'reference'
            THEN c.cycles_since_new + s.cum_cycles - s.cycles_to_as_of
            WHEN s.era = 'removed'
            THEN s.removed_cycles + s.cum_cycles - s.cycles_to_install END AS cycles_since_maint,
       CASE WHEN s.maint_counts THEN {_days("s.ts", "s.last_maint_ts")}
            WHEN s.era = 'reference' THEN {_days("s.ts", "s.installed_ts")}
            END AS days_since_maint,
       s.flight_hours_7d, s.flight_hours_30d, s.cycles_7d, s.cycles_30d,
       s.turbulence_7d, s.turbulence_30d, s.storm_flights_30d, s.avg_wind_kt_7d
FROM u AS s JOIN comp AS c ON c.component_id = s.component_id
{"WHERE c.since IS NULL OR s.ts >= c.since" if scope else ""}"""


def _flown(column: str, condition: str) -> str:
    """SQL: the sum of the flights' `column` where `condition` holds, 0 when none does."""
    return f"CAST(coalesce(sum(CASE WHEN {condition} THEN f.{column} END), 0) AS DOUBLE)"


def _pre(term: str, scope: _Scope | None) -> str:
    return term if scope else ""


def _coalesce(window: str, earlier: str, scope: _Scope | None) -> str:
    return f"coalesce({window}, {earlier})" if scope else window


class _Scope:
    """The SQL pieces that restrict a feature computation to what changed (incremental)."""

    def __init__(self, component_type: str) -> None:
        self.component_type = component_type

    def ctes(self) -> str:
        return f"changed AS ({changed_sql(self.component_type)}),\n"

    @staticmethod
    def comp_columns() -> str:
        return f", ch.since, ch.since - {HISTORY} AS ws"

    @staticmethod
    def comp_join() -> str:
        return "JOIN changed AS ch ON ch.component_id = c.component_id"

    @staticmethod
    def with_pre() -> str:
        """The stream with each component's earlier usage beside it (for the windows)."""
        return (
            "(SELECT stream.*, p.hours0, p.cycles0, p.maint0_ts, p.cycles_at_maint0, "
            "p.hours_at_repl0, p.repl0_ts "
            "FROM stream JOIN pre AS p ON p.component_id = stream.component_id) "
            "AS stream"
        )

    @staticmethod
    def pre_ctes() -> str:
        """Usage and maintenance before the window, as aggregates (no window functions)."""
        return """pre_f AS (
  SELECT c.component_id, sum(f.block_hours) AS hours, sum(f.cycles) AS cycles
  FROM flights AS f JOIN comp AS c ON c.aircraft_id = f.aircraft_id
  WHERE f.arrival_ts < c.ws GROUP BY c.component_id
),
pre_m AS (
  SELECT c.component_id, max(m.event_ts) AS maint0_ts,
         max(CASE WHEN m.event_type = 'replacement' THEN m.event_ts END) AS repl0_ts
  FROM maintenance_events AS m JOIN comp AS c ON c.component_id = m.component_id
  WHERE m.event_ts < c.ws GROUP BY c.component_id
),
pre_at AS (
  SELECT m.component_id,
         sum(CASE WHEN f.arrival_ts <= m.maint0_ts THEN f.cycles ELSE 0 END) AS cycles_at_maint0,
         sum(CASE WHEN f.arrival_ts <= m.repl0_ts THEN f.block_hours ELSE 0 END)
           AS hours_at_repl0
  FROM pre_m AS m JOIN comp AS c ON c.component_id = m.component_id
  JOIN flights AS f ON f.aircraft_id = c.aircraft_id AND f.arrival_ts < c.ws
  GROUP BY m.component_id
),
pre AS (
  SELECT c.component_id, CAST(coalesce(f.hours, 0) AS DOUBLE) AS hours0,
         CAST(coalesce(f.cycles, 0) AS DOUBLE) AS cycles0, m.maint0_ts, m.repl0_ts,
         CASE WHEN m.maint0_ts IS NOT NULL
              THEN CAST(coalesce(a.cycles_at_maint0, 0) AS DOUBLE) END AS cycles_at_maint0,
         CASE WHEN m.repl0_ts IS NOT NULL
              THEN CAST(coalesce(a.hours_at_repl0, 0) AS DOUBLE) END AS hours_at_repl0
  FROM comp AS c
  LEFT JOIN pre_f AS f ON f.component_id = c.component_id
  LEFT JOIN pre_m AS m ON m.component_id = c.component_id
  LEFT JOIN pre_at AS a ON a.component_id = c.component_id
),
"""
