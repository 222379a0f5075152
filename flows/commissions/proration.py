"""Proration by the days a rep is on a plan: assignment dates as well as hire and leave dates.

A rep moved onto a plan mid-month (a new assignment, a role change, a new plan version) is on
each plan for part of the month. Each plan's target is the month's target prorated by the days
employed (calendar days, half-up to the cent) x the days on the plan / the days employed (half-up
to the cent); a fixed amount of the plan, such as a target incentive, is the amount x the days
employed and on the plan / the calendar days of the period. Calendar days, as the hire/leave
proration of the targets mart (``int_targets_daily``): ``target_day_split`` in
``config/settings.yml`` only decides how the prorated month target is spread over its days in the
daily marts, not how much of it there is (docs/commission_plans.md, "Proration").
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from flows.commissions.lines import Rep
from flows.commissions.money import money, prorate
from flows.commissions.plan_lookup import Book

PlanKey = tuple[str, int]


def month_days(book: Book, rep: Rep, month: date, cache: dict) -> tuple[Counter, int, int]:
    """(days employed on each plan version, days employed, calendar days) of ``month``."""
    key = (rep.rep_id, month)
    if key not in cache:
        size = calendar.monthrange(month.year, month.month)[1]
        on_plan: Counter = Counter()
        # the days employed are one run of days: from the later of the month start and the hire
        # date to the earlier of the month end and the leave date
        first = max(month, rep.hired_on) if rep.hired_on else month
        last = month + timedelta(days=size - 1)
        last = min(last, rep.left_on) if rep.left_on else last
        employed = max((last - first).days + 1, 0)
        # the same plan every day unless an assignment, plan version or role starts or ends within
        # the days: then it is asked once (asking per day was most of the engine's plan look-ups)
        same = employed > 0 and not _changes_within(book, rep, first, last)
        for n in range(min(employed, 1) if same else employed):
            day = first + timedelta(days=n)
            plan = book.plan_for(rep_id=rep.rep_id, email=rep.email, role=rep.role_on(day), day=day)
            if plan is not None:
                on_plan[(plan.plan_id, plan.version)] += employed if same else 1
        cache[key] = (on_plan, employed, size)
    return cache[key]


def _changes_within(book: Book, rep: Rep, first: date, last: date) -> bool:
    """Whether the plan a rep is on can differ between ``first`` and ``last``: an assignment or
    plan version starts or ends (half-open), or one of the rep's roles does, after ``first``."""
    edges = [d for a in book.assignments or [] for d in (a.valid_from, a.valid_to)]
    edges += [d for p in book.plans for d in (p.effective_from, p.effective_to)]
    edges += [d for start, end, _ in rep.roles for d in (start, end)]
    return any(d is not None and first < d <= last for d in edges)


def plan_target(
    target: Decimal | None, book: Book, rep: Rep, plan: PlanKey, month: date, cache: dict, *, full: bool
) -> Decimal | None:
    """The month's target of one plan, in two steps, each half-up to the cent: the target x days
    employed / calendar days (the targets mart's rule; ``full``: ``target`` is the whole month's
    and is prorated here, as the estimator gives it; otherwise the mart already did, as in the
    nightly), then x days on the plan / days employed. So both give the same cents."""
    if target is None:
        return None
    if full:
        target = prorate(target, month, rep.hired_on, rep.left_on)
    on_plan, employed, _ = month_days(book, rep, month, cache)
    days = on_plan.get(plan, 0)
    if days == 0 or days >= employed:  # no day on the plan (e.g. a credit before the hire date): as is
        return target
    return money(target * days / employed)


def plan_share(book: Book, rep: Rep, plan: PlanKey, months: list[date], cache: dict) -> Decimal:
    """Days employed and on the plan / calendar days, over ``months`` (1 = the whole period)."""
    days = total = 0
    for month in months:
        on_plan, _, size = month_days(book, rep, month, cache)
        days += on_plan.get(plan, 0)
        total += size
    return Decimal(1) if days >= total else Decimal(days) / Decimal(total)
