"""SQL written as text: a value as a string literal and a name as an identifier, quoted as
every statement quotes them."""

from __future__ import annotations


def text_literal(value: object) -> str:
    """`value` (as text) as an SQL string literal: in single quotes, each quote doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """`name` as a quoted SQL identifier: in double quotes, each double quote doubled."""
    return '"' + name.replace('"', '""') + '"'
