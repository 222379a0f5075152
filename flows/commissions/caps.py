"""Cap lines: per deal, per period and per (fiscal) year, for a component or a whole plan.

``per_deal`` caps the sum of a credit's lines (the cap line carries the credit). ``per_period``
and ``per_year`` cut the scope's total; the cut is attributed to credits in credit-date order
(ties by credit id; lines without a credit, i.e. bonuses, last): the credits earned after the cap
was reached are the ones not paid. That attribution (``RepState.cap_shares``) is what a clawback
gives back, so a clawback reverses only what was actually paid for the credit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flows.commissions.lines import Line, Rep, RepState
from flows.commissions.money import ZERO, fiscal_year_start
from flows.config.commission_plan import Caps, PlanVersion


def cap_lines(
    caps: Caps | None,
    lines: list[Line],
    plan: PlanVersion,
    component: str | None,
    rep: Rep,
    period: date,
    state: RepState,
    cur: str,
) -> list[Line]:
    """Cap lines of one scope (a component, or the plan when ``component`` is None)."""

    if caps is None:
        return []
    scope = f"{plan.plan_id}:v{plan.version}:{component or '*'}"
    common = dict(
        rep_id=rep.rep_id,
        period_month=period,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        component=component,
        component_type="cap",
        currency=cur,
        line_type="cap",
    )
    out = _per_deal_caps(caps.per_deal, lines, scope, common) if caps.per_deal is not None else []
    nets = _ScopeNets.of(lines + out, state)
    total = sum(nets.nets.values(), ZERO)
    if caps.per_period is not None and total > caps.per_period:
        line = Line(
            commission_line_id=f"cap:period:{rep.rep_id}:{period:%Y-%m}:{scope}",
            base_amount=total,
            commission_amount=caps.per_period - total,
            explanation=f"per-period cap {caps.per_period}: earned {total}",
            **common,
        )
        nets.cut(line, caps.per_period, state)
        out.append(line)
        total = caps.per_period
    if caps.per_year is not None:
        out += _year_cap(caps.per_year, total, scope, rep, period, state, nets, common)
    return out


def _per_deal_caps(per_deal: Decimal, lines: list[Line], scope: str, common: dict) -> list[Line]:
    out: list[Line] = []
    per_credit: dict[str, list[Line]] = defaultdict(list)
    for ln in lines:
        if ln.credit_id:
            per_credit[ln.credit_id].append(ln)
    for cid, cls in sorted(per_credit.items()):
        total = sum((x.commission_amount for x in cls), ZERO)
        if total > per_deal:
            out.append(
                Line(
                    commission_line_id=f"cap:deal:{cid}:{scope}",
                    deal_id=cls[0].deal_id,
                    credit_id=cid,
                    credit_kind=cls[0].credit_kind,
                    credit_basis=cls[0].credit_basis,
                    credit_date=cls[0].credit_date,
                    base_amount=total,
                    commission_amount=per_deal - total,
                    band_upper=None,
                    explanation=f"per-deal cap {per_deal}: earned {total}",
                    **common,
                )
            )
    return out


def _year_cap(
    per_year: Decimal,
    total: Decimal,
    scope: str,
    rep: Rep,
    period: date,
    state: RepState,
    nets: _ScopeNets,
    common: dict,
) -> list[Line]:
    """The per-year cap line of the period, if the fiscal year's room is exceeded; books what the
    scope nets this period against the year's total either way."""
    out: list[Line] = []
    fy = fiscal_year_start(period, state.fiscal_year_start_month)
    key = (scope, fy)
    before = state.year_totals[key]
    allowed = max(per_year - before, ZERO)
    if total > allowed:
        line = Line(
            commission_line_id=f"cap:year:{rep.rep_id}:{period:%Y-%m}:{scope}",
            base_amount=total,
            commission_amount=allowed - total,
            explanation=f"per-year cap {per_year} (fiscal year FY{fy.year} from {fy}): "
            f"{before} paid before this period, earned {total}",
            **common,
        )
        nets.cut(line, allowed, state)
        out.append(line)
        total = allowed
    state.year_totals[key] = before + total
    return out


@dataclass
class _ScopeNets:
    """What each credit nets in a scope so far (after per-deal caps and the cuts of caps of an
    inner scope already applied to these lines), and the order in which cuts fall on credits."""

    nets: dict[str | None, Decimal]
    order: dict[str | None, tuple]

    @classmethod
    def of(cls, lines: list[Line], state: RepState) -> _ScopeNets:
        nets: dict[str | None, Decimal] = defaultdict(lambda: ZERO)
        order: dict[str | None, tuple] = {}
        for ln in lines:
            if ln.line_type == "cap" and ln.commission_line_id in state.cap_split:
                for key, share in state.cap_split[ln.commission_line_id].items():
                    nets[key] += share
                continue
            key = ln.credit_id
            nets[key] += ln.commission_amount
            order[key] = (0, ln.credit_date, key) if key else (1, date.min, "")
        return cls(nets, order)

    def cut(self, line: Line, room: Decimal, state: RepState) -> None:
        """Attribute the cap ``line`` to credits: those past ``room`` in credit order are not paid."""
        split: dict[str | None, Decimal] = {}
        before = ZERO
        for key in sorted(self.nets, key=lambda k: self.order.get(k, (1, date.min, ""))):
            net = self.nets[key]
            paid = min(max(room - before, ZERO), net) if net > 0 else net
            before += net
            if paid != net:
                split[key] = paid - net
                self.nets[key] = paid
        state.cap_split[line.commission_line_id] = split
        for key, share in split.items():
            if key is not None:
                state.cap_shares[key].append((line, share))
