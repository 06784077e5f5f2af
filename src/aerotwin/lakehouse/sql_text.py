"""SQL written as text: a value as a string literal and a name as an identifier, quoted as
every statement quotes them; a number shown as text alike on every engine."""

from __future__ import annotations


def text_literal(value: object) -> str:
    """`value` (as text) as an SQL string literal: in single quotes, each quote doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """`name` as a quoted SQL identifier: in double quotes, each double quote doubled."""
    return '"' + name.replace('"', '""') + '"'


def number_text(expr: str, decimals: int = 4) -> str:
    """SQL (DuckDB dialect, transpiled for Spark): the number `expr` as text, rounded to
    `decimals` places, trailing zeros dropped but one (`671.2346`, `0.93`, `29.0`).

    The same text on both engines: each rounds `expr * 10**decimals` to a whole number alike
    (ROUND(x, n) does not: Spark rounds the decimal text, DuckDB the binary value), and
    CAST AS VARCHAR does not either (Spark writes `1.0E-4`, `1.2345678E7`). `+ 0.0` turns
    a rounded -0.0 into 0.0 (Spark's ROUND never gives -0.0).
    """
    scale = 10**decimals
    rounded = f"round(CAST({expr} AS DOUBLE) * {scale}) / {scale} + 0.0"
    return f"regexp_replace(printf('%.{decimals}f', {rounded}), '0{{1,{decimals - 1}}}$', '')"
