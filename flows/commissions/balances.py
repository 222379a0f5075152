"""Balances: a negative month is never a negative payroll row unless the plan allows it.

Applied to a rep's whole ledger, period by period, after everything else (commission, clawbacks,
draws, prior-period adjustments): when a period's total is below zero, a ``deficit_carry`` line
brings it to zero and the amount becomes the rep's deficit balance; later periods with a positive
total first recover the balance (``deficit_recovery``, at most ``max_recovery_per_period``); with
``write_off_on_leave`` what is left when the rep leaves is written off (``deficit_write_off``,
amount 0). ``balances: {allow_negative_payout: true}`` keeps the negative row (and carries
nothing). Deficit lines carry the change of the balance in ``base_amount``; closed periods keep
their deficit lines as closed (docs/commission_plans.md, "Deficit carry-forward").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from flows.commissions.lines import Line, Rep
from flows.commissions.money import ZERO, next_month
from flows.commissions.plan_lookup import Book
from flows.config.commission_plan import PlanVersion
from flows.config.commission_policies import Balances

DEFICIT = "deficit"
DEFAULT = Balances()


def _policy(book: Book, rep: Rep, period: date, last: PlanVersion | None) -> PlanVersion | None:
    day = max(period, rep.hired_on) if rep.hired_on and rep.hired_on < next_month(period) else period
    return book.plan_for(rep_id=rep.rep_id, email=rep.email, role=rep.role, day=day) or last


def _line(rep: Rep, period: date, plan: PlanVersion | None, kind: str, amount, change, cur, why) -> Line:
    return Line(
        commission_line_id=f"{kind.replace('_', '-')}:{rep.rep_id}:{period:%Y-%m}",
        line_type=kind,
        rep_id=rep.rep_id,
        period_month=period,
        plan_id=plan.plan_id if plan else None,
        plan_version=plan.version if plan else None,
        component="balance",
        component_type=DEFICIT,
        base_amount=change,
        commission_amount=amount,
        currency=cur,
        explanation=why,
    )


def apply_balances(
    book: Book, lines: list[Line], reps: dict[str, Rep], closed: set[date] = frozenset()
) -> list[Line]:
    """``lines`` plus the deficit lines of every open period (closed periods keep theirs)."""
    by_rep: dict[str, dict[date, list[Line]]] = defaultdict(lambda: defaultdict(list))
    for ln in lines:
        by_rep[ln.rep_id][ln.period_month].append(ln)
    out = list(lines)
    for rep_id, periods in sorted(by_rep.items()):
        rep = reps.get(rep_id, Rep(rep_id))
        balance, plan = ZERO, None
        for period in sorted(periods):
            plan = _policy(book, rep, period, plan)
            rows = periods[period]
            if period in closed:
                balance += sum((x.base_amount or ZERO for x in rows if x.component_type == DEFICIT), ZERO)
                continue
            new = _period_lines(rep, period, plan, rows, balance)
            balance += sum((x.base_amount for x in new), ZERO)
            out += new
    return out


def _period_lines(
    rep: Rep, period: date, plan: PlanVersion | None, rows: list[Line], balance: Decimal
) -> list[Line]:
    policy = (plan.balances if plan else None) or DEFAULT
    total = sum((x.commission_amount for x in rows), ZERO)
    cur = rows[0].currency if rows else (plan.currency if plan else "USD")
    new: list[Line] = []
    if total < 0 and not policy.allow_negative_payout:
        new.append(
            _line(rep, period, plan, "deficit_carry", -total, -total, cur,
                  f"the month totals {total}: paid 0.00, the deficit {-total} is carried forward and "
                  f"recovered from later earnings; balance {balance} -> {balance - total}")
        )  # fmt: skip
        balance -= total
    elif total > 0 and balance > 0:
        take = min(balance, total)
        if policy.max_recovery_per_period is not None:
            take = min(take, policy.max_recovery_per_period)
        cap = f" (at most {policy.max_recovery_per_period} a month)" if policy.max_recovery_per_period else ""
        new.append(
            _line(rep, period, plan, "deficit_recovery", -take, -take, cur,
                  f"recovers {take} of the deficit balance {balance} from the month's {total}{cap}; "
                  f"balance -> {balance - take}")
        )  # fmt: skip
        balance -= take
    if (
        balance > 0
        and policy.write_off_on_leave
        and rep.left_on is not None
        and rep.left_on < next_month(period)
    ):
        new.append(
            _line(rep, period, plan, "deficit_write_off", ZERO, -balance, cur,
                  f"the rep left on {rep.left_on}: the deficit balance {balance} is written off "
                  "(write_off_on_leave); nothing is deducted")
        )  # fmt: skip
    return new


def deficit_balances(lines: Iterable[Line]) -> dict[tuple[str, date], Decimal]:
    """Deficit balance per (rep, period) after the period, for periods that changed it."""
    change: dict[tuple[str, date], Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        if ln.component_type == DEFICIT:
            change[(ln.rep_id, ln.period_month)] += ln.base_amount or ZERO
    out: dict[tuple[str, date], Decimal] = {}
    running: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for rep_id, period in sorted(change):
        running[rep_id] += change[(rep_id, period)]
        out[(rep_id, period)] = running[rep_id]
    return out
