"""The one error of the config/ files, and how its messages say where the problem is."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration file is wrong. The message says where (file, row/line, field) and why."""


def where(file: str, row: int | None = None, field: str | None = None, *, line: bool = False) -> str:
    """``config/targets.csv row 14, field target_amount`` (or ``line 3`` for YAML files)."""
    text = file
    if row is not None:
        text += f" {'line' if line else 'row'} {row}"
    if field is not None:
        text += f", field {field}"
    return text
