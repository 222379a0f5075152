"""The figures of the finance summary, each meaning one kind of ledger line, and their reconciliation
to the payable amount.

The tables show the payroll export's amount columns (so every figure can be found in the attached
file); the reconciliation of the month's total splits the two net columns into their directions:
deficit carried forward / recovered and instalments held back / released. A line type without a
figure is an error, as in the payroll export: it is never counted under another figure's name.
docs/reports.md ("Finance summary") has the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flows.reports.payroll import AMOUNT_COLUMNS, LINE_TYPE_COLUMNS


@dataclass(frozen=True)
class Figure:
    """One line of the reconciliation: the ledger line types it sums and its label (a ``Fmt.t`` key)."""

    key: str
    label: str
    line_types: tuple[str, ...]


#: the reconciliation, in order: commission earned, then every kind of line that changes what is paid
FIGURES = (
    Figure("commission", "fin_commission", ("commission",)),
    Figure("bonus", "fin_bonus", ("bonus",)),
    Figure("cap", "fin_cap", ("cap",)),
    Figure("clawback", "fin_clawback", ("clawback",)),
    Figure("adjustment", "fin_adjustment", ("adjustment",)),  # prior-period and manual adjustments
    Figure("draw", "fin_draw", ("draw",)),
    Figure("draw_recovery", "fin_draw_recovery", ("draw_recovery",)),
    Figure("deficit_carry", "fin_deficit_carry", ("deficit_carry",)),  # + a negative month paid 0.00
    Figure("deficit_recovery", "fin_deficit_recovery", ("deficit_recovery",)),  # - recovered
    Figure("deferral", "fin_deferral", ("deferral",)),  # - instalments held back
    Figure("release", "fin_release", ("release",)),  # + instalments released
)
#: line types the engine writes at 0.00 (the balance change is in ``base_amount``): no figure of their
#: own, and an amount on one is an error rather than a figure that does not add up
ZERO_LINE_TYPES = ("deficit_write_off", "pending_cancel")
#: the label of each payroll amount column in the tables
COLUMN_LABELS = {
    "commission_amount": "fin_commission",
    "bonus_amount": "fin_bonus",
    "cap_amount": "fin_cap",
    "clawback_amount": "fin_clawback",
    "adjustment_amount": "fin_adjustment",
    "draw_amount": "fin_draw",
    "draw_recovery_amount": "fin_draw_recovery",
    "deficit_amount": "fin_deficit",
    "deferred_amount": "fin_deferred",
}
_FIGURE_OF = {t: f.key for f in FIGURES for t in f.line_types}


def check_figures_cover_line_types() -> None:
    """Every line type of the payroll export has exactly one figure (or is a 0.00 type), every payroll
    column a label: called by the summary so a line type added to the export cannot go unshown."""
    missing = [t for t in LINE_TYPE_COLUMNS if t not in _FIGURE_OF and t not in ZERO_LINE_TYPES]
    unlabelled = [c for c in AMOUNT_COLUMNS if c not in COLUMN_LABELS]
    if missing or unlabelled:
        raise ValueError(
            f"finance summary: line types without a figure {missing}, payroll columns without a label "
            f"{unlabelled} (flows/reports/finance_figures.py)"
        )


def row_figures(row: dict, month: date) -> dict[str, Decimal]:
    """The figures of one payroll row (``payroll_rows``), checked to add up to its payable amount.

    ValueError naming the rep, month and line type for a line type without a figure, a non-zero
    amount on a 0.00 line type, or figures that do not add up to ``payable_amount``."""
    out = {f.key: Decimal("0.00") for f in FIGURES}
    where = f"finance summary: rep {row['rep_id']}, {month:%Y-%m}"
    for line_type, amount in row["line_type_amounts"].items():
        if line_type in ZERO_LINE_TYPES:
            if amount:
                raise ValueError(f"{where}: line_type {line_type!r} carries {amount} (it is always 0.00)")
            continue
        if line_type not in _FIGURE_OF:
            raise ValueError(f"{where}: line_type {line_type!r} has no finance summary figure")
        out[_FIGURE_OF[line_type]] += amount
    if sum(out.values(), Decimal(0)) != row["payable_amount"]:
        raise ValueError(f"{where}: the figures add up to {sum(out.values())}, not {row['payable_amount']}")
    return out


def total_figures(rows: list[dict], month: date) -> dict[str, Decimal]:
    """The figures of every row added up (they add up to the rows' payable amounts)."""
    total = {f.key: Decimal("0.00") for f in FIGURES}
    for row in rows:
        for key, amount in row_figures(row, month).items():
            total[key] += amount
    return total


def shown_columns(rows: list[dict]) -> list[str]:
    """The payroll amount columns the tables show: commission always, the others when a line of the
    month has an amount in them (a column of zeros says nothing; the reconciliation lists every figure).
    A column whose lines net to 0.00, e.g. an instalment held back and one released, is shown."""
    used = {
        LINE_TYPE_COLUMNS.get(line_type)
        for r in rows
        for line_type, amount in r["line_type_amounts"].items()
        if amount
    }
    return [c for c in AMOUNT_COLUMNS if c == "commission_amount" or c in used]
