"""Clawback windows: how much of a cancelled credit's pay is clawed back, by the days from an
anchor date (the deal's close, first invoice or first payment) to the cancellation.

``clawback: {anchor: close_date, windows: [{within_days: 90, percent: 100}, {within_days: 180,
percent: 50}]}``: cancelled at most 90 days after the close, 100 %; at most 180 days, 50 %;
later, nothing. Without a ``clawback`` policy everything paid is clawed back (100 %), as before.
A credit whose anchor date is unknown (no invoice yet) is clawed back in full and flagged
``clawback_anchor_missing``: the plan cannot say otherwise without the date
(docs/commission_plans.md, "Clawback windows").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flows.commissions.lines import Credit
from flows.config.commission_policies import ClawbackPolicy

ONE = Decimal(1)
ANCHOR_MISSING = "[anchor missing]"


@dataclass(frozen=True)
class Anchors:
    """Per deal: the close date (its booking credit), first invoice and first payment (its
    collection credits); taken from the credits the engine is given."""

    close: dict[str, date] = field(default_factory=dict)
    invoice: dict[str, date] = field(default_factory=dict)
    payment: dict[str, date] = field(default_factory=dict)

    @classmethod
    def of(cls, credits: Iterable[Credit]) -> Anchors:
        close: dict[str, date] = {}
        invoice: dict[str, date] = {}
        payment: dict[str, date] = {}
        for c in credits:
            if c.kind != "direct":
                continue
            target = close if c.basis == "booking" else payment
            target[c.deal_id] = min(c.credit_date, target.get(c.deal_id, c.credit_date))
            if c.invoice_date is not None:
                invoice[c.deal_id] = min(c.invoice_date, invoice.get(c.deal_id, c.invoice_date))
        return cls(close, invoice, payment)

    def date_of(self, anchor: str, credit: Credit) -> date | None:
        if anchor == "invoice_date":
            return credit.invoice_date or self.invoice.get(credit.deal_id)
        if anchor == "payment_date":
            own = credit.credit_date if credit.basis == "collection" else None
            return own or self.payment.get(credit.deal_id)
        own = credit.credit_date if credit.basis == "booking" else None
        return own or self.close.get(credit.deal_id)


def clawback_share(policy: ClawbackPolicy | None, credit: Credit, anchors: Anchors) -> tuple[Decimal, str]:
    """(fraction of what was paid to claw back, why) for a cancelled ``credit``."""
    if policy is None:
        return ONE, ""
    cancelled = credit.cancelled_on or credit.reversed_on
    day = anchors.date_of(policy.anchor, credit)
    if day is None or cancelled is None:
        return ONE, f"{ANCHOR_MISSING} no {policy.anchor} for deal {credit.deal_id}: clawed back in full"
    days = (cancelled - day).days
    for window in policy.windows:
        if days <= window.within_days:
            return window.percent / 100, (
                f"cancelled {cancelled}, {days} days after the {policy.anchor} {day}: within "
                f"{window.within_days} days, {window.percent} % clawed back"
            )
    last = policy.windows[-1].within_days
    return Decimal(0), (
        f"cancelled {cancelled}, {days} days after the {policy.anchor} {day}: after the last window "
        f"({last} days), nothing clawed back"
    )
