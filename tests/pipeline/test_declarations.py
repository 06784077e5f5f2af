"""Declarations: validation, the derived graph, and warn / drop / fail expectations."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.definitions import DefinitionError, Expectation, LandingSource, TableDef
from aerotwin.pipeline.expectations import ExpectationFailed, split_sql
from aerotwin.pipeline.registry import load_tables, ordered
from aerotwin.pipeline.report import run_history
from aerotwin.pipeline.runner import run_pipeline


def test_every_declared_table_loads_in_dependency_order() -> None:
    tables = load_tables()
    position = {t.name: i for i, t in enumerate(tables)}
    assert {"telemetry_engine", "bronze_telemetry_engine", "aircraft", "flights"} <= set(position)
    for table in tables:
        assert all(position[inp] < position[table.name] for inp in table.inputs), table.name


def test_declaration_mistakes_name_the_table_and_the_field() -> None:
    with pytest.raises(DefinitionError, match="table t: mode 'merge' needs `keys`"):
        TableDef("t", "silver", inputs=("a",), sql="SELECT 1", mode="merge")
    with pytest.raises(DefinitionError, match="exactly one of `sql` or `source`"):
        TableDef("t", "bronze", sql="SELECT 1", source=LandingSource("f", "csv"))
    with pytest.raises(DefinitionError, match="incremental_input must be one of its inputs"):
        TableDef("t", "silver", inputs=("a",), sql="SELECT 1", incremental_input="b")
    with pytest.raises(DefinitionError, match="action must be one of"):
        Expectation("e", "x > 0", "explode")  # type: ignore[arg-type]


def test_graph_rejects_unknown_inputs_and_cycles() -> None:
    a = TableDef("a", "silver", inputs=("b",), sql="SELECT 1")
    b = TableDef("b", "silver", inputs=("a",), sql="SELECT 1")
    with pytest.raises(DefinitionError, match="table a: unknown input 'b'"):
        ordered([a])
    with pytest.raises(DefinitionError, match="cycle"):
        ordered([a, b])


def _gold(expectations: tuple[Expectation, ...]) -> TableDef:
    return TableDef(
        name="checked",
        layer="gold",
        inputs=("readings",),
        sql="SELECT k, v, 'raw:' || CAST(k AS VARCHAR) AS __raw FROM readings",
        expectations=expectations,
        keys=("k",),
    )


@pytest.fixture
def readings(settings: Settings) -> Lakehouse:
    lakehouse = Lakehouse.from_settings(settings)
    lakehouse.write(
        "readings", pa.table({"k": [1, 2, 3, 4], "v": [5.0, -1.0, None, 50.0]}), "append"
    )
    return lakehouse


def test_warn_keeps_drop_quarantines_and_both_are_counted(
    settings: Settings, readings: Lakehouse
) -> None:
    table = _gold(
        (
            Expectation("v_known", "v IS NOT NULL", "drop"),
            Expectation("v_positive", "v >= 0", "drop"),
            Expectation("v_small", "v < 10", "warn"),
        )
    )
    result = run_pipeline(settings, tables=[table])
    run = result.tables[0]
    assert (run.rows_in, run.rows_out, run.quarantined) == (4, 2, 2)
    assert [(e.name, e.action, e.passed, e.failed) for e in run.expectations] == [
        ("v_known", "drop", 3, 1),
        ("v_positive", "drop", 2, 1),  # checks the 3 rows v_known kept
        ("v_small", "warn", 1, 1),  # on the 2 rows kept
    ]
    assert query(readings, "SELECT k FROM checked ORDER BY k").column(0).to_pylist() == [1, 4]
    quarantined = query(
        readings, "SELECT rule, raw_record FROM quarantine ORDER BY rule"
    ).to_pylist()
    assert quarantined == [
        {"rule": "v_known", "raw_record": "raw:3"},
        {"rule": "v_positive", "raw_record": "raw:2"},
    ]
    events = query(readings, "SELECT table_name, status, expectations FROM pipeline_events")
    assert events.to_pylist()[0]["status"] == "ok"
    assert len(events.to_pylist()[0]["expectations"]) == 3


def test_expectation_counts_are_of_the_rows_each_rule_checked(settings: Settings) -> None:
    # x = 0..9: a drop or fail rule checks only the rows no earlier one took; a warn rule is
    # counted on the rows kept (2..7).
    table = TableDef(
        name="numbers",
        layer="gold",
        sql="SELECT x, CAST(x AS VARCHAR) AS __raw FROM range(10) AS r(x)",
        expectations=(
            Expectation("at_least_2", "x >= 2"),  # takes 0 and 1
            Expectation("not_0", "x <> 0"),  # 0 was taken: breaks none it checks
            Expectation("under_8", "x < 8"),  # takes 8 and 9
            Expectation("at_least_5", "x >= 5", "warn"),  # 2, 3 and 4 of the kept
            Expectation("known", "x IS NOT NULL", "fail"),
        ),
    )
    (run,) = run_pipeline(settings, tables=[table]).tables
    assert (run.rows_in, run.quarantined, run.rows_out) == (10, 4, 6)
    assert [(e.name, e.passed, e.failed) for e in run.expectations] == [
        ("at_least_2", 8, 2),
        ("not_0", 8, 0),
        ("under_8", 6, 2),
        ("at_least_5", 3, 3),
        ("known", 6, 0),
    ]


def test_fail_stops_the_run_before_anything_is_written(
    settings: Settings, readings: Lakehouse
) -> None:
    table = _gold((Expectation("v_positive", "v >= 0", "fail"),))
    with pytest.raises(ExpectationFailed, match="'v_positive' failed on 2 row"):
        run_pipeline(settings, tables=[table])
    assert not readings.exists("checked") and not readings.exists("quarantine")
    event = query(readings, "SELECT status, message FROM pipeline_events").to_pylist()
    assert event == [
        {
            "status": "failed",
            "message": "table checked: expectation 'v_positive' failed on 2 row(s)",
        }
    ]
    (run, failure) = run_history(readings)
    assert run.endswith("  1 table  0 lines landed  0 quarantined  FAILED: 1")
    assert (
        failure == "    failed checked: table checked: expectation 'v_positive' failed on 2 row(s)"
    )


def test_tables_whose_inputs_were_never_built_wait_and_say_for_what(
    settings: Settings, readings: Lakehouse
) -> None:
    # Two feeds never landed: an event feed and a reference file.
    feed = TableDef("bronze_feed", "bronze", source=LandingSource("feed", "csv", ("k",)))
    other = TableDef(
        "bronze_other", "bronze", source=LandingSource("other", "csv", ("k",), snapshot=True)
    )
    fed = TableDef("fed", "silver", inputs=("bronze_feed",), sql="SELECT k FROM bronze_feed")
    both = TableDef("both", "gold", inputs=("checked", "fed"), sql="SELECT k FROM fed")
    two = TableDef("two", "gold", inputs=("both", "bronze_other"), sql="SELECT k FROM both")
    tables = [feed, other, _gold(()), fed, both, two]
    result = run_pipeline(settings, tables=tables)
    feed_why = "nothing ingested yet from landing/feed/"
    other_why = "nothing ingested yet from landing/reference/other.csv"
    assert [(t.table_name, t.status, t.message) for t in result.tables[2:]] == [
        ("checked", "ok", ""),
        ("fed", "waiting", f"inputs never built: bronze_feed ({feed_why})"),
        ("both", "waiting", f"inputs never built: fed ({feed_why})"),  # the wait's start
        ("two", "waiting", f"inputs never built: both, bronze_other ({feed_why}; {other_why})"),
    ]
    assert result.waiting == {feed_why: ["fed", "both"], f"{feed_why}; {other_why}": ["two"]}
    assert not any(readings.exists(t) for t in ("fed", "both", "two"))
    sql = "SELECT table_name, status FROM pipeline_events ORDER BY ALL"
    assert [tuple(r.values()) for r in query(readings, sql).to_pylist()] == [
        ("both", "waiting"),
        ("checked", "ok"),
        ("fed", "waiting"),
        ("two", "waiting"),
    ]
    run, *waiting = run_history(readings)
    assert run.endswith("  1 table  0 lines landed  0 quarantined  WAITING: 3 tables")
    assert waiting == [
        f"    waiting ({feed_why}): both, fed",
        f"    waiting ({feed_why}; {other_why}): two",
    ]


def test_an_unchanged_input_skips_the_table(settings: Settings, readings: Lakehouse) -> None:
    table = _gold(())
    run_pipeline(settings, tables=[table])
    version = readings.version("checked")
    assert run_pipeline(settings, tables=[table]).changed == []
    readings.write("readings", pa.table({"k": [9], "v": [1.0]}), "append")
    assert [t.table_name for t in run_pipeline(settings, tables=[table]).changed] == ["checked"]
    assert readings.version("checked") == version + 1
    assert readings.state("checked").rows == 5


def test_split_keeps_the_latest_arrival_of_each_key_null_keys_included() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE stage AS SELECT * FROM (VALUES "
        "('a', 1, 10, NULL), ('a', 1, 12, NULL), ('a', 1, 11, NULL), "  # one key three times
        "('a', 2, 10, NULL), ('b', 1, 9, NULL), "  # unique keys
        "(NULL, 1, 5, NULL), (NULL, 1, 7, NULL), "  # a NULL key repeats too
        "('c', 1, 20, 'out_of_range'), ('c', 1, 30, 'out_of_range')"  # dropped rows
        ") AS t(k, ts, arrival, __rule)"
    )
    sql = split_sql("stage", ["k", "ts", "arrival"], ("k", "ts"), ("arrival",))
    kept = sorted(con.execute(sql).fetchall(), key=str)
    assert kept == [("a", 1, 12), ("a", 2, 10), ("b", 1, 9), (None, 1, 7)]
