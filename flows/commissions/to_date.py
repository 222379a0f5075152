"""Components measured over a fiscal quarter, half or year, paid monthly: period to date.

At each month end the component is applied to all credits of its measurement period so far,
against the period's quota (``quota: period``, the default) or the quota of the months so far
(``quota: to_date``): that is the period-to-date result, line by line (a credit's band, a bonus
milestone, a cap). Each line not paid before is paid as computed (the month's advance); a line
paid before whose amount changed gets a true-up line for the difference (``trueup:<month>:<line
id>``, same line type, ``related_line_id`` = the line), and a line that disappeared (a gate no
longer met, a credit that moved to another band) a true-up of minus what was paid. So the sum of
a period's monthly lines always equals the period-to-date result (docs/commission_plans.md,
"Measurement periods").

Per-deal and per-period caps are measured on the period to date (per period = per measurement
period); ``per_year`` caps what the component pays per fiscal year. A cancelled credit keeps
counting for the period's attainment and tiers (the engine's reversal policy); its own lines are
clawed back by :mod:`flows.commissions.clawbacks` and leave the period-to-date result.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from flows.commissions.caps import cap_lines
from flows.commissions.components import component_lines
from flows.commissions.lines import Credit, Line, Rep, RepState
from flows.commissions.money import ZERO, month_start
from flows.commissions.periods import period_label
from flows.config.commission_plan import Caps, Component, PlanVersion


def to_date_lines(
    plan: PlanVersion,
    comp: Component,
    rep: Rep,
    month: date,
    start: date,
    credits: list[Credit],
    quota: Decimal | None,
    attainment: Decimal | None,
    state: RepState,
    cur: str,
    share: Decimal = Decimal(1),
) -> list[Line]:
    """The month's lines of a component measured over the period starting ``start``: ``credits``
    are the plan's credits of the period up to the end of ``month``, in credit-date order."""
    gone = {
        c.credit_id
        for c in credits
        if c.reversed_on is not None and month_start(max(c.reversed_on, c.credit_date)) <= month
    }
    result = [ln for ln in component_lines(plan, comp, rep, start, credits, quota, attainment, cur, share)]
    result = [ln for ln in result if ln.credit_id not in gone]
    if comp.caps is not None and (comp.caps.per_deal is not None or comp.caps.per_period is not None):
        caps = Caps(per_deal=comp.caps.per_deal, per_period=comp.caps.per_period)
        scratch = RepState(state.fiscal_year_start_month)
        result += cap_lines(caps, result, plan, comp.component, rep, start, scratch, cur)
    label = period_label(start, comp.measurement_period, state.fiscal_year_start_month)
    paid = state.paid_to_date[(f"{plan.plan_id}:v{plan.version}:{comp.component}", start)]
    out = _settle(result, paid, gone, month, label, quota)
    if comp.caps is not None and comp.caps.per_year is not None:
        out += cap_lines(Caps(per_year=comp.caps.per_year), out, plan, comp.component, rep, month, state, cur)
    return out


def _settle(
    result: list[Line],
    paid: dict[str, tuple[Decimal, Line]],
    gone: set[str],
    month: date,
    label: str,
    quota: Decimal | None,
) -> list[Line]:
    """The month's lines: what the period-to-date ``result`` adds to what was ``paid``."""
    out: list[Line] = []
    seen = set()
    for ln in result:
        key = ln.commission_line_id
        seen.add(key)
        done = paid.get(key)
        if done is None and ln.credit_date is not None and month_start(ln.credit_date) < month:
            line = _true_up(ln, ln.commission_amount, ZERO, month, label, quota)  # an older credit's new line
        elif done is None:
            line = replace(
                ln,
                period_month=month,
                explanation=f"{ln.explanation}; {label} to date, quota {quota}",
            )
        elif ln.commission_amount != done[0]:
            line = _true_up(ln, ln.commission_amount - done[0], done[0], month, label, quota)
        else:
            paid[key] = (done[0], ln)
            continue
        paid[key] = ((done[0] if done else ZERO) + line.commission_amount, ln)
        out.append(line)
    for key, (amount, ln) in sorted(paid.items()):
        if key in seen or amount == 0 or ln.credit_id in gone:
            continue
        line = _true_up(ln, -amount, amount, month, label, quota, dropped=True)
        paid[key] = (ZERO, ln)
        out.append(line)
    return out


def _true_up(
    ln: Line,
    diff: Decimal,
    before: Decimal,
    month: date,
    label: str,
    quota: Decimal | None,
    *,
    dropped: bool = False,
) -> Line:
    now = ZERO if dropped else ln.commission_amount
    why = "no longer earned" if dropped else f"now {now}"
    return replace(
        ln,
        commission_line_id=f"trueup:{month:%Y-%m}:{ln.commission_line_id}",
        period_month=month,
        commission_amount=diff,
        related_line_id=ln.commission_line_id,
        source_period=None,
        explanation=f"true-up of {ln.commission_line_id} on {label} to date (quota {quota}): paid {before}, "
        f"{why}; {diff:+}. Period-to-date result: {ln.explanation}",
    )
