"""The one Settings object: a TOML file, AEROTWIN_* environment variables and command-line
options, validated.

Precedence, highest first: command-line options, environment variables
(AEROTWIN_SIM__AIRCRAFT=10), the TOML file (`aerotwin.toml` in the working directory, or the
file named by --config / AEROTWIN_CONFIG), then the defaults below. A relative path in the
file is relative to the file's folder; one in a variable or an option, to the working
directory. Nothing is read at import time: entry points call `load_settings`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as PydanticSettingsError


class SettingsError(ValueError):
    """A settings file or variable is invalid; the message names the key and the reason."""


# deltalake reads a local path as a URL: these lose the history (`#`, `?`), panic (`[`, `]`,
# `^`, `|`), split the path (`\\`) or are decoded (`%41` becomes `A`).
_URL_TROUBLE = re.compile(r"[#?\[\]^|\\\x00-\x1f\x7f]|%[0-9A-Fa-f]{2}")


def local_path_problem(path: str) -> str | None:
    """Why deltalake cannot keep tables under local folder `path`, or None when it can."""
    found = _URL_TROUBLE.search(path)
    if found is None:
        return None
    return f"deltalake cannot keep tables under {path}: it holds {found.group()!r}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimSettings(_Section):
    """Fleet simulator parameters."""

    aircraft: int = Field(50, ge=1, le=20000, description="number of aircraft in the fleet")
    days: int = Field(180, ge=1, le=3660, description="days of operations to simulate")
    start_date: dt.date = Field(dt.date(2026, 1, 1), description="first simulated day (UTC)")
    seed: int = Field(42, description="random seed; same seed and parameters give identical output")
    bad_record_rate: float = Field(
        0.002, ge=0.0, le=0.5, description="share of telemetry records made bad on purpose"
    )
    reference_dir: Path | None = Field(
        None, description="folder with custom airports.csv / aircraft_models.csv / routes.csv"
    )
    live_rate: float = Field(
        50.0, gt=0, le=100000, description="live mode: telemetry readings emitted per second"
    )
    live_rotate_lines: int = Field(
        10000, ge=1, description="live mode: start a new part-live file after this many lines"
    )
    live_rotate_seconds: float = Field(
        5.0, gt=0, description="live mode: publish an open part-live file after this many seconds"
    )


class LakehouseSettings(_Section):
    """Where the Delta tables live."""

    root: str | None = Field(None, description="table root: a folder or an object-store URI")
    storage_options: dict[str, str] = Field(
        default_factory=dict, description="passed through to deltalake (object stores)"
    )

    @field_validator("root")
    @classmethod
    def _usable_folder(cls, root: str | None) -> str | None:
        if not root or ("://" in root and not root.startswith("file://")):
            return root  # the default folder (checked with data_dir), or deltalake's URI
        problem = local_path_problem(root.removeprefix("file://"))
        if problem:
            raise ValueError(problem)
        return root


class PipelineSettings(_Section):
    """Medallion pipeline execution."""

    engine: Literal["duckdb", "spark"] = Field("duckdb", description="execution engine")
    spark_master: str = Field("local[*]", description="Spark master URL for --engine spark")
    spark_s3a: bool | None = Field(
        None,
        description="Spark loads the project's S3A jars for an s3:// lakehouse and reads s3:// "
        "with them (default: for local and spark:// standalone masters; YARN, Kubernetes and "
        "Databricks clusters usually bring their own)",
    )
    duckdb_threads: int | None = Field(None, ge=1, description="DuckDB threads (default: all)")
    workers: int = Field(
        2, ge=1, le=32, description="tables run at once when independent (Spark: always 1)"
    )
    lock_wait_s: float = Field(
        0.0,
        ge=0,
        le=86400,
        description="seconds a run waits for another run on the lakehouse to end (0: stops)",
    )
    open_days: int = Field(
        7,
        ge=0,
        description="arrival-day folders within this many days before the newest one ingested "
        "are listed again on each run, so files landing late into a recent day are seen",
    )
    future_days: bool = Field(
        False,
        description="arrival-day folders dated after tomorrow (UTC) count as the newest one "
        "ingested (see open_days): for a simulated landing zone whose days run ahead of the "
        "clock; otherwise they are read, but close no older folder, and the run warns",
    )


class TwinSettings(_Section):
    """Health rules and digital twin views."""

    rules_file: Path | None = Field(None, description="health rules YAML (default: bundled rules)")


class MlSettings(_Section):
    """Risk models and MLflow."""

    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI (default: SQLite store)"
    )
    registry_uri: str | None = Field(None, description="MLflow registry URI (default: tracking)")
    horizon_days: int = Field(14, ge=1, le=365, description="failure horizon of the risk label")
    target_recall: float = Field(0.8, gt=0, le=1, description="recall the threshold is chosen for")
    min_precision: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="alert precision the threshold keeps; when target_recall needs less, "
        "the threshold with the most recall at this precision is used (0: recall target only)",
    )
    promotion_margin: float = Field(
        0.01, ge=0, description="PR-AUC a challenger must gain to become champion"
    )
    tuning_seconds: float = Field(60.0, ge=0, description="Optuna time budget per component type")
    tuning_trials: int = Field(40, ge=1, description="most Optuna trials within the time budget")
    holdout_aircraft_share: float = Field(
        0.4, gt=0, lt=1, description="share of aircraft kept out of training (validation+holdout)"
    )
    holdout_time_share: float = Field(
        0.4, gt=0, lt=1, description="share of the latest days held out; training stops before"
    )
    num_threads: int = Field(
        1, ge=1, description="LightGBM / scikit-learn threads (OpenMP spins on a busy machine)"
    )


class Settings(BaseSettings):
    """Everything AeroTwin can be told, in one validated object passed down from the entry point."""

    model_config = SettingsConfigDict(
        env_prefix="AEROTWIN_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(Path("data"), description="root of landing zone, lakehouse and MLflow")
    sim: SimSettings = Field(default_factory=SimSettings)
    lakehouse: LakehouseSettings = Field(default_factory=LakehouseSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    twin: TwinSettings = Field(default_factory=TwinSettings)
    ml: MlSettings = Field(default_factory=MlSettings)
    # Where each key that is not a default came from ("twin.rules_file": "/x/aerotwin.toml").
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    def origin(self, key: str) -> str:
        """Where the value of `key` (e.g. "twin.rules_file") came from: its AEROTWIN_*
        variable, the settings file, "command-line options" or "the defaults"."""
        return self._origins.get(key, "the defaults")

    @field_validator("data_dir")
    @classmethod
    def _usable_data_dir(cls, data_dir: Path) -> Path:
        # The lakehouse lives under it unless `lakehouse.root` says otherwise.
        problem = local_path_problem(str(data_dir.resolve()))
        if problem:
            raise ValueError(problem)
        return data_dir

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load_settings` merges the file, the variables and the options itself, in that order,
        # and passes the result in: validating again (`with_section`) never rereads variables.
        return (init_settings,)

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def lakehouse_root(self) -> str:
        return self.lakehouse.root or str((self.data_dir / "lakehouse").resolve())

    @property
    def mlflow_tracking_uri(self) -> str:
        if self.ml.tracking_uri:
            return self.ml.tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow' / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return (self.data_dir / "mlflow" / "artifacts").resolve()


ENV_PREFIX = "AEROTWIN_"
OPTIONS = "command-line options"
# Keys that hold a local path (lakehouse.root: unless it is a URI); in the MLflow URIs, the
# path of a sqlite:/// one. A relative one in a settings file is put under the file's folder.
PATH_KEYS = ("data_dir", "sim.reference_dir", "lakehouse.root", "twin.rules_file")
URI_KEYS = ("ml.tracking_uri", "ml.registry_uri")
SQLITE = "sqlite:///"
# Read by the command line (--config) and by Spark's jar fetcher, not settings.
OTHER_VARIABLES = frozenset({"AEROTWIN_CONFIG", "AEROTWIN_IVY_DIR"})


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable that sets the key at `loc` (AEROTWIN_SIM__AIRCRAFT)."""
    return ENV_PREFIX + "__".join(str(part) for part in loc).upper()


def _variables(model: type[BaseModel], loc: tuple[str, ...] = ()) -> tuple[set[str], set[str]]:
    """The variables that name a key of `model`, and the prefixes of mapping keys' entries."""
    names: set[str] = set()
    prefixes: set[str] = set()
    for name, field in model.model_fields.items():
        key = (*loc, name)
        names.add(_variable(key))
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            inner, more = _variables(kind, key)
            names, prefixes = names | inner, prefixes | more
        elif get_origin(kind) is dict:  # its entries: AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS__X
            prefixes.add(_variable(key) + "__")
    return names, prefixes


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """AEROTWIN_* variables that set no key: a typo (one underscore) would pass unnoticed."""
    names, prefixes = _variables(Settings)
    names |= OTHER_VARIABLES
    return sorted(
        v
        for v in environ
        if v.upper().startswith(ENV_PREFIX)
        and v.upper() not in names
        and not v.upper().startswith(tuple(prefixes))
    )


def _describe(error: ValidationError, origins: Mapping[str, str], source: str) -> str:
    """Each bad key with the reason and where its value came from (`origins`, else `source`)."""
    lines = ["invalid settings:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        message = str(item["msg"]).removeprefix("Value error, ")
        reason = "unknown key" if item["type"] == "extra_forbidden" else message
        origin = origins.get(key, source)
        lines.append(f"  {key}: {reason} (got {item.get('input')!r}, from {origin})")
    return "\n".join(lines)


def _keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of nested `data` ("sim.aircraft")."""
    keys = []
    for name, value in data.items():
        key = f"{prefix}{name}"
        keys += _keys(value, f"{key}.") if isinstance(value, Mapping) else [key]
    return keys


def _origins(
    file_data: Mapping[str, Any],
    source: str,
    overrides: Mapping[str, Any],
    environ: Mapping[str, str],
) -> dict[str, str]:
    """Where each key set came from, in precedence order: options win over variables,
    variables over the file (as `load_settings` merges them)."""
    found = dict.fromkeys(_keys(file_data), source)
    for variable in environ:
        name = variable.upper()
        if name.startswith(ENV_PREFIX) and name not in OTHER_VARIABLES:
            found[name.removeprefix(ENV_PREFIX).lower().replace("__", ".")] = variable
    found |= dict.fromkeys(_keys(overrides), OPTIONS)
    return found


def _merged(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """`low` with `high`'s keys on top, table by table: an option for one key of a section
    keeps the section's other keys from the file."""
    out = dict(low)
    for name, value in high.items():
        below = out.get(name)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            value = _merged(below, value)
        out[name] = value
    return out


def _under_folder(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A settings file's `data` with each relative path of PATH_KEYS and URI_KEYS put under
    `folder` (the file's own), so the file means the same from any working directory."""
    for key in (*PATH_KEYS, *URI_KEYS):
        *sections, name = key.split(".")
        table: Any = data
        for section in sections:
            table = table.get(section) if isinstance(table, dict) else None
        value = table.get(name) if isinstance(table, dict) else None
        if not isinstance(value, str):
            continue
        scheme = SQLITE if key in URI_KEYS else ""
        if not value.startswith(scheme):
            continue  # an MLflow URI of another kind (http://, databricks) is not a path
        path = value.removeprefix(scheme)
        if path and "://" not in path and not Path(path).is_absolute():
            table[name] = scheme + str(folder / path)
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any) and the environment into a validated Settings.

    `overrides` are top-level keys (a section as a dict) applied on top of the file and the
    variables (tests, CLI options).
    Raises SettingsError naming the bad key (or variable) and the reason.
    """
    data: dict[str, Any] = {}
    path = config_file or (Path("aerotwin.toml") if Path("aerotwin.toml").exists() else None)
    source = str(path) if path else "the defaults"
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise SettingsError(f"settings file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"invalid TOML in {path}: {exc}") from exc
        data = _under_folder(data, Path(os.path.abspath(path)).parent)  # ".." collapsed
    origins = _origins(data, source, overrides, os.environ)
    unknown = unknown_variables(os.environ)
    if unknown:
        raise SettingsError(
            "invalid settings:\n"
            + "\n".join(f"  {v}: unknown variable" for v in unknown)
            + "\n  (a section and its key are joined by two underscores: AEROTWIN_SIM__AIRCRAFT)"
        )
    try:
        variables = EnvSettingsSource(Settings)()
        settings = Settings(**_merged(_merged(data, variables), overrides))
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origins, source)) from None
    except PydanticSettingsError as exc:
        # A mapping set by a variable must be JSON: pydantic-settings' own error names no variable.
        raise SettingsError(
            f"invalid settings: {exc} (a mapping in an AEROTWIN_* variable is a JSON object, "
            'e.g. AEROTWIN_LAKEHOUSE__STORAGE_OPTIONS=\'{"AWS_REGION": "eu-west-1"}\')'
        ) from None
    settings._origins = origins
    return settings


def with_section(settings: Settings, section: str, **changes: Any) -> Settings:
    """A copy of settings with some keys of one section changed, validated again."""
    merged = settings.model_dump()
    given = {k: v for k, v in changes.items() if v is not None}
    merged[section] = {**merged[section], **given}
    origins = settings._origins | dict.fromkeys((f"{section}.{k}" for k in given), OPTIONS)
    try:
        changed = Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, origins, OPTIONS)) from None
    changed._origins = origins
    return changed
