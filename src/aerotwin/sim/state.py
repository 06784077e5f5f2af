"""The simulator's state: aircraft and components as arrays, saved as JSON between runs.

History and live mode share it: the history run saves it under `{landing}/_state/` and live mode
continues from it. JSON (not pickle / npz) keeps the saved state byte-deterministic and readable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

STATE_FILE = "sim_state.json"


class StateError(Exception):
    """A saved simulator file that cannot be read; the message names it."""


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a reader, or the run after a kill, sees the old
    file or the new one, never a half-written one."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())  # else a crash can leave the renamed file empty
    os.replace(temporary, path)


@dataclass
class Aircraft:
    """One entry per aircraft."""

    ids: list[str]
    model: np.ndarray  # index into reference models
    base: np.ndarray  # index into reference airports
    eis_ordinal: np.ndarray  # entry into service, date.toordinal()
    route: np.ndarray  # index into reference routes, -1 when parked at base
    away: np.ndarray  # 1 when the aircraft ended the day at the route's far end
    hours_since_check: np.ndarray
    cycles_since_check: np.ndarray
    days_since_check: np.ndarray


@dataclass
class Components:
    """One entry per component slot; a replacement keeps the slot (id) and changes the serial."""

    ids: list[str]
    positions: list[str]
    serials: list[str]
    aircraft: np.ndarray
    ctype: np.ndarray  # index into schemas.COMPONENT_TYPES
    install_ordinal: np.ndarray
    hours: np.ndarray  # flight hours since new (this serial)
    cycles: np.ndarray
    health: np.ndarray  # hidden: 1 new, 0 failed
    pf_days: np.ndarray  # P-F interval of the defect this serial will develop
    mode: np.ndarray  # failure mode index of that defect
    amplitude: np.ndarray  # how strongly this serial's defect shows in its sensors


@dataclass
class FleetState:
    """Everything the next simulated day depends on."""

    seed: int
    start_date: dt.date
    day: int  # index of the next day to simulate (0 = start_date)
    aircraft: Aircraft
    components: Components
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def current_date(self) -> dt.date:
        return self.start_date + dt.timedelta(days=self.day)

    def next_id(self, name: str) -> int:
        """A run-wide increasing counter (serials, events, failures)."""
        value = self.counters.get(name, 0) + 1
        self.counters[name] = value
        return value


def _encode(obj: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


def _decode(cls: type, data: dict[str, object]) -> object:
    kwargs = {}
    for f in fields(cls):
        value = data[f.name]
        kwargs[f.name] = value if f.type == "list[str]" else np.asarray(value)
    return cls(**kwargs)


def save_state(state: FleetState, folder: Path) -> Path:
    """Write the state as JSON into `folder`; returns the file path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "seed": state.seed,
        "start_date": state.start_date.isoformat(),
        "day": state.day,
        "counters": state.counters,
        "aircraft": _encode(state.aircraft),
        "components": _encode(state.components),
    }
    path = folder / STATE_FILE
    write_atomic(path, json.dumps(data, sort_keys=True, separators=(",", ":")))
    return path


def load_state(folder: Path) -> FleetState:
    """Read a state saved by `save_state`; FileNotFoundError if there is none, StateError if it
    cannot be read."""
    path = folder / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(f"no simulator state at {path}: run `aerotwin simulate` first")
    try:
        data = json.loads(path.read_text())
        return FleetState(
            seed=data["seed"],
            start_date=dt.date.fromisoformat(data["start_date"]),
            day=data["day"],
            aircraft=_decode(Aircraft, data["aircraft"]),  # type: ignore[arg-type]
            components=_decode(Components, data["components"]),  # type: ignore[arg-type]
            counters=data["counters"],
        )
    except (ValueError, KeyError, TypeError) as exc:  # JSON or text errors are ValueErrors
        reason = f"{type(exc).__name__}: {exc}"
        raise StateError(
            f"simulator state {path} is unreadable ({reason}); `aerotwin simulate` builds a new one"
        ) from None
