"""docs/landing_zone.md documents every file and column the simulator writes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from aerotwin.schemas import BAD_RECORD_KINDS, EVENT_FEEDS, TELEMETRY_FEEDS
from aerotwin.sim.components import SPECS

DOC = Path(__file__).resolve().parents[2] / "docs" / "landing_zone.md"


def test_every_column_and_feed_is_documented(small_fleet_landing) -> None:
    settings, _ = small_fleet_landing
    landing = settings.landing_dir
    doc = DOC.read_text()
    for path in sorted((landing / "reference").glob("*.csv")):
        assert f"reference/{path.name}" in doc
        for column in pl.read_csv(path, n_rows=1).columns:
            assert column in doc, f"{path.name}: {column}"
    for feed in EVENT_FEEDS:
        assert f"`{feed}/`" in doc
        first = sorted((landing / feed).glob("date=*/*.csv"))[0]
        for column in first.read_text().splitlines()[0].split(","):
            assert column in doc, f"{feed}: {column}"
    for feed in TELEMETRY_FEEDS.values():
        assert f"| {feed} |" in doc
        first = sorted((landing / feed).glob("date=*/*.jsonl"))[0]
        for key in json.loads(first.read_text().splitlines()[0]):
            assert key in doc, f"{feed}: {key}"
    manifest = json.loads((landing / "_manifest" / "manifest.json").read_text())
    for key in manifest:
        assert f'"{key}"' in doc, f"manifest.json: {key}"
    bad = (landing / "_manifest" / "bad_records.csv").read_text().splitlines()[0]
    for column in bad.split(","):
        assert f"| {column} |" in doc
    for kind in BAD_RECORD_KINDS:
        assert f"| {kind} |" in doc
    for spec in SPECS.values():
        for name in [m.name for m in spec.modes] + list(spec.sudden_modes):
            assert name in doc, name
