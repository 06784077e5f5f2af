"""C-MAPSS into the lakehouse as engines: one unit is one engine, one cycle is one flight.

Two Delta tables under `Settings.lakehouse_root`:
- `cmapss_engines`: component_id, component_type (engine), subset, split, unit, cycles,
  run_to_failure, rul_at_last_cycle.
- `cmapss_cycles`: component_id, subset, split, unit, cycle, the three op settings, the 21
  sensors, and rul (cycles left after this one: to the last cycle for training units, from
  the RUL file for test units).
Importing a subset again replaces that subset's rows (one commit per table), other subsets stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from aerotwin.config import Settings
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.ml.cmapss import COLUMNS, CmapssSubset, component_id, load_subset

ENGINES_TABLE = "cmapss_engines"
CYCLES_TABLE = "cmapss_cycles"


@dataclass(frozen=True)
class ImportResult:
    """Rows written per table for one subset."""

    subset: str
    engines: int
    cycles: int
    root: str


def _split_frames(subset: str, split: str, cycles: pd.DataFrame, rul_last: pd.Series) -> tuple:
    last = cycles.groupby("unit")["cycle"].transform("max")
    ids = cycles["unit"].map(lambda u: component_id(subset, split, int(u)))
    rows = cycles[COLUMNS].assign(
        component_id=ids,
        subset=subset,
        split=split,
        rul=(last - cycles["cycle"] + cycles["unit"].map(rul_last)).astype("int64"),
    )
    engines = (
        rows.groupby("unit", as_index=False)
        .agg(component_id=("component_id", "first"), cycles=("cycle", "max"))
        .assign(
            component_type="engine",
            subset=subset,
            split=split,
            run_to_failure=split == "train",
            rul_at_last_cycle=lambda f: f["unit"].map(rul_last).astype("int64"),
        )
    )
    return engines, rows


def to_tables(data: CmapssSubset) -> tuple[pa.Table, pa.Table]:
    """The engines and cycles rows of one subset as Arrow tables (pure; no I/O)."""
    train_last = pd.Series(0, index=data.train["unit"].unique())
    e_train, c_train = _split_frames(data.name, "train", data.train, train_last)
    e_test, c_test = _split_frames(data.name, "test", data.test, data.test_rul)
    engine_cols = [
        "component_id",
        "component_type",
        "subset",
        "split",
        "unit",
        "cycles",
        "run_to_failure",
        "rul_at_last_cycle",
    ]
    cycle_cols = ["component_id", "subset", "split", *COLUMNS, "rul"]
    engines = pd.concat([e_train, e_test], ignore_index=True)[engine_cols]
    cycles = pd.concat([c_train, c_test], ignore_index=True)[cycle_cols]
    return (
        pa.Table.from_pandas(engines, preserve_index=False),
        pa.Table.from_pandas(cycles, preserve_index=False),
    )


def import_cmapss(settings: Settings, directory: Path, subset: str = "FD001") -> ImportResult:
    """Load a subset's files (strictly) and write both tables under the lakehouse root.

    One merge per table: rows of this subset are updated or inserted, and rows of this subset
    the files no longer have are deleted, so a re-import is idempotent and other subsets stay.
    """
    data = load_subset(directory, subset)
    engines, cycles = to_tables(data)
    lakehouse = Lakehouse.from_settings(settings)
    if lakehouse.is_local:
        Path(lakehouse.root.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    stale = f"t.subset = '{subset}'"
    lakehouse.merge(ENGINES_TABLE, engines, ["component_id"], delete_unmatched_where=stale)
    lakehouse.merge(CYCLES_TABLE, cycles, ["component_id", "cycle"], delete_unmatched_where=stale)
    return ImportResult(subset, engines.num_rows, cycles.num_rows, lakehouse.root)


def read_cycles_table(settings: Settings, subset: str, split: str) -> pd.DataFrame:
    """One subset's split back from `cmapss_cycles`, in the loader's column layout."""
    lake = Lakehouse.from_settings(settings)
    # Filtered in pandas: files written by a merge hold string_view columns, which pyarrow's
    # dataset filter cannot compare with a string literal (the tables are small).
    frame = lake.read(CYCLES_TABLE, ["subset", "split", *COLUMNS]).to_pandas()
    frame = frame[(frame["subset"] == subset) & (frame["split"] == split)][COLUMNS]
    return frame.sort_values(["unit", "cycle"], kind="stable").reset_index(drop=True)
