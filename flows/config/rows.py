"""Rows of the config/ CSV and XLSX files, validated by one pydantic model per file.

A row model's validators raise :class:`ValueError` with the reason; :func:`validate` turns the
first failure into a :class:`~flows.config.errors.ConfigError` that names the file, the row (the
header is row 1, as a spreadsheet shows it) and the field. A validator that blames another field
than its own starts its reason with ``@<field>: ``. Validators raise nothing but ValueError:
pydantic goes on validating the later fields of a row after a failure, so any other exception
would hide the first problem. Checks across rows (duplicates, totals) stay in the reader of each
file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from flows.config.errors import ConfigError, where

Row = TypeVar("Row", bound=BaseModel)


class ConfigRow(BaseModel):
    """Base of the row models: columns beyond the model's are ignored, rows are immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def validate(
    model: type[Row], data: Any, at: Callable[[str | None], str], context: dict[str, Any] | None = None
) -> Row:
    """``model`` validated from ``data``; ``at(field)`` says where a failing field is."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        err = exc.errors()[0]
        reason = str(err["msg"]).removeprefix("Value error, ")
        field = str(err["loc"][0]) if err["loc"] else None
        if reason.startswith("@"):
            field, reason = reason[1:].split(": ", 1)
        raise ConfigError(f"{at(field)}: {reason}") from None


def validated_rows(
    rows: Iterable[tuple[int, dict[str, Any]]],
    model: type[Row],
    name: str,
    context: dict[str, Any] | None = None,
) -> Iterator[tuple[int, Row]]:
    """(row number, model) for every row of a file shown as ``name``."""
    for number, record in rows:
        yield number, validate(model, record, lambda field, n=number: where(name, n, field), context)


def csv_rows(path: Path, name: str, columns: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        yield from _check_rows(name, header, reader, columns)


def xlsx_rows(path: Path, name: str, columns: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        header = [str(c).strip() if c is not None else "" for c in header] if header else None
        yield from _check_rows(name, header, rows, columns)
    finally:
        workbook.close()


def _check_rows(
    name: str, header: list[str] | None, rows: Iterable[Iterable[Any]], columns: Iterable[str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    columns = list(columns)
    if not header:
        raise ConfigError(f"{name} row 1: the file is empty (expected header {', '.join(columns)})")
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ConfigError(f"{where(name, 1, missing[0])}: column missing from the header")
    for number, raw in enumerate(rows, start=2):
        values = list(raw)
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # blank lines are allowed
        if len(values) > len(header) and any(v not in (None, "") for v in values[len(header) :]):
            raise ConfigError(f"{name} row {number}: more values than header columns")
        record = {h: (values[i] if i < len(values) else None) for i, h in enumerate(header)}
        yield number, record
