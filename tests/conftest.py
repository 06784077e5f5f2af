"""Shared fixtures: settings rooted in a temp dir; a small fleet built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from aerotwin.config import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data lives in this test's temp dir."""
    return load_settings(None, data_dir=tmp_path / "data")
