"""Every value that reaches a spreadsheet goes through :func:`safe_cell`; every CSV and XLSX is
written by :func:`csv_bytes` / :func:`add_sheet`.

Why one place: a CRM user or rep name such as ``=HYPERLINK("http://x","click")`` is data to us
but a live formula to Excel, LibreOffice and Google Sheets (CSV or formula injection). OWASP's
CSV Injection page and ASVS 1.2.10 say to prefix a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab, a carriage return (or NUL) with a single quote, so the spreadsheet shows it
as text. Numbers, dates and Decimals are typed values, never formulas, and stay as they are (a
negative amount is still a number).

CSV: UTF-8 with a byte-order mark (Excel otherwise reads UTF-8 as the ANSI code page and garbles
Chinese names), CRLF line ends (RFC 4180). XLSX: typed cells, amounts ``#,##0.00``, bold frozen
header, filters over the data rows and an optional bold totals row below them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: the first characters that make a spreadsheet read a text cell as a formula (OWASP, ASVS 1.2.10)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
BOM = "\ufeff"
MONEY_FORMAT = "#,##0.00"
RATE_FORMAT = "0.000000"
DATE_FORMAT = "yyyy-mm-dd"


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet must receive it: text starting with a formula trigger gets a
    leading single quote; every other value (numbers, dates, None, plain text) is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(safe_cell(value))


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file: header, rows (cells through :func:`safe_cell`), UTF-8 with BOM, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_text(h) for h in header])
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
    return (BOM + buffer.getvalue()).encode("utf-8")


def _number_format(value: Any) -> str | None:
    if isinstance(value, Decimal):
        return MONEY_FORMAT if value == value.quantize(Decimal("0.01")) else RATE_FORMAT
    if isinstance(value, datetime | date):
        return DATE_FORMAT
    return None


def add_sheet(
    book,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    totals: Sequence[Sequence[Any]] = (),
    *,
    first: bool = False,
):
    """Add (or, with ``first``, fill the workbook's first) sheet ``title``: bold frozen header,
    typed cells through :func:`safe_cell`, filters over header and data, then the bold ``totals``
    rows (outside the filter, so they never sort into the data). Returns the worksheet."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = book.active if first else book.create_sheet(title)
    ws.title = title
    ws.append([safe_cell(h) for h in header])
    count = 0
    for row in rows:
        ws.append([safe_cell(v) for v in row])
        count += 1
    last_column = get_column_letter(max(len(header), 1))
    ws.auto_filter.ref = f"A1:{last_column}{count + 1}"
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    for cell in ws[1]:
        cell.font = bold
    for total in totals:
        ws.append([safe_cell(v) for v in total])
        for cell in ws[ws.max_row]:
            cell.font = bold
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            fmt = _number_format(cell.value)
            if fmt:
                cell.number_format = fmt
    for i, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(name)) + 2))
    return ws


Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]], Sequence[Sequence[Any]]]


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook of ``(title, header, rows, totals rows)`` sheets, as bytes."""
    from openpyxl import Workbook

    book = Workbook()
    for i, (title, header, rows, totals) in enumerate(sheets):
        add_sheet(book, title, header, rows, totals, first=i == 0)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
