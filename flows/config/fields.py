"""Parsers of the values people type into config/ files, shared by the row models.

Each raises :class:`ValueError` with the reason only (``'abc' is not a number``); the row model
machinery (:mod:`flows.config.rows`) puts the file, row and field in front of it. Amounts and rates
are exact decimals: an XLSX float is read through its shortest repr, never its binary value.
Numbers typed as text are parsed strictly: a comma (thousands separator or decimal comma) is
understood only under the ``number_locale`` declared in ``settings.yml`` (Babel's strict parser),
and rejected otherwise - never stripped, which read ``1,087`` as 1087 (docs/configuration.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberFormatError, parse_decimal

from flows.config.calendar import supported_country

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # DECIMAL(18,2)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
#: The number locale of the files being read (``settings.yml`` ``number_locale``; None: plain numbers).
_NUMBER_LOCALE: ContextVar[str | None] = ContextVar("number_locale", default=None)


@contextmanager
def numbers_in(locale: str | None) -> Iterator[None]:
    """Parse the numbers typed as text under ``locale`` (None: plain ``1234.5`` only) in this block."""
    token = _NUMBER_LOCALE.set(locale)
    try:
        yield
    finally:
        _NUMBER_LOCALE.reset(token)


def number_locale(value: Any) -> str | None:
    """A locale Babel knows (``de_DE``), or None for plain numbers."""
    if value is None:
        return None
    try:
        return str(Locale.parse(str(value).strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a locale (e.g. en_US, de_DE, fr_FR)") from None


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
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = _text_number(value.strip())
        else:
            number = Decimal(value)
    except (InvalidOperation, TypeError):  # _text_number raises ValueError with its own reason
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    if places is not None and number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise ValueError(f"{value!r} has more than {places} decimal places")
    if minimum is not None and number < minimum:
        raise ValueError(f"{value!r} must be >= {minimum}")
    return number


def _text_number(text: str) -> Decimal:
    """A number typed as text, under the declared locale; separators are never guessed."""
    if "_" in text:  # Decimal() would read '1_000' as 1000: a separator like any other
        raise ValueError(f"{text!r} is not a number")
    locale = _NUMBER_LOCALE.get()
    if locale is None:
        if "," in text:
            raise ValueError(
                f"{text!r} has a comma: write plain numbers (1087 or 1.087), or declare the file's "
                "number_locale in settings.yml"
            )
        return Decimal(text)
    try:
        return parse_decimal(text, locale=locale, strict=True)
    except NumberFormatError as exc:
        guesses = getattr(exc, "suggestions", None) or []
        hint = f" (did you mean {' or '.join(repr(g) for g in guesses)}?)" if guesses else ""
        raise ValueError(f"{text!r} is not a number under number_locale {locale}{hint}") from None


def email_address(value: Any) -> str:
    """One e-mail address (``a@example.com``): no display name, no list, no line break.

    The standard library's RFC 5322 parser (:class:`email.headerregistry.Address`) decides, plus a
    dotted domain: ``'a@x.com, b@x.com'`` would otherwise reach the SMTP server as one recipient.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not isinstance(value, str) or not text:
        raise ValueError(f"{value!r} is not an e-mail address")
    if any(c in text for c in "\r\n,;"):
        raise ValueError(f"{text!r} is not one e-mail address (one address per entry, no line breaks)")
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, IndexError, HeaderParseError):
        parsed = None
    if parsed is None or parsed.addr_spec != text or not EMAIL_RE.match(text):
        raise ValueError(f"{text!r} is not an e-mail address")
    return text


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
