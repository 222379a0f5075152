"""The engine's data: credits in, reps, statement lines out, and the state carried per rep.

``Line``'s field order is the column order of ``finance.commission_lines`` and
``marts.fct_commissions``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING

from flows.commissions.money import ZERO

if TYPE_CHECKING:  # types only: the plan schema never imports the engine, nor the reverse at run time
    from flows.config.commission_plan import Component, PlanVersion


@dataclass(frozen=True, slots=True)  # no per-object dict: a third of the memory per credit
class Credit:
    """One credited amount: a share of a deal credited to one rep on a date.

    ``amount`` is in the plan currency and already multiplied by ``split_share``. ``kind`` is
    ``direct`` (the rep's own sale or split) or ``rollup`` (a manager's credit for the team).
    A roll-up credit's id is the path ``<direct credit id>><level 1 manager>>...``, so its
    ``level`` is the number of ``>`` in it (:func:`flows.commissions.hierarchy.level_of`).
    ``reversed_on`` marks a cancelled or refunded credit: its lines are clawed back in that
    date's period; the credit still counts for the attainment of its own period.
    """

    credit_id: str
    deal_id: str
    rep_id: str
    credit_date: date
    amount: Decimal
    kind: str = "direct"
    split_share: Decimal = Decimal(1)
    original_amount: Decimal | None = None
    original_currency: str | None = None
    fx_rate: Decimal | None = None
    reversed_on: date | None = None
    basis: str = "booking"  # booking (close date) | collection (payment date); the plan picks one
    level: int = 0  # roll-up: 1 = the rep's manager, 2 = the manager's manager, ... (0 = not given)
    # what a SPIF's filters look at: (name, value) pairs such as ("product", "Premium")
    attributes: tuple[tuple[str, str], ...] = ()
    # clawback windows (flows/commissions/clawback_windows.py): the deal's first invoice date, and
    # the day the deal was really cancelled when ``reversed_on`` was moved out of a closed period
    invoice_date: date | None = None
    cancelled_on: date | None = None

    @property
    def rollup_level(self) -> int:
        """The roll-up level (a roll-up credit given without one is the direct manager's, 1)."""
        return max(self.level, 1) if self.kind == "rollup" else 0


def copy_with(credit: Credit, **changes) -> Credit:
    """``dataclasses.replace`` for a credit, without its per-call look-up of the fields: the
    nightly copies every credit once per level above its rep."""
    values = list(_credit_values(credit))
    for name, value in changes.items():
        if name not in _CREDIT_INDEX:
            raise TypeError(f"Credit has no field {name!r}")
        values[_CREDIT_INDEX[name]] = value
    return Credit(*values)


_CREDIT_NAMES = tuple(f.name for f in fields(Credit))
_CREDIT_INDEX = {name: i for i, name in enumerate(_CREDIT_NAMES)}
_credit_values = attrgetter(*_CREDIT_NAMES)


@dataclass(frozen=True)
class Rep:
    rep_id: str
    email: str | None = None
    role: str | None = None
    hired_on: date | None = None
    left_on: date | None = None
    # effective-dated roles ``(valid_from, valid_to, role)``, half-open: the plan of a credit is
    # chosen by the role held on the credit date (``role`` is the current one)
    roles: tuple[tuple[date, date | None, str], ...] = ()

    def role_on(self, day: date) -> str | None:
        """The role held on ``day``; before the first known version, the earliest known role;
        without a history, ``role``."""
        for start, end, role in self.roles:
            if start <= day and (end is None or day < end):
                return role
        earliest = min(self.roles, default=None)
        if earliest is not None and day < earliest[0]:
            return earliest[2]
        return self.role


@dataclass(slots=True)  # no per-object dict: a third of the memory per line
class Line:
    """One statement line. Column order = ``finance.commission_lines`` / ``marts.fct_commissions``."""

    commission_line_id: str
    line_type: str  # commission | bonus | cap | clawback | draw | draw_recovery | adjustment
    rep_id: str
    period_month: date
    deal_id: str | None = None
    credit_id: str | None = None
    credit_kind: str | None = None
    credit_basis: str | None = None
    credit_date: date | None = None
    plan_id: str | None = None
    plan_version: int | None = None
    component: str | None = None
    component_type: str | None = None
    tier_position: str | None = None
    tier_number: int | None = None
    band_lower: Decimal | None = None
    band_upper: Decimal | None = None
    rate: Decimal | None = None
    weight: Decimal | None = None
    multiplier: Decimal | None = None
    credit_amount: Decimal | None = None
    split_share: Decimal | None = None
    original_amount: Decimal | None = None
    original_currency: str | None = None
    fx_rate: Decimal | None = None
    target_amount: Decimal | None = None
    attainment: Decimal | None = None
    running_before: Decimal | None = None
    running_after: Decimal | None = None
    base_amount: Decimal | None = None
    commission_amount: Decimal = ZERO
    currency: str = "USD"
    related_line_id: str | None = None  # clawback -> line reversed; adjustment -> line adjusted
    source_period: date | None = None  # adjustment: the closed period recalculated
    explanation: str = ""

    def as_row(self) -> tuple:
        return _line_row(self)


LINE_COLUMNS = tuple(f.name for f in fields(Line))
_line_row = attrgetter(*LINE_COLUMNS)  # one C call per line (``fields()`` per line was 40 % of writing)


@dataclass
class RepState:
    """What one rep carries from period to period: yearly cap totals, draw balances, paid lines
    per credit and how period / year caps fell on credits (for clawbacks)."""

    fiscal_year_start_month: int = 1
    # (cap scope, fiscal year start) -> net amount of the scope paid in that fiscal year so far
    year_totals: dict[tuple, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    draw_balance: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    lines_by_credit: dict[str, list[Line]] = field(default_factory=lambda: defaultdict(list))
    # period / year cap line id -> {credit_id (None = lines without a credit, e.g. bonuses): the
    # (negative) part of the cap line that falls on it}
    cap_split: dict[str, dict[str | None, Decimal]] = field(default_factory=dict)
    # credit_id -> [(period/year cap line, the credit's part of it)]: what a clawback gives back
    cap_shares: dict[str, list[tuple[Line, Decimal]]] = field(default_factory=lambda: defaultdict(list))
    # components measured over a quarter / half / year: (component scope, measurement period
    # start) -> {line id: (amount paid for it so far, the line as last computed)}; the month's
    # true-up pays the period-to-date result minus what was paid
    paid_to_date: dict[tuple[str, date], dict[str, tuple[Decimal, Line]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # (rep, month) -> days on each plan version (flows.commissions.proration, computed once)
    plan_days: dict = field(default_factory=dict)
    # payout schedules: deferral line id -> the pending instalment (flows/commissions/payouts.py)
    pending: dict[str, object] = field(default_factory=dict)
    # reversal policy recompute: the state as each period started (flows/commissions/recompute.py)
    snapshots: dict[date, RepState] = field(default_factory=dict)


def statement_totals(lines: Iterable[Line]) -> dict[tuple[str, date], Decimal]:
    totals: dict[tuple[str, date], Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        totals[(ln.rep_id, ln.period_month)] += ln.commission_amount
    return dict(totals)


def credit_line_fields(
    plan: PlanVersion, comp: Component, rep: Rep, period: date, c: Credit, cur: str, target, attainment
) -> dict:
    """The fields every line paid on one credit carries (who, when, which plan component, the
    credit and its currency conversion, the period's target and attainment): shared by the
    commission, bonus and SPIF lines so that they describe a credit the same way."""
    return dict(
        rep_id=rep.rep_id,
        period_month=period,
        deal_id=c.deal_id,
        credit_id=c.credit_id,
        credit_kind=c.kind,
        credit_basis=c.basis,
        credit_date=c.credit_date,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        component=comp.component,
        component_type=comp.type,
        tier_position=comp.tier_position if comp.type.startswith("tiered") else None,
        weight=comp.weight,
        credit_amount=c.amount,
        split_share=c.split_share,
        original_amount=c.original_amount,
        original_currency=c.original_currency,
        fx_rate=c.fx_rate,
        target_amount=target,
        attainment=attainment,
        currency=cur,
    )


class CreditLineMaker:
    """Makes the commission lines of one component's credits in a rep-month: the fields of
    :func:`credit_line_fields` that do not depend on the credit are taken once, and each line is
    built positionally (``Line``'s field order). Flat and tiered components make a line per credit
    and band crossed (59k at 100k deals), and building each from keyword dicts was a fifth of the
    engine's calculation time; ``tests/commissions/test_engine_lookups.py`` holds it equal to the
    keyword construction."""

    __slots__ = (
        "attainment",
        "component",
        "currency",
        "period",
        "plan_id",
        "position",
        "rep_id",
        "target",
        "type",
        "version",
        "weight",
    )

    def __init__(
        self, plan: PlanVersion, comp: Component, rep: Rep, period: date, cur: str, target, attainment
    ) -> None:
        self.rep_id, self.period, self.currency = rep.rep_id, period, cur
        self.plan_id, self.version, self.component, self.type = (
            plan.plan_id,
            plan.version,
            comp.component,
            comp.type,
        )
        self.position = comp.tier_position if comp.type.startswith("tiered") else None
        self.weight, self.target, self.attainment = comp.weight, target, attainment

    def line(
        self,
        c: Credit,
        line_id: str,
        tier: tuple[int, Decimal | None, Decimal | None, Decimal],
        multiplier: Decimal,
        running: tuple[Decimal | None, Decimal | None],
        base: Decimal,
        amount: Decimal,
        explanation: str,
    ) -> Line:
        """A ``commission`` line on ``c``: ``tier`` is (tier number, band lower, band upper, rate),
        ``running`` the position (before, after) the credit moved."""
        number, lower, upper, rate = tier
        before, after = running
        return Line(
            line_id,
            "commission",
            self.rep_id,
            self.period,
            c.deal_id,
            c.credit_id,
            c.kind,
            c.basis,
            c.credit_date,
            self.plan_id,
            self.version,
            self.component,
            self.type,
            self.position,
            number,
            lower,
            upper,
            rate,
            self.weight,
            multiplier,
            c.amount,
            c.split_share,
            c.original_amount,
            c.original_currency,
            c.fx_rate,
            self.target,
            self.attainment,
            before,
            after,
            base,
            amount,
            self.currency,
            None,
            None,
            explanation,
        )
