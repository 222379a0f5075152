"""No silent wrong pay: what the engine was given or produced that someone must look at.

The engine pays what the plan says on what it is given; these checks list what it could not pay
or would pay suspiciously, so ``commissions estimate``, the nightly summary, the finance summary
and ``marts.fct_commission_warnings`` show them (docs/commission_plans.md, Warnings):

==================== ============================================================================
code                 when
==================== ============================================================================
unmatched_credit     a credit no plan pays: no assignment covers the rep on the credit date, or
                     the assigned plan has no version effective then
unmatched_target     a target no plan uses: no plan covers the rep that month (or, in
                     ``estimate``, the rep id is in no credit)
unmatched_assignment a ``rep_id`` / ``rep_email`` / ``role`` assignment that matches no rep
rate_above_one       a rate above 1 (100 %) in a plan whose ``rate_unit`` is ``fraction``
unassigned_plans     a file without assignments has several plans: each rep is on the first
                     effective one only
no_target            a component measured on attainment paid without a target (first band, no
                     gate, no bonus)
negative_payable     a rep's month totals below zero (a clawback or recovery larger than the
                     month's earnings): payroll would deduct it
unmatched_adjustment a row of commission_adjustments.csv whose rep matches no rep (not paid;
                     raised by :mod:`flows.commissions.adjustments`)
draw_balance_carried a recoverable draw balance outlived its draw (the draw ended or the plan in
                     force has none): carried and recovered from earnings, not forgiven
deficit_written_off  a deficit balance written off when the rep left (``write_off_on_leave``)
clawback_anchor_missing a clawback window's anchor date (invoice, payment) is unknown for the
                     cancelled deal: clawed back in full
==================== ============================================================================

Rep ids and e-mails are compared through :func:`flows.commissions.identity.rep_key`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flows.commissions.identity import REP_ID, add_credited_reps, canonical_inputs, rep_key
from flows.commissions.lines import Credit, Line, Rep
from flows.commissions.money import ZERO, month_start
from flows.commissions.plan_lookup import Book, PlanLookup
from flows.config.commission_plan import Assignment

WARNING_COLUMNS = ("warning_code", "period_month", "rep_id", "subject", "message")
# instruments whose lines are measured on attainment (flows.commissions.curves): no target, no pay
NEEDS_ATTAINMENT = ("target_incentive", "amount_table")


@dataclass(frozen=True, order=True)
class PayWarning:
    """One warning; ``subject`` names the credit, target, assignment or plan component."""

    warning_code: str
    period_month: date | None
    rep_id: str | None
    subject: str
    message: str

    def as_row(self) -> tuple:
        return (self.warning_code, self.period_month, self.rep_id, self.subject, self.message)


def plan_warnings(book: Book) -> list[PayWarning]:
    """Rates above 1 (100 %): ``rate: 10`` in a fraction plan pays 1,000 %; and plans a file
    without assignments never uses for a rep (each rep is on the first plan effective)."""
    out = []
    plan_ids = list(dict.fromkeys(p.plan_id for p in book.plans))
    if book.assignments is None and len(plan_ids) > 1:
        out.append(
            PayWarning(
                "unassigned_plans",
                None,
                None,
                ", ".join(plan_ids[1:]),
                f"the plan file has no assignments: every rep is paid by the first plan in file order with "
                f"a version effective on the credit date ({plan_ids[0]}); {', '.join(plan_ids[1:])} pay only "
                "when no earlier plan is effective. Add assignments to put reps on several plans",
            )
        )
    for plan in book.plans:
        for comp in plan.components:
            rates = [("rate", comp.rate)] + [
                (f"tiers[{i}].rate", t.rate) for i, t in enumerate(comp.tiers or [])
            ]
            for where, rate in rates:
                if rate is not None and rate > 1:
                    out.append(
                        PayWarning(
                            "rate_above_one",
                            None,
                            None,
                            f"{plan.plan_id} v{plan.version} {comp.component} {where}",
                            f"{plan.plan_id} v{plan.version} component {comp.component}: {where} {rate} "
                            f"pays {_percent(rate)} % (rates are fractions: 0.05 = 5 %; write rate_unit: "
                            "percent on the plan to give rates in percent)",
                        )
                    )
    return out


def _percent(rate: Decimal) -> str:
    return f"{rate * 100:,.4f}".rstrip("0").rstrip(".")


def _why_unpaid(book: Book, rep: Rep, day: date) -> str:
    if book.assignments is None:
        return "no plan of the file (which has no assignments) has a version effective on that date"
    assigned = book.assignments is None or any(
        a.covers(day) and _assignment_matches(a, rep) for a in book.assignments
    )
    if not assigned:
        return "no assignment covers the rep on that date"
    return "no version of the assigned plan is effective on that date"


def _assignment_matches(a: Assignment, rep: Rep) -> bool:
    if a.rep_id is not None:
        return rep_key(a.rep_id) == rep_key(rep.rep_id)
    if a.rep_email is not None:
        return rep_key(a.rep_email) == rep_key(rep.email)
    return a.role == rep.role or any(a.role == role for _, _, role in rep.roles)


def never_assigned(book: Book, rep: Rep) -> bool:
    """No assignment of the file names the person (id, e-mail or a role they ever held): their
    roll-up credits are not warned about (a company that pays no overrides assigns no manager)."""
    return book.assignments is not None and not any(_assignment_matches(a, rep) for a in book.assignments)


def _credit_warnings(book: Book, credits: list[Credit], reps: dict[str, Rep]) -> list[PayWarning]:
    """One warning per direct credit no plan pays; roll-up credits (derived for every manager)
    are summed per manager and month, and left out for a person the file never assigns (a company
    that pays no overrides assigns no manager)."""
    out = []
    rollups: dict[tuple[str, date], list[Credit]] = defaultdict(list)
    never: dict[str, bool] = {}  # per rep: never assigned by the file
    # whether a credit needs no warning (paid by a plan, or earned after leaving: documented, paid
    # only while employed) depends on the rep and the day only: asked once per (rep, day)
    no_warning: dict[tuple[str, date], bool] = {}
    for c in credits:
        rep, key = reps[c.rep_id], (c.rep_id, c.credit_date)
        if key not in no_warning:
            no_warning[key] = (rep.left_on is not None and c.credit_date > rep.left_on) or book.plan_for(
                rep_id=rep.rep_id, email=rep.email, role=rep.role_on(c.credit_date), day=c.credit_date
            ) is not None
        if no_warning[key]:
            continue
        if c.kind == "rollup":
            if c.rep_id not in never:
                never[c.rep_id] = never_assigned(book, rep)
            if not never[c.rep_id]:
                rollups[(c.rep_id, month_start(c.credit_date))].append(c)
            continue
        out.append(
            PayWarning(
                "unmatched_credit",
                month_start(c.credit_date),
                c.rep_id,
                c.credit_id,
                f"credit {c.credit_id} of {c.rep_id} on {c.credit_date} ({c.amount}) is not paid: "
                f"{_why_unpaid(book, rep, c.credit_date)}",
            )
        )
    for (rep_id, period), group in sorted(rollups.items()):
        total = sum((c.amount for c in group), ZERO)
        out.append(
            PayWarning(
                "unmatched_credit",
                period,
                rep_id,
                f"roll-up {rep_id} {period:%Y-%m}",
                f"{len(group)} roll-up credit(s) of {rep_id} in {period:%Y-%m} ({total}) are not paid: "
                f"{_why_unpaid(book, reps[rep_id], group[0].credit_date)}",
            )
        )
    return out


def input_warnings(
    book: Book,
    credits: Iterable[Credit],
    reps: dict[str, Rep] | None,
    targets: dict[tuple[str, date], Decimal] | None,
    *,
    targets_need_credits: bool = False,
    matched: set[int] | None = None,
) -> list[PayWarning]:
    """Credits, targets and assignments that match nothing (``targets_need_credits``: a target
    whose rep id is in no credit matches nothing either - the estimator's case). Given
    ``matched``, not the assignments, which need every rep (:func:`group_warnings`): the indices
    of those these reps match are added to it instead."""
    credits, reps, targets = canonical_inputs(list(credits), dict(reps or {}), dict(targets or {}))
    add_credited_reps(reps, credits)
    out = _credit_warnings(book, credits, reps)
    credited = set(map(REP_ID, credits))
    for rep_id, period in sorted(targets):
        rep = reps.get(rep_id, Rep(rep_id))
        why = None
        if targets_need_credits and rep_id not in credited:
            why = "no credit has this rep id (compared case-insensitively)"
        elif book.plan_for(rep_id=rep_id, email=rep.email, role=rep.role_on(period), day=period) is None:
            why = f"no plan covers the rep on {period}"
        if why:
            out.append(
                PayWarning(
                    "unmatched_target",
                    period,
                    rep_id,
                    f"target {rep_id} {period:%Y-%m}",
                    f"target of {rep_id} for {period:%Y-%m} ({targets[(rep_id, period)]}) "
                    f"matches nothing: {why}",
                )
            )
    if matched is None:
        out += unmatched_assignment_warnings(book, matched_assignments(book, reps.values()))
    else:
        matched |= matched_assignments(book, reps.values())
    return out


def matched_assignments(book: Book, reps: Iterable[Rep]) -> set[int]:
    """The indices of the book's assignments that match one of ``reps``."""
    reps = list(reps)
    return {i for i, a in enumerate(book.assignments or []) if any(_assignment_matches(a, r) for r in reps)}


def unmatched_assignment_warnings(book: Book, matched: set[int]) -> list[PayWarning]:
    """A warning per assignment whose index is not in ``matched``."""
    out = []
    for i, a in enumerate(book.assignments or []):
        if i in matched:
            continue
        who = (
            f"rep_id {a.rep_id}"
            if a.rep_id
            else f"rep_email {a.rep_email}"
            if a.rep_email
            else f"role {a.role}"
        )
        out.append(
            PayWarning(
                "unmatched_assignment",
                None,
                None,
                f"assignments[{i}]",
                f"assignments[{i}] ({who} -> {a.plan_id}) matches no rep (compared case-insensitively)",
            )
        )
    return out


def _needs_target(book: Book, line: Line) -> bool:
    for plan in book.plans:
        if (plan.plan_id, plan.version) == (line.plan_id, line.plan_version):
            for comp in plan.components:
                if comp.component == line.component:
                    return comp.measure == "monthly_target_attainment" and (
                        comp.type.startswith("tiered") or comp.gate is not None or bool(comp.accelerators)
                    )
    return False


def result_warnings(book: Book, lines: Iterable[Line]) -> list[PayWarning]:
    """Months paid without a needed target, and rep months whose total payable is negative."""
    totals: dict[tuple[str, date, str], Decimal] = defaultdict(lambda: ZERO)
    no_target: dict[tuple[str, date], set[str]] = defaultdict(set)
    paid_nothing: dict[tuple[str, date], set[str]] = defaultdict(set)  # instruments on attainment
    for ln in lines:
        totals[(ln.rep_id, ln.period_month, ln.currency)] += ln.commission_amount
        if ln.line_type == "commission" and ln.target_amount is None and _needs_target(book, ln):
            no_target[(ln.rep_id, ln.period_month)].add(f"{ln.plan_id} v{ln.plan_version} {ln.component}")
        if ln.component_type in NEEDS_ATTAINMENT and ln.target_amount is None and ln.line_type == "bonus":
            paid_nothing[(ln.rep_id, ln.period_month)].add(f"{ln.plan_id} v{ln.plan_version} {ln.component}")
    out = [
        PayWarning(
            "no_target",
            period,
            rep_id,
            ", ".join(sorted(comps)),
            f"{rep_id} has no target for {period:%Y-%m}: {', '.join(sorted(comps))} paid at the first band's "
            "rate (no tier, gate or accelerator applies); check the targets' rep id",
        )
        for (rep_id, period), comps in sorted(no_target.items())
    ]
    out += [
        PayWarning(
            "no_target",
            period,
            rep_id,
            ", ".join(sorted(comps)),
            f"{rep_id} has no target for {period:%Y-%m}: {', '.join(sorted(comps))} paid nothing (a target "
            "incentive or an amount table on attainment needs the target); check the targets' rep id",
        )
        for (rep_id, period), comps in sorted(paid_nothing.items())
    ]
    out += [
        PayWarning(
            "negative_payable",
            period,
            rep_id,
            f"{rep_id} {period:%Y-%m}",
            f"{rep_id} totals {total} {currency} for {period:%Y-%m}: a negative payable "
            "(clawbacks or recoveries above the month's earnings) would be deducted by payroll",
        )
        for (rep_id, period, currency), total in sorted(totals.items())
        if total < 0
    ]
    return out


def pay_warnings(
    book: Book,
    credits: Iterable[Credit],
    reps: dict[str, Rep] | None,
    targets: dict[tuple[str, date], Decimal] | None,
    lines: Iterable[Line],
    *,
    targets_need_credits: bool = False,
) -> list[PayWarning]:
    """Every warning of a calculation, sorted and without duplicates."""
    book = PlanLookup.of(book)  # plan_for is asked once per credit: remembered
    found = plan_warnings(book)
    found += input_warnings(book, credits, reps, targets, targets_need_credits=targets_need_credits)
    found += result_warnings(book, lines)
    found += aftersale_warnings(lines)
    return sorted(
        set(found), key=lambda w: (w.period_month or date.min, w.warning_code, w.rep_id or "", w.subject)
    )


def group_warnings(
    book: Book,
    credits: Iterable[Credit],
    reps: dict[str, Rep],
    targets: dict[tuple[str, date], Decimal],
    lines: Iterable[Line],
) -> tuple[set[PayWarning], set[int]]:
    """:func:`pay_warnings` of one group of reps (the nightly's, :mod:`flows.commissions.chunks`)
    without what depends on the whole book or on every rep: (the group's warnings, the indices of
    the assignments its reps match). The nightly adds :func:`plan_warnings` and
    :func:`unmatched_assignment_warnings` of the indices no group matched, once."""
    book = PlanLookup.of(book)
    matched: set[int] = set()
    found = input_warnings(book, credits, reps, targets, matched=matched)
    found += result_warnings(book, lines)
    found += aftersale_warnings(lines)
    return set(found), matched


def aftersale_warnings(lines: Iterable[Line]) -> list[PayWarning]:
    """Balances carried or written off and clawbacks whose window could not be measured: pay
    that follows a rule someone should know was applied."""
    out: list[PayWarning] = []
    for ln in lines:
        if ln.commission_line_id.startswith("draw-carried:"):
            subject = f"{ln.rep_id} {ln.period_month:%Y-%m}"
            out.append(
                PayWarning("draw_balance_carried", ln.period_month, ln.rep_id, subject, ln.explanation)
            )
        elif ln.line_type == "deficit_write_off":
            subject = f"{ln.rep_id} {ln.period_month:%Y-%m}"
            out.append(PayWarning("deficit_written_off", ln.period_month, ln.rep_id, subject, ln.explanation))
        elif ln.line_type == "clawback" and "[anchor missing]" in ln.explanation:
            out.append(
                PayWarning(
                    "clawback_anchor_missing",
                    ln.period_month,
                    ln.rep_id,
                    f"deal {ln.deal_id}",
                    f"{ln.rep_id}: {ln.explanation.split('[anchor missing] ', 1)[1]} (the clawback window "
                    "needs the date)",
                )
            )
    return out
