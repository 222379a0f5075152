"""Numbers, currencies and dates per locale with Babel (CLDR), checked against the CLDR patterns.

CLDR en: currency ``¤#,##0.00`` (JPY has 0 digits, symbol ``¥``; CNY ``CN¥``), date medium ``MMM d, y``.
CLDR zh (Hans, CN): currency ``¤#,##0.00`` with ``¥`` for CNY and ``JP¥`` for JPY, date medium
``y年M月d日``, month ``y年M月``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from flows.reports.formatting import Fmt


@pytest.mark.parametrize(
    ("language", "currency", "amount", "shown"),
    [
        ("en", "JPY", "1234567", "¥1,234,567"),  # no decimals for yen
        ("zh-CN", "JPY", "1234567", "JP¥1,234,567"),  # CLDR zh: ¥ is the yuan's, the yen is JP¥
        ("en", "JPY", "1234567.5", "¥1,234,568"),  # rounded half up to the yen
        ("zh-CN", "CNY", "1234567.5", "¥1,234,567.50"),
        ("en", "CNY", "1234567.5", "CN¥1,234,567.50"),
        ("en", "USD", "-150", "-$150.00"),
        ("zh-CN", "USD", "0.125", "US$0.13"),  # half up, not half even
        ("en", "EUR", "1000", "€1,000.00"),
    ],
)
def test_money_has_the_currency_digits_and_symbol_of_the_locale(language, currency, amount, shown):
    assert Fmt(language, currency).money(Decimal(amount)) == shown


def test_numbers_percentages_and_dates_per_locale():
    en, zh = Fmt("en"), Fmt("zh-CN")
    assert en.number(Decimal("1234567.5")) == zh.number(Decimal("1234567.5")) == "1,234,568"
    assert en.number(Decimal("9.25"), 1) == "9.3" and en.number(None) == "–"
    assert en.pct(Decimal("0.8536")) == zh.pct(0.8536) == "85.4%"
    assert en.full_date(date(2026, 11, 28)) == "Nov 28, 2026"
    assert zh.full_date(date(2026, 11, 28)) == "2026年11月28日"
    assert en.short_date(date(2026, 11, 23)) == "Nov 23" and zh.short_date(date(2026, 11, 23)) == "11月23日"
    assert en.month(date(2027, 2, 1)) == "February 2027" and zh.month(date(2027, 2, 1)) == "2027年2月"


def test_an_unknown_language_is_formatted_as_english():
    assert Fmt("fr", "USD").money(Decimal("1")) == "$1.00" and Fmt("fr").t("rep") == "Rep"
