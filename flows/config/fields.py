"""Parsers of the values people type into config/ files, shared by the row models.

Each raises :class:`ValueError` with the reason only (``'abc' is not a number``); the row model
machinery (:mod:`flows.config.rows`) puts the file, row and field in front of it. Amounts and rates
are exact decimals: an XLSX float is read through its shortest repr, never its binary value.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flows.config.calendar import supported_country

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # DECIMAL(18,2)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def text(value: Any) -> str:
    """A cell as stripped text ('' for an empty cell)."""
    return "" if value is None else str(value).strip()


def one_of(text: str, choices: tuple[str, ...], shown: Any) -> str:
    """``text`` lower-cased when it is one of ``choices``; the error shows the cell as ``shown``."""
    if text.lower() not in choices:
        raise ValueError(f"{shown!r} is not one of {', '.join(choices)}")
    return text.lower()


def decimal(value: Any, *, places: int | None = None, minimum: Decimal | None = None) -> Decimal:
    """Parse an exact decimal. ``places`` rejects more decimal places than stored."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("a number is required")
    try:
        if isinstance(value, float):  # openpyxl numbers: use the shortest repr, not the binary value
            value = repr(value)
        number = Decimal(str(value).strip().replace(",", "")) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    if places is not None and number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise ValueError(f"{value!r} has more than {places} decimal places")
    if minimum is not None and number < minimum:
        raise ValueError(f"{value!r} must be >= {minimum}")
    return number


def iso_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def currency(value: Any) -> str:
    code = str(value or "").strip()
    if not _CURRENCY_RE.match(code):
        raise ValueError(f"{value!r} is not a 3-letter upper-case ISO currency code")
    return code


def country(value: Any) -> str:
    code = str(value or "").strip().upper()
    if not supported_country(code):
        raise ValueError(f"{value!r} is not an ISO 3166 country code the holidays package knows")
    return code
