"""The `aerotwin` command line: every command a user runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from aerotwin.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.pipeline.definitions import TableDef


class _Commands(TyperGroup):
    """Every command: an error any of them can meet ends as one line, not a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        from aerotwin.lakehouse.delta import TableUnreadable

        try:
            return super().invoke(ctx)
        except TableUnreadable as exc:
            _fail(exc, code=1)


app = typer.Typer(cls=_Commands, no_args_is_help=True, add_completion=False, help=__doc__)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _say_error(message: object, label: str) -> None:
    """`message` on stderr after `label`."""
    # Escaped: an error's text with brackets ("[egt_c]") is not Rich markup.
    Console(stderr=True).print(
        f"[red]{label}:[/red] {escape(str(message))}", highlight=False, soft_wrap=True
    )


def _fail(message: object, code: int = 2, label: str = "error") -> NoReturn:
    """Stop the command: `message` on stderr after `label`, exit code `code`."""
    _say_error(message, label)
    raise typer.Exit(code)


def _stop_now(message: str) -> NoReturn:
    """Exit 130 at once after `message`, as a kill would: not waiting for the threads of
    tables still running (a Spark job the run cancelled may yet take a while to let go)."""
    _say_error(message, "pipeline interrupted")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _lakehouse(settings: Settings) -> Lakehouse:
    """The settings' lakehouse; an object store that does not answer stops the command here,
    with the root and the reason, instead of a traceback from deep inside deltalake."""
    from aerotwin.lakehouse.delta import Lakehouse, StoreUnreachable

    lakehouse = Lakehouse.from_settings(settings)
    try:
        lakehouse.probe()
    except StoreUnreachable as exc:
        _fail(exc)
    return lakehouse


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="AEROTWIN_CONFIG", help="settings TOML file"),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="root of landing zone, lakehouse, MLflow")
    ] = None,
) -> None:
    """AeroTwin: digital twin and predictive maintenance for aircraft fleets."""
    overrides = {"data_dir": data_dir} if data_dir else {}
    try:
        ctx.obj = load_settings(config, **overrides)
    except SettingsError as exc:
        _fail(exc)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Run the product end to end on the demo fleet and print what it produced.

    The fleet is always 200 aircraft x 365 days: the sim.aircraft and sim.days
    settings do not change it; the other settings apply.
    """
    settings = _settings(ctx)
    _lakehouse(settings)  # a lakehouse that cannot be written stops the demo before it starts
    console = Console()
    console.print(f"[bold]AeroTwin demo[/bold] in {settings.data_dir.resolve()}")
    _demo_simulate(settings, console)
    _demo_pipeline(settings, console)  # landing -> bronze -> silver -> gold, quality summary
    _demo_health(settings, console)  # twin: fleet health from the gold tables
    _demo_models(settings, console)  # needs the gold tables: keep it the last step


# Enough failures (~0.5 per aircraft-year and type) that every component type gets a risk
# model with failures in its holdout; run time in docs/benchmarks.md, Risk models. The demo's
# own, as an option is: sim.aircraft and sim.days settings do not change it (`demo --help`).
DEMO_FLEET: dict[str, object] = {"aircraft": 200, "days": 365}
DEMO_TRIALS = 4


def _demo_simulate(
    settings: Settings, console: Console, fleet: dict[str, object] = DEMO_FLEET
) -> None:
    """Demo step 1: simulate the demo fleet into the landing zone and show what it produced."""
    from aerotwin.sim.report import print_summary, simulate_with_progress

    demo_settings = _sim_settings(settings, fleet)
    print_summary(simulate_with_progress(demo_settings, console), console)


def _sim_settings(settings: Settings, options: Mapping[str, object]) -> Settings:
    """Settings with `sim` options from the command line applied, or exit 2 naming the bad key."""
    from aerotwin.config import with_section

    try:
        return with_section(settings, "sim", **options)
    except SettingsError as exc:
        _fail(exc)


@app.command()
def simulate(
    ctx: typer.Context,
    aircraft: Annotated[int | None, typer.Option(help="fleet size (sim.aircraft)")] = None,
    days: Annotated[int | None, typer.Option(help="days of history (sim.days)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (sim.seed)")] = None,
    start_date: Annotated[
        str | None, typer.Option(help="first day, YYYY-MM-DD (sim.start_date)")
    ] = None,
    bad_record_rate: Annotated[
        float | None, typer.Option(help="share of telemetry made bad (sim.bad_record_rate)")
    ] = None,
    reference_dir: Annotated[
        Path | None, typer.Option(help="custom reference CSV folder (sim.reference_dir)")
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="keep emitting readings after the history")
    ] = False,
    rate: Annotated[
        float | None, typer.Option(help="live: readings per second (sim.live_rate)")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="live: stop after this many seconds (default: Ctrl-C)")
    ] = None,
) -> None:
    """Simulate a fleet's history into the landing zone, or stream it live with --live."""
    from aerotwin.sim.reference import ReferenceError
    from aerotwin.sim.report import print_summary, simulate_with_progress
    from aerotwin.sim.state import StateError

    options = {
        "aircraft": aircraft, "days": days, "seed": seed, "start_date": start_date,
        "bad_record_rate": bad_record_rate, "reference_dir": reference_dir, "live_rate": rate,
    }  # fmt: skip
    settings = _sim_settings(_settings(ctx), options)
    console = Console()
    try:
        if live:
            from aerotwin.sim.live import run_live

            ignored = [f"--{k.replace('_', '-')}" for k, v in options.items() if v is not None]
            ignored = [name for name in ignored if name != "--live-rate"]
            if ignored:
                console.print(
                    f"[yellow]note:[/yellow] live mode continues the saved fleet; "
                    f"{', '.join(ignored)} ignored",
                    soft_wrap=True,
                )
            run_live(settings, duration=duration, console=console)
        else:
            print_summary(simulate_with_progress(settings, console), console)
    except (ReferenceError, FileNotFoundError, StateError) as exc:
        _fail(exc)


import_app = typer.Typer(no_args_is_help=True, help="Import outside data sets into the lakehouse.")
evaluate_app = typer.Typer(no_args_is_help=True, help="Evaluate models on reference data sets.")
app.add_typer(import_app, name="import")
app.add_typer(evaluate_app, name="evaluate")

CmapssDir = Annotated[
    Path, typer.Argument(help="folder with train_/test_/RUL_<subset>.txt", show_default=False)
]
CmapssSubsetOpt = Annotated[str, typer.Option("--subset", help="C-MAPSS subset, e.g. FD001")]


@import_app.command("cmapss")
def import_cmapss_cmd(
    ctx: typer.Context, directory: CmapssDir, subset: CmapssSubsetOpt = "FD001"
) -> None:
    """Load NASA C-MAPSS files into the lakehouse: one unit is one engine, one cycle one flight."""
    from aerotwin.ml.cmapss import CmapssFormatError
    from aerotwin.ml.cmapss_import import import_cmapss

    console = Console()
    try:
        result = import_cmapss(_settings(ctx), directory, subset)
    except CmapssFormatError as exc:
        _fail(exc)
    console.print(
        f"imported C-MAPSS {result.subset}: {result.engines} engines, {result.cycles} cycles "
        f"into cmapss_engines / cmapss_cycles under {result.root}",
        highlight=False,
        soft_wrap=True,
    )


@evaluate_app.command("cmapss")
def evaluate_cmapss_cmd(
    ctx: typer.Context,
    directory: CmapssDir,
    subset: CmapssSubsetOpt = "FD001",
    folds: Annotated[int, typer.Option(min=2, help="grouped CV folds on training units")] = 5,
    trees: Annotated[int, typer.Option(min=1, help="LightGBM trees per model")] = 600,
    coverage: Annotated[
        float, typer.Option(min=0.5, max=0.99, help="nominal interval coverage")
    ] = 0.9,
    register: Annotated[
        bool, typer.Option(help="register in MLflow as aerotwin-engine-rul")
    ] = True,
    threads: Annotated[int, typer.Option(min=1, help="LightGBM threads")] = 2,
) -> None:
    """Train the engine RUL model (CV on training units), score the test split, log to MLflow."""
    from rich.progress import Progress
    from rich.table import Table

    from aerotwin.ml.cmapss import CmapssFormatError, load_subset
    from aerotwin.ml.rul import RulConfig, describe, evaluate, train_rul
    from aerotwin.ml.rul_tracking import MODEL_NAME, log_training

    settings = _settings(ctx)
    console = Console()
    try:
        data = load_subset(directory, subset)
    except CmapssFormatError as exc:
        _fail(exc)
    config = RulConfig(folds=folds, n_estimators=trees, coverage=coverage, threads=threads)
    with Progress(console=console, transient=True) as progress:
        result = train_rul(data.train, subset, config, progress=progress)
    evaluation = evaluate(result.model, data)
    first_unit = data.test[data.test["unit"] == data.test["unit"].iloc[0]]
    _quiet_mlflow(ctx)
    registered = log_training(settings, result, evaluation, first_unit.head(60), register)

    m = evaluation.metrics
    table = Table(title=f"Engine RUL, C-MAPSS {subset} test split ({int(m['test_units'])} units)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("RMSE (vs RUL file)", f"{m['test_rmse']:.2f}"),
        ("PHM08 score (vs RUL file)", f"{m['test_phm08_score']:.1f}"),
        (f"RMSE (true RUL capped at {result.model.cap})", f"{m['test_rmse_capped']:.2f}"),
        (f"PHM08 score (capped at {result.model.cap})", f"{m['test_phm08_score_capped']:.1f}"),
        (f"interval coverage (nominal {coverage:.0%})", f"{m['test_coverage']:.1%}"),
        ("mean interval width (cycles)", f"{m['test_mean_width']:.1f}"),
        ("CV RMSE (training units, grouped)", f"{result.cv['cv_rmse']:.2f}"),
        ("training time (s)", f"{result.train_seconds:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    preds = evaluation.predictions
    example = preds.iloc[int((preds["rul"] - 40).abs().argmin())]
    console.print(
        f"test unit {int(example['unit'])}: {describe(example, coverage)}; "
        f"true {int(example['true_rul'])}",
        highlight=False,
        soft_wrap=True,
    )
    where = f"MLflow run {registered.run_id}"
    if register:
        where += f"; {MODEL_NAME} version {registered.version} ({', '.join(registered.aliases)})"
    console.print(where, highlight=False, soft_wrap=True)


def _demo_health(settings: Settings, console: Console) -> None:
    """Demo step: the fleet's health from the gold tables (the pipeline step built them)."""
    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.twin.report import fleet_health

    console.rule("[bold]Fleet health[/bold]: component digital twins")
    console.print(fleet_health(Lakehouse.from_settings(settings)))


@app.command("whatif")
def whatif_cmd(
    ctx: typer.Context,
    aircraft: Annotated[str, typer.Argument(help="aircraft id (tail)", show_default=False)],
    component: Annotated[
        str,
        typer.Argument(help="component id, slot (ENG1, LDG), position or type", show_default=False),
    ],
    overrides: Annotated[
        list[str],
        typer.Option("--set", help="SENSOR=VALUE (absolute), =+D / =-D (relative), =+N% (percent)"),
    ],
) -> None:
    """Change a component's latest readings and compare features and health, writing nothing."""
    from aerotwin.scoring.whatif import champion_scorer
    from aerotwin.twin.report import whatif_table
    from aerotwin.twin.rules import RulesError
    from aerotwin.twin.whatif import WhatIfError, what_if

    _lakehouse(_settings(ctx))
    _quiet_mlflow(ctx)  # reading a champion prints MLflow's notes and download bars
    try:
        scorer = champion_scorer(_settings(ctx))  # risk before/after from the champion
        result = what_if(_settings(ctx), aircraft, component, overrides, scorer=scorer)
    except (WhatIfError, RulesError) as exc:
        _fail(exc)
    Console().print(whatif_table(result))


docs_app = typer.Typer(no_args_is_help=True, help="Generated documentation.")
app.add_typer(docs_app, name="docs")


@docs_app.command("erd")
def docs_erd_cmd(
    ctx: typer.Context,
    root: Annotated[Path, typer.Option(help="project folder holding README.md and docs/")] = Path(
        "."
    ),
) -> None:
    """Write the Mermaid ER diagram of every table to docs/data_model.md and the README."""
    from aerotwin.twin.erd import ErdError, build_entities, write_docs

    settings = _settings(ctx)
    try:
        entities = build_entities(_lakehouse(settings), _declared_tables(settings))
        changed = write_docs(entities, root)
    except ErdError as exc:
        _fail(exc)
    names = ", ".join(str(p) for p in changed) or "nothing (already up to date)"
    Console().print(f"{len(entities)} tables; updated {names}", highlight=False, soft_wrap=True)


pipeline_app = typer.Typer(
    no_args_is_help=True, help="The medallion pipeline: landing -> bronze -> silver -> gold."
)
app.add_typer(pipeline_app, name="pipeline")


def _declared_tables(settings: Settings) -> list[TableDef]:
    """Every table of the pipeline, gold's health SQL from the settings' rules file; a rules
    file that is missing or invalid stops the command with its line and reason."""
    from aerotwin.twin.gold import pipeline_tables
    from aerotwin.twin.rules import RulesError

    try:
        return pipeline_tables(settings)
    except RulesError as exc:
        _fail(exc)


LockWaitOpt = Annotated[
    float | None,
    typer.Option(
        "--wait",
        min=0,
        help="seconds to wait for another run on the lakehouse [pipeline.lock_wait_s]",
    ),
]


def _or_disk_errors(*errors: type[Exception]) -> tuple[type[Exception], ...]:
    """`errors` and what a disk full or a folder a writer may not write raises: the operating
    system's error (naming the file), or DuckDB's IOException when DuckDB wrote the file."""
    import duckdb

    return (*errors, OSError, duckdb.IOException)


def _waiting(settings: Settings, console: Console) -> Callable[[str], None]:
    """What a writer tells the user when it waits for the run holding the lakehouse."""
    return lambda holder: console.print(
        f"waiting up to {settings.pipeline.lock_wait_s:g} s for {holder}", highlight=False
    )


def _run_pipeline(
    settings: Settings, console: Console, full_refresh: bool, engine: str | None
) -> None:
    """Run the pipeline with per-table progress; exits 1 when an expectation fails the run,
    another run or writer is at work on the same tables, or the disk refuses a write."""
    from aerotwin.lakehouse.delta import ConcurrentCommit
    from aerotwin.lakehouse.run_lock import LakehouseBusy
    from aerotwin.lakehouse.spark_runtime import SparkUnavailable
    from aerotwin.pipeline.expectations import ExpectationFailed
    from aerotwin.pipeline.landing import LandingLayoutError
    from aerotwin.pipeline.parallel import RunInterrupted
    from aerotwin.pipeline.report import run_notices, run_summary, table_progress
    from aerotwin.pipeline.runner import run_pipeline

    declared = _declared_tables(settings)
    stopped = _or_disk_errors(
        ExpectationFailed, LakehouseBusy, ConcurrentCommit, LandingLayoutError
    )
    try:
        with table_progress(console, len(declared)) as callbacks:
            result = run_pipeline(
                settings,
                full_refresh=full_refresh,
                engine=engine,
                tables=declared,
                on_wait=_waiting(settings, console),
                **callbacks,
            )
    except SparkUnavailable as exc:
        _fail(exc)
    except stopped as exc:
        _fail(exc, code=1, label="pipeline stopped")
    except RunInterrupted as exc:
        if exc.cut_short:
            _stop_now(
                f"stopped at once (second Ctrl-C): {len(exc.cut_short)} table(s) cut short, "
                f"{len(exc.not_started)} not started: the next run brings them up to date"
            )
        _fail(
            f"the tables running finished and committed; {len(exc.not_started)} table(s) did "
            "not start: the next run brings them up to date",
            code=130,
            label="pipeline interrupted",
        )
    for notice in run_notices(result, settings):
        console.print(f"[yellow]note:[/yellow] {escape(notice)}", highlight=False, soft_wrap=True)
    # Long lines whole (the terminal wraps them): tables waiting are listed on one line.
    console.print(run_summary(result), markup=False, highlight=False, soft_wrap=True)


def _demo_pipeline(settings: Settings, console: Console) -> None:
    """Demo step 2: run the pipeline, then print the tables and the data-quality summary."""
    from aerotwin.config import with_section
    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.pipeline.report import quality_table, tables_table

    console.rule("[bold]Pipeline[/bold]: landing -> bronze -> silver -> gold")
    # The demo's simulated year may run ahead of the clock: its day folders are trusted.
    settings = with_section(settings, "pipeline", future_days=True)
    _run_pipeline(settings, console, full_refresh=False, engine=None)
    lakehouse = Lakehouse.from_settings(settings)
    console.print(tables_table(lakehouse))
    console.print(quality_table(lakehouse))


@pipeline_app.command("run")
def pipeline_run_cmd(
    ctx: typer.Context,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="rebuild silver and gold from bronze")
    ] = False,
    engine: Annotated[
        str | None, typer.Option("--engine", help="duckdb (default) or spark")
    ] = None,
    wait: LockWaitOpt = None,
) -> None:
    """Ingest new landing files into bronze and bring every table up to date."""
    from aerotwin.config import with_section

    if engine is not None and engine not in ("duckdb", "spark"):
        _fail(f"--engine: {engine!r} is not duckdb or spark")
    settings = with_section(_settings(ctx), "pipeline", lock_wait_s=wait)
    _lakehouse(settings)
    if not full_refresh and not settings.landing_dir.is_dir():
        # A mistyped --data-dir would otherwise "succeed" and start a lakehouse there.
        _fail(
            f"no landing zone at {settings.landing_dir}: simulate a fleet first (aerotwin "
            "simulate) or point --data-dir (data_dir) at the folder holding landing/"
        )
    _run_pipeline(settings, Console(), full_refresh, engine)


@pipeline_app.command("history")
def pipeline_history_cmd(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="runs to show")] = 10,
) -> None:
    """The latest runs from pipeline_events: how long, tables, lines landed, failures, waits."""
    from aerotwin.pipeline.report import run_history

    lines = run_history(_lakehouse(_settings(ctx)), limit)
    for line in lines or ["no pipeline run has written anything yet"]:
        Console().print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("tables")
def tables_cmd(ctx: typer.Context) -> None:
    """List the lakehouse tables: layer, rows, version and last update."""
    from aerotwin.lakehouse.delta import TableUnreadable
    from aerotwin.pipeline.report import tables_table

    damaged: list[TableUnreadable] = []
    Console().print(tables_table(_lakehouse(_settings(ctx)), damaged))
    if damaged:  # listed as damaged; then the way back, as every command that reads one says
        _fail("\n".join(str(exc) for exc in damaged), code=1)


@app.command("optimize")
def optimize_cmd(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="tables (default: all)", show_default=False)
    ] = None,
    retain_hours: Annotated[
        int, typer.Option(min=0, help="keep files a version this recent still reads")
    ] = 168,
) -> None:
    """Compact each table's small files (per month) and delete files no version needs.

    Daily runs add a small file per table per day; merges leave replaced files on disk.
    Neither step changes a row, and the pipeline does not take them for new input.
    """
    from rich.progress import Progress

    from aerotwin.lakehouse.catalog import table_names
    from aerotwin.lakehouse.maintenance import maintain
    from aerotwin.lakehouse.run_lock import LakehouseBusy, exclusive_run
    from aerotwin.pipeline.report import layers, maintenance_table

    lakehouse = _lakehouse(_settings(ctx))
    unknown = sorted(n for n in names or [] if not lakehouse.exists(n))
    if unknown:
        _fail(f"tables: no table {', '.join(unknown)}")
    chosen = names or table_names(lakehouse, layers())
    console = Console()
    if not chosen:  # nothing to take the lock for, nor a folder to create it in
        console.print("no table yet: nothing to optimize", highlight=False)
        return
    stopped = _or_disk_errors(LakehouseBusy)
    try:
        with (
            exclusive_run(lakehouse, "aerotwin optimize"),
            Progress(console=console, transient=True) as progress,
        ):
            task = progress.add_task("optimize", total=len(chosen))
            done = maintain(
                lakehouse,
                chosen,
                retain_hours=retain_hours,
                on_table=lambda _: progress.advance(task),
            )
    except stopped as exc:
        _fail(exc, code=1)
    console.print(maintenance_table(done))


@app.command("sql")
def sql_cmd(
    ctx: typer.Context,
    statement: Annotated[
        str, typer.Argument(help="DuckDB SQL; tables by name", show_default=False)
    ],
    limit: Annotated[int, typer.Option(min=1, help="rows to print")] = 50,
) -> None:
    """Query the lakehouse tables with DuckDB, e.g. aerotwin sql "SELECT count(*) FROM flights"."""
    import duckdb

    from aerotwin.lakehouse.catalog import query, table_names
    from aerotwin.pipeline.report import arrow_table, layers

    if not statement.strip():
        _fail('no SQL statement given, e.g. aerotwin sql "SELECT count(*) FROM flights"')
    lakehouse = _lakehouse(_settings(ctx))
    try:
        result = query(lakehouse, statement, table_names(lakehouse, layers()))
    except duckdb.Error as exc:
        _fail(exc, label="SQL error")
    if not result.num_columns:
        Console().print("the statement ran and returned no result", highlight=False)
        return
    Console().print(arrow_table(result, limit))


def _demo_models(settings: Settings, console: Console) -> None:
    """Demo step: train the risk models, score the fleet with the champions, print the risk."""
    from aerotwin.config import with_section
    from aerotwin.ml.tracking import quiet_mlflow

    console.rule("[bold]Risk models[/bold]: one per component type, against the rules")
    # A fixed number of Optuna trials (the time budget only caps them): a budget in seconds
    # made the demo's models, and its alerts, depend on how busy the machine was.
    quick = with_section(settings, "ml", tuning_trials=min(settings.ml.tuning_trials, DEMO_TRIALS))
    with quiet_mlflow():  # MLflow's console chatter only; its store records everything
        trained = _train_with_progress(quick, console, None)
        if not trained:
            console.print("[yellow]no risk model trained: nothing to score[/yellow]")
            return
        # Every type with a champion: one whose holdout had no failures stays challenger.
        _score_and_print(quick, console, None)
    console.print(
        f"Runs, metrics and models: mlflow ui --backend-store-uri {quick.mlflow_tracking_uri}",
        highlight=False,
        soft_wrap=True,
    )


def _train_with_progress(
    settings: Settings, console: Console, component_type: str | None
) -> list:  # list[TrainReport]; imported lazily
    """Train one or every component type with a progress bar; print the results table."""
    from rich.progress import Progress

    from aerotwin.ml.report import decision_lines, training_table
    from aerotwin.ml.train_job import skip_message, train_all
    from aerotwin.schemas import COMPONENT_TYPES

    types = [component_type] if component_type else list(COMPONENT_TYPES)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("training risk models", total=len(types))

        def done(ct: str, outcome: object) -> None:
            if isinstance(outcome, Exception):
                message = escape(skip_message(ct, outcome))
                progress.console.print(f"[yellow]skipped[/yellow] {message}", highlight=False)
            progress.advance(task)

        reports = train_all(settings, types, on_done=done)
    if reports:
        console.print(training_table(reports))
        for line in decision_lines(reports):
            console.print(line, highlight=False, soft_wrap=True)
    return reports


def _score_and_print(
    settings: Settings, console: Console, component_types: list[str] | None
) -> None:
    """Score with the champions and print the fleet's risk; exits 1 when scoring cannot run,
    another run holds the lakehouse (then nothing was written) or the disk refuses a write."""
    from aerotwin.lakehouse.delta import ConcurrentCommit
    from aerotwin.lakehouse.run_lock import LakehouseBusy
    from aerotwin.scoring.batch import ScoringError, score
    from aerotwin.scoring.report import risk_summary
    from aerotwin.twin.rules import RulesError

    stopped = _or_disk_errors(LakehouseBusy, ConcurrentCommit)
    try:
        with console.status("scoring the fleet with the champion models"):
            result = score(settings, component_types, on_wait=_waiting(settings, console))
    except ScoringError as exc:
        _fail(exc, code=1, label="scoring failed")
    except stopped as exc:
        _fail(exc, code=1, label="scoring stopped")
    except RulesError as exc:
        _fail(exc)
    console.print(risk_summary(result))
    if result.skipped:
        console.print(f"not scored (no champion model): {', '.join(result.skipped)}")
    written = ", ".join(f"{k} v{v}" for k, v in result.versions.items())
    console.print(f"scoring run {result.run_id}: wrote {written}", highlight=False, soft_wrap=True)


@app.command("train")
def train_cmd(
    ctx: typer.Context,
    component_type: Annotated[
        str | None, typer.Option("--component-type", help="one type (default: all)")
    ] = None,
    tuning_seconds: Annotated[
        float | None, typer.Option(min=0, help="Optuna budget per type [ml.tuning_seconds]")
    ] = None,
) -> None:
    """Train the risk models (one per component type), log to MLflow, decide on champions."""
    from aerotwin.config import with_section
    from aerotwin.schemas import COMPONENT_TYPES

    if component_type is not None and component_type not in COMPONENT_TYPES:
        _fail(f"--component-type: {component_type!r} is not one of {', '.join(COMPONENT_TYPES)}")
    settings = with_section(_settings(ctx), "ml", tuning_seconds=tuning_seconds)
    _lakehouse(settings)
    _quiet_mlflow(ctx)
    if not _train_with_progress(settings, Console(), component_type):
        raise typer.Exit(1)


@app.command("score")
def score_cmd(ctx: typer.Context, wait: LockWaitOpt = None) -> None:
    """Score the latest features with the champion models; print the fleet's risk."""
    from aerotwin.config import with_section

    settings = with_section(_settings(ctx), "pipeline", lock_wait_s=wait)
    _lakehouse(settings)
    _quiet_mlflow(ctx)
    _score_and_print(settings, Console(), None)


models_app = typer.Typer(no_args_is_help=True, help="Registered risk models in MLflow.")
app.add_typer(models_app, name="models")


def _quiet_mlflow(ctx: typer.Context) -> None:
    """Keep MLflow's console chatter out of this command's output (its store logs it all)."""
    from aerotwin.ml.tracking import quiet_mlflow

    ctx.with_resource(quiet_mlflow())


@models_app.command("list")
def models_list_cmd(ctx: typer.Context) -> None:
    """Every risk model version with its aliases (champion, challenger) and holdout PR-AUC."""
    from aerotwin.ml.registry import list_versions
    from aerotwin.ml.report import models_table
    from aerotwin.ml.tracking import mlflow_session

    _quiet_mlflow(ctx)
    with mlflow_session(_settings(ctx)) as client:
        Console().print(models_table(list_versions(client)))


def _registry_action(ctx: typer.Context, action: str, component_type: str, version: int) -> None:
    from aerotwin.ml.registry import RegistryError, model_name, promote, rollback
    from aerotwin.ml.tracking import mlflow_session

    settings = _settings(ctx)
    _quiet_mlflow(ctx)
    try:
        with mlflow_session(settings) as client:
            if action == "promote":
                decision = promote(settings, client, component_type, version)
            else:
                decision = rollback(settings, client, component_type)
    except RegistryError as exc:
        _fail(exc)
    if not decision.promoted:  # promote of the version that already is champion
        Console().print(
            f"{model_name(component_type)}: version {decision.version} is already champion; "
            "nothing changed",
            highlight=False,
        )
        return
    before = (
        "no champion before"
        if decision.previous_champion is None
        else f"was {decision.previous_champion}"
    )
    Console().print(
        f"{model_name(component_type)}: champion is now version {decision.version} "
        f"({before}); {decision.reason}",
        highlight=False,
    )


@models_app.command("promote")
def models_promote_cmd(
    ctx: typer.Context,
    component_type: Annotated[str, typer.Argument(help="e.g. engine", show_default=False)],
    version: Annotated[int, typer.Argument(help="registered version", show_default=False)],
) -> None:
    """Make a version the champion by hand (logged as a manual decision)."""
    _registry_action(ctx, "promote", component_type, version)


@models_app.command("rollback")
def models_rollback_cmd(
    ctx: typer.Context,
    component_type: Annotated[str, typer.Argument(help="e.g. engine", show_default=False)],
) -> None:
    """Give the champion alias back to the previous champion."""
    _registry_action(ctx, "rollback", component_type, 0)
