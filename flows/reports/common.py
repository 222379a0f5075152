"""Helpers the report builders share: reading the marts, Decimal amounts and the Jinja templates.

The marts' columns are dbt contracts (``contract: enforced``), so builders name them directly and a
missing one fails loudly. :func:`columns`, :func:`pick` and :func:`column_or_null` are for the
tables without a contract (a hand-loaded adjustments table) and sections whose mart may be absent.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def dicts(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    """The rows of ``sql`` as dicts keyed by column name."""
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The lower-case column names of ``table``."""
    return {d[0].lower() for d in conn.execute(f"select * from {table} limit 0").description}


def pick(cols: set[str], *names: str) -> str | None:
    """The first of ``names`` that is a column, else None."""
    return next((n for n in names if n in cols), None)


def column_or_null(cols: set[str], name: str, alias: str | None = None) -> str:
    """``alias.name`` when the column exists, else ``null`` (marts are being reshaped in parallel)."""
    return (f"{alias}.{name}" if alias else name) if name in cols else "null"


def dec(value: Any) -> Decimal:
    """A mart amount as Decimal (None counts as 0), so totals are summed exactly."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def to_float(value: Any) -> float | None:
    """For matplotlib, which wants floats; None stays None (no target)."""
    return None if value is None else float(value)


def render(template: str, context: dict[str, Any]) -> str:
    """``templates/<template>`` rendered with ``context`` (HTML autoescaped, undefined names fail)."""
    return _env().get_template(template).render(**context)


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
