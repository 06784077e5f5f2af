"""The ERD writer: it refuses a folder without README.md and a README with one marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from aerotwin.twin.erd import END, START, ErdError, readme_section, write_docs


def test_a_root_without_readme_gets_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(ErdError, match=f"^{tmp_path}: no README.md here"):
        write_docs([], tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kept", "missing"), [(START, END), (END, START)])
def test_a_readme_with_one_marker_is_left_alone(tmp_path: Path, kept: str, missing: str) -> None:
    text = f"# Project\n\n{kept}\nold diagram\n"
    (tmp_path / "README.md").write_text(text)
    with pytest.raises(ErdError, match=f"README.md: has {kept} but no {missing}"):
        write_docs([], tmp_path)
    assert (tmp_path / "README.md").read_text() == text
    assert not (tmp_path / "docs").exists()


def test_the_diagram_replaces_the_block_between_the_markers_or_is_appended() -> None:
    once = readme_section("# Project\n", [])
    assert once.count(START) == once.count(END) == 1
    assert readme_section(once + "after\n", []) == once + "after\n"
