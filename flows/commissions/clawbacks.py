"""Clawbacks: a cancelled or refunded credit's paid lines reversed in the cancellation's period,
never more than was paid (its share of period / year cap lines is given back too), scaled by the
plan's clawback window (:mod:`flows.commissions.clawback_windows`; default 100 %)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from flows.commissions.lines import Credit, Line, RepState
from flows.commissions.money import fiscal_year_start, money

# (cancelled credit, the line clawed back) -> (fraction of what was paid to claw back, why)
Share = Callable[[Credit, Line], tuple[Decimal, str]]


def _full(credit: Credit, line: Line) -> tuple[Decimal, str]:
    return Decimal(1), ""


def clawbacks(
    reversed_credits: list[Credit], period: date, state: RepState, share: Share = _full
) -> list[Line]:
    """Reverse what each cancelled credit was paid, in the cancellation's period: each of its lines
    (commission lines and its per-deal cap line) and its part of the period / year cap lines that
    cut it, so that the clawback never exceeds what was paid; ``share`` (the clawback window)
    says which fraction of it is clawed back."""
    out: list[Line] = []
    fy = fiscal_year_start(period, state.fiscal_year_start_month)
    for c in sorted(reversed_credits, key=lambda c: c.credit_id):
        claws = []
        for orig in state.lines_by_credit.get(c.credit_id, []):
            if orig.commission_amount != 0:
                fraction, why = share(c, orig)
                claws.append(
                    clawback_line(orig, period, c.reversed_on, money(orig.commission_amount * fraction), why)
                )
        for cap, cut in state.cap_shares.get(c.credit_id, []):
            if cut != 0:
                fraction, why = share(c, cap)
                claws.append(cap_share_clawback(cap, money(cut * fraction), c, period, why))
        for ln in claws:
            # a clawback in the same fiscal year gives the amount back to the yearly caps' room
            if fiscal_year_start(ln.source_period, state.fiscal_year_start_month) == fy:
                scopes = [f"{ln.plan_id}:v{ln.plan_version}:*"]
                if ln.component is not None:
                    scopes.append(f"{ln.plan_id}:v{ln.plan_version}:{ln.component}")
                for scope in scopes:
                    if (scope, fy) in state.year_totals:
                        state.year_totals[(scope, fy)] += ln.commission_amount
        out += claws
    return out


def clawback_line(
    orig: Line, period: date, reversed_on: date | None, paid: Decimal | None = None, why: str = ""
) -> Line:
    """A negative line reversing ``orig`` (at most ``paid``, default the line's amount): the same
    deal, plan, band, rate and amounts as ``orig`` for the rep to follow, without its attainment
    and running position (a clawback does not change the attainment tiers were read from)."""
    paid = orig.commission_amount if paid is None else paid
    return replace(
        orig,
        commission_line_id=f"clawback:{orig.commission_line_id}",
        line_type="clawback",
        period_month=period,
        target_amount=None,
        attainment=None,
        running_before=None,
        running_after=None,
        commission_amount=-paid,
        related_line_id=orig.commission_line_id,
        source_period=orig.period_month,
        explanation=f"clawback of {orig.commission_line_id} ({orig.period_month:%Y-%m}): deal cancelled or "
        f"refunded on {reversed_on}; reverses {paid} paid; attainment of {orig.period_month:%Y-%m} "
        "unchanged" + (f"; {why}" if why else ""),
    )


def cap_share_clawback(cap: Line, share: Decimal, credit: Credit, period: date, why: str = "") -> Line:
    """Gives back the part ``share`` (negative) of a period / year cap line that fell on a cancelled
    credit: the credit's commission lines are reversed in full, this line adds back what the cap
    had withheld from them, so the credit's clawback lines total exactly what was paid for it."""
    credit_id, reversed_on = credit.credit_id, credit.reversed_on
    return Line(
        commission_line_id=f"clawback:{cap.commission_line_id}:{credit_id}",
        line_type="clawback",
        rep_id=cap.rep_id,
        period_month=period,
        deal_id=credit.deal_id,
        credit_id=credit_id,
        credit_kind=credit.kind,
        credit_basis=credit.basis,
        credit_date=credit.credit_date,
        plan_id=cap.plan_id,
        plan_version=cap.plan_version,
        component=cap.component,
        component_type="cap",
        base_amount=-share,
        commission_amount=-share,
        currency=cap.currency,
        related_line_id=cap.commission_line_id,
        source_period=cap.period_month,
        explanation=f"clawback of credit {credit_id}: {-share} of {cap.commission_line_id} "
        f"({cap.period_month:%Y-%m}) was withheld from it by the cap and never paid; only what was paid "
        f"is clawed back (deal cancelled or refunded on {reversed_on})" + (f"; {why}" if why else ""),
    )
