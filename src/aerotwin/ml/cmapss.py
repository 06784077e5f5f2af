"""NASA C-MAPSS turbofan files: the text format read into typed frames, strictly.

Each line holds 26 space-separated numbers: unit, cycle, three operational settings and 21
sensor measurements (trailing spaces allowed). `RUL_FDxxx.txt` holds one integer per test unit.
A malformed line raises `CmapssFormatError` naming the file, the line and the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

OP_SETTINGS = [f"op_setting_{i}" for i in range(1, 4)]
SENSORS = [f"sensor_{i}" for i in range(1, 22)]
COLUMNS = ["unit", "cycle", *OP_SETTINGS, *SENSORS]
SUBSET_PATTERN = re.compile(r"^FD\d{3}$")


class CmapssFormatError(ValueError):
    """A C-MAPSS file is missing or malformed; the message names the file, line and reason."""


@dataclass(frozen=True)
class CmapssSubset:
    """One subset: run-to-failure training units, truncated test units and their true RUL."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    test_rul: pd.Series  # true RUL at each test unit's last cycle, indexed by unit


def _parse_line(path: Path, lineno: int, line: str) -> list[float]:
    fields = line.split()
    if len(fields) != len(COLUMNS):
        raise CmapssFormatError(
            f"{path}:{lineno}: expected {len(COLUMNS)} space-separated columns, got {len(fields)}"
        )
    try:
        values = [float(field) for field in fields]
    except ValueError:
        bad = next(f for f in fields if not _is_float(f))
        col = COLUMNS[fields.index(bad)]
        raise CmapssFormatError(f"{path}:{lineno}: column {col}: not a number: {bad!r}") from None
    for name, value in zip(COLUMNS, values, strict=True):
        if not math.isfinite(value):
            raise CmapssFormatError(f"{path}:{lineno}: column {name}: not finite: {value}")
    for name in ("unit", "cycle"):
        value = values[COLUMNS.index(name)]
        if value < 1 or value != int(value):
            raise CmapssFormatError(
                f"{path}:{lineno}: column {name}: expected a positive integer, got {value}"
            )
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_cycles(path: Path) -> pd.DataFrame:
    """Read a train or test file into a frame with COLUMNS (unit, cycle as int; rest float).

    Cycles must increase by one within each unit, starting at 1; blank lines are an error.
    """
    path = Path(path)
    if not path.is_file():
        raise CmapssFormatError(f"{path}: file not found")
    rows: list[list[float]] = []
    last: tuple[int, int] | None = None
    with path.open(encoding="ascii", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            values = _parse_line(path, lineno, line)
            unit, cycle = int(values[0]), int(values[1])
            expected = last[1] + 1 if last is not None and last[0] == unit else 1
            if cycle != expected:
                raise CmapssFormatError(
                    f"{path}:{lineno}: column cycle: expected {expected} for unit {unit}, "
                    f"got {cycle}"
                )
            last = (unit, cycle)
            rows.append(values)
    if not rows:
        raise CmapssFormatError(f"{path}: file is empty")
    frame = pd.DataFrame(np.asarray(rows, dtype=np.float64), columns=COLUMNS)
    return frame.astype({"unit": "int64", "cycle": "int64"})


def read_rul(path: Path, n_units: int | None = None) -> pd.Series:
    """Read a RUL file (one non-negative integer per line) into a Series indexed by unit 1..n."""
    path = Path(path)
    if not path.is_file():
        raise CmapssFormatError(f"{path}: file not found")
    values: list[int] = []
    lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    for lineno, line in enumerate(lines, start=1):
        text = line.strip()
        if not text.isdigit():
            raise CmapssFormatError(
                f"{path}:{lineno}: expected one non-negative integer RUL, got {line!r}"
            )
        values.append(int(text))
    if n_units is not None and len(values) != n_units:
        raise CmapssFormatError(f"{path}: {len(values)} RUL values for {n_units} test units")
    return pd.Series(values, index=pd.RangeIndex(1, len(values) + 1, name="unit"), name="rul")


def load_subset(directory: Path, subset: str = "FD001") -> CmapssSubset:
    """Load `train_<subset>.txt`, `test_<subset>.txt` and `RUL_<subset>.txt` from `directory`."""
    if not SUBSET_PATTERN.match(subset):
        raise CmapssFormatError(f"subset: expected a name like FD001, got {subset!r}")
    directory = Path(directory)
    train = read_cycles(directory / f"train_{subset}.txt")
    test = read_cycles(directory / f"test_{subset}.txt")
    units = sorted(test["unit"].unique())
    rul = read_rul(directory / f"RUL_{subset}.txt", n_units=len(units))
    if units != list(range(1, len(units) + 1)):
        raise CmapssFormatError(f"{directory}/test_{subset}.txt: test units are not 1..n")
    return CmapssSubset(name=subset, train=train, test=test, test_rul=rul)


def component_id(subset: str, split: str, unit: int) -> str:
    """The lakehouse id of one C-MAPSS unit: CMAPSS-FD001-TRAIN-U001, CMAPSS-FD001-TEST-U001.

    Train unit 1 and test unit 1 are different engines, so the split is part of the id.
    """
    return f"CMAPSS-{subset}-{split.upper()}-U{unit:03d}"
