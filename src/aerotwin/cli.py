"""The `aerotwin` command line: every command a user runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aerotwin.config import Settings, SettingsError, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


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
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def demo(ctx: typer.Context) -> None:
    """Run the product end to end on a small fleet and print what it produced."""
    settings = _settings(ctx)
    console = Console()
    console.print(f"[bold]AeroTwin demo[/bold] in {settings.data_dir.resolve()}")
