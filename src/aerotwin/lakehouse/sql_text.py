"""SQL written as text: a value as a string literal, the one quoting every statement uses."""

from __future__ import annotations


def text_literal(value: object) -> str:
    """`value` (as text) as an SQL string literal: in single quotes, each quote doubled."""
    return "'" + str(value).replace("'", "''") + "'"
