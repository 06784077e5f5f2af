"""Reference data: airports, aircraft models and routes, shipped as CSV or read from a folder.

The bundled files live in `aerotwin/sim/data/`; a custom folder (settings `sim.reference_dir`)
may replace any of them. Every file is validated and a bad one is rejected with a message naming
the file, the row and the column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

from aerotwin.sim.weather import CLIMATES

EARTH_RADIUS_NM = 3440.065

AIRPORT_COLUMNS = {
    "airport_code": pl.String,
    "name": pl.String,
    "city": pl.String,
    "country": pl.String,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "climate": pl.String,
}
# Descriptive columns a custom file may leave out (they are written empty).
OPTIONAL_COLUMNS = ("city", "country")
MODEL_COLUMNS = {
    "model": pl.String,
    "manufacturer": pl.String,
    "engine_count": pl.Int64,
    "range_nm": pl.Float64,
    "cruise_speed_kt": pl.Float64,
    "seats": pl.Int64,
    "fleet_weight": pl.Float64,
}
ROUTE_COLUMNS = {
    "route_id": pl.String,
    "origin": pl.String,
    "destination": pl.String,
    "distance_nm": pl.Float64,
    "turbulence_index": pl.Float64,
}


class ReferenceError(ValueError):
    """A reference file is missing or invalid; the message names the file, row and column."""


@dataclass(frozen=True)
class Reference:
    """The three reference tables the simulator builds a fleet from."""

    airports: pl.DataFrame
    models: pl.DataFrame
    routes: pl.DataFrame


def great_circle_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in nautical miles (haversine on a spherical Earth)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_NM * math.asin(math.sqrt(a))


_SHAPES: dict[type[pl.DataType], str] = {pl.Float64: "not a number", pl.Int64: "not a whole number"}


def _read(
    name: str, reference_dir: Path | None, columns: dict[str, type[pl.DataType]]
) -> pl.DataFrame:
    custom = reference_dir / name if reference_dir else None
    if custom is not None and custom.exists():
        source, text = str(custom), custom.read_text()
    else:
        source = f"bundled {name}"
        text = resources.files("aerotwin.sim").joinpath("data", name).read_text()
    try:
        frame = pl.read_csv(text.encode(), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise ReferenceError(f"{source}: cannot parse CSV: {exc}") from None
    for column in OPTIONAL_COLUMNS:
        if column in columns and column not in frame.columns:
            frame = frame.with_columns(pl.lit("").alias(column))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReferenceError(f"{source}: missing column(s) {', '.join(missing)}")
    frame = frame.select(list(columns))
    for column, dtype in columns.items():
        if column in OPTIONAL_COLUMNS:
            frame = frame.with_columns(pl.col(column).fill_null(""))
            continue
        cast = frame[column].cast(dtype, strict=False)
        bad = (cast.is_null() & frame[column].is_not_null()) | frame[column].is_null()
        if bad.any():
            row = int(bad.arg_max() or 0) + 2  # +1 header, +1 for 1-based rows
            value = frame[column][row - 2]
            # polars reads an empty CSV field as null: say so, not "invalid value None".
            reason = (
                "empty value"
                if value is None
                else f"invalid value {value!r} ({_SHAPES.get(dtype, f'not a {dtype}')})"
            )
            raise ReferenceError(f"{source}, row {row}, column {column}: {reason}")
        frame = frame.with_columns(cast.alias(column))
    if frame.is_empty():
        raise ReferenceError(f"{source}: no rows")
    return frame


def _check(ok: pl.Series, frame: pl.DataFrame, source: str, column: str, reason: str) -> None:
    if not ok.all():
        row = int((~ok).arg_max() or 0)
        value = frame[column][row]
        raise ReferenceError(f"{source}, row {row + 2}, column {column}: {reason} (got {value!r})")


def _validate(airports: pl.DataFrame, models: pl.DataFrame, routes: pl.DataFrame) -> None:
    _check(airports["airport_code"].str.contains(r"^[A-Z]{3}$"), airports, "airports.csv",
           "airport_code", "must be a 3-letter IATA code")  # fmt: skip
    if airports["airport_code"].n_unique() != airports.height:
        dup = airports["airport_code"].is_duplicated()
        _check(~dup, airports, "airports.csv", "airport_code", "duplicate airport code")
    _check(airports["latitude"].is_between(-90, 90), airports, "airports.csv", "latitude",
           "must be between -90 and 90")  # fmt: skip
    _check(airports["longitude"].is_between(-180, 180), airports, "airports.csv", "longitude",
           "must be between -180 and 180")  # fmt: skip
    _check(airports["climate"].is_in(list(CLIMATES)), airports, "airports.csv", "climate",
           f"unknown climate, expected one of {', '.join(CLIMATES)}")  # fmt: skip
    _check(models["engine_count"].is_between(1, 4), models, "aircraft_models.csv",
           "engine_count", "must be 1 to 4")  # fmt: skip
    _check(models["range_nm"] > 0, models, "aircraft_models.csv", "range_nm", "must be > 0")
    _check(models["cruise_speed_kt"] > 0, models, "aircraft_models.csv", "cruise_speed_kt",
           "must be > 0")  # fmt: skip
    _check(models["fleet_weight"] >= 0, models, "aircraft_models.csv", "fleet_weight",
           "must be >= 0")  # fmt: skip
    known = airports["airport_code"].to_list()
    for column in ("origin", "destination"):
        _check(routes[column].is_in(known), routes, "routes.csv", column,
               "unknown airport code (not in airports.csv)")  # fmt: skip
    _check(routes["turbulence_index"].is_between(0, 1), routes, "routes.csv",
           "turbulence_index", "must be between 0 (calm) and 1 (turbulent)")  # fmt: skip
    _check(routes["distance_nm"] > 0, routes, "routes.csv", "distance_nm", "must be > 0")
    _check(routes["origin"] != routes["destination"], routes, "routes.csv", "destination",
           "must differ from origin")  # fmt: skip


def load_reference(reference_dir: Path | None = None) -> Reference:
    """Read and validate airports, aircraft models and routes (bundled unless overridden).

    Raises ReferenceError naming the file, row and column of the first bad value.
    """
    if reference_dir is not None and not reference_dir.is_dir():
        raise ReferenceError(f"reference_dir {reference_dir} is not a folder")
    airports = _read("airports.csv", reference_dir, AIRPORT_COLUMNS)
    models = _read("aircraft_models.csv", reference_dir, MODEL_COLUMNS)
    routes = _read("routes.csv", reference_dir, ROUTE_COLUMNS)
    _validate(airports, models, routes)
    return Reference(airports=airports, models=models, routes=routes)


def route_table(airports: pl.DataFrame, turbulence: dict[tuple[str, str], float]) -> pl.DataFrame:
    """Routes between airport pairs with great-circle distances (used to build routes.csv)."""
    coords = {
        r["airport_code"]: (r["latitude"], r["longitude"]) for r in airports.iter_rows(named=True)
    }
    rows = []
    for (origin, destination), turb in sorted(turbulence.items()):
        distance = great_circle_nm(*coords[origin], *coords[destination])
        rows.append((f"{origin}-{destination}", origin, destination, round(distance, 1), turb))
    return pl.DataFrame(rows, schema=list(ROUTE_COLUMNS), orient="row")
