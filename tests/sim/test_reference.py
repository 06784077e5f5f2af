"""Reference data: bundled airports, models and routes, and clear errors for bad custom files."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from aerotwin.sim.reference import ReferenceError, great_circle_nm, load_reference, route_table
from aerotwin.sim.weather import CLIMATES


def _bundled_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "ref"
    folder.mkdir()
    data = resources.files("aerotwin.sim").joinpath("data")
    for name in ("airports.csv", "aircraft_models.csv", "routes.csv"):
        shutil.copyfile(str(data.joinpath(name)), folder / name)
    return folder


def test_bundled_reference_is_rich_enough() -> None:
    ref = load_reference()
    assert ref.airports.height >= 10 and ref.models.height >= 5
    assert set(ref.airports["climate"]) <= set(CLIMATES)
    assert {"A320neo", "B737 MAX 8", "B787-9", "E175"} <= set(ref.models["model"])
    turbulence = ref.routes["turbulence_index"]
    assert turbulence.min() < 0.2 and turbulence.max() > 0.7  # calm to turbulent


def test_route_distances_are_great_circle() -> None:
    ref = load_reference()
    where = {r["airport_code"]: r for r in ref.airports.iter_rows(named=True)}
    for route in ref.routes.iter_rows(named=True):
        o, d = where[route["origin"]], where[route["destination"]]
        expected = great_circle_nm(o["latitude"], o["longitude"], d["latitude"], d["longitude"])
        assert route["distance_nm"] == pytest.approx(expected, abs=0.1)
    # JFK-LHR is about 3,000 nautical miles.
    jfk, lhr = where["JFK"], where["LHR"]
    assert (
        2950
        < great_circle_nm(jfk["latitude"], jfk["longitude"], lhr["latitude"], lhr["longitude"])
        < 3000
    )


def test_unknown_airport_in_custom_routes(tmp_path: Path) -> None:
    folder = _bundled_copy(tmp_path)
    routes = pl.read_csv(folder / "routes.csv")
    routes = routes.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("XYZ"))
        .otherwise("destination")
        .alias("destination")
    )
    routes.write_csv(folder / "routes.csv")
    with pytest.raises(
        ReferenceError, match=r"routes.csv, row 5, column destination: unknown airport"
    ):
        load_reference(folder)


def test_bad_values_name_file_row_and_column(tmp_path: Path) -> None:
    folder = _bundled_copy(tmp_path)
    text = (folder / "airports.csv").read_text().replace("33.6407", "north", 1)
    (folder / "airports.csv").write_text(text)
    with pytest.raises(
        ReferenceError,
        match=r"airports.csv, row 2, column latitude: invalid value 'north' \(not a number\)$",
    ):
        load_reference(folder)
    (folder / "airports.csv").unlink()  # falls back to the bundled airports
    models = (folder / "aircraft_models.csv").read_text().splitlines()
    header = models[0].split(",")
    first = models[1].split(",")
    first[header.index("seats")] = "180.5"
    (folder / "aircraft_models.csv").write_text("\n".join([models[0], ",".join(first)]) + "\n")
    with pytest.raises(
        ReferenceError,
        match=r"aircraft_models.csv, row 2, column seats: invalid value '180.5' \(not a whole",
    ):
        load_reference(folder)


def test_an_empty_value_is_named_empty(tmp_path: Path) -> None:
    folder = _bundled_copy(tmp_path)
    (folder / "airports.csv").write_text(
        "airport_code,name,city,country,latitude,longitude,climate\n"
        "XXX,,Nowhere,Utopia,1.0,2.0,continental\n"
    )
    with pytest.raises(ReferenceError, match=r"airports.csv, row 2, column name: empty value$"):
        load_reference(folder)


def test_unknown_climate_and_missing_column(tmp_path: Path) -> None:
    folder = _bundled_copy(tmp_path)
    (folder / "airports.csv").write_text(
        (folder / "airports.csv").read_text().replace("subarctic", "lunar")
    )
    with pytest.raises(ReferenceError, match="column climate: unknown climate"):
        load_reference(folder)
    models = pl.read_csv(folder / "aircraft_models.csv").drop("range_nm")
    models.write_csv(folder / "aircraft_models.csv")
    (folder / "airports.csv").unlink()  # falls back to the bundled airports
    with pytest.raises(ReferenceError, match=r"aircraft_models.csv: missing column\(s\) range_nm"):
        load_reference(folder)


def test_route_table_builds_a_loadable_custom_network(tmp_path: Path) -> None:
    folder = _bundled_copy(tmp_path)
    airports = load_reference().airports
    routes = route_table(airports, {("ATL", "ORD"): 0.1, ("JFK", "LHR"): 0.9, ("DEN", "SEA"): 0.5})
    routes.write_csv(folder / "routes.csv")
    ref = load_reference(folder)
    assert ref.routes["route_id"].to_list() == ["ATL-ORD", "DEN-SEA", "JFK-LHR"]
    assert 520 < ref.routes["distance_nm"][0] < 540  # Atlanta to Chicago O'Hare
