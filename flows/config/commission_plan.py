"""Commission plan files: a pydantic schema over YAML read with line numbers.

A plan file holds ``plans`` (one entry per plan version) and optional ``assignments`` (who is on
which plan when). ``load_plan_file(path)`` returns a validated :class:`PlanBook` or raises
:class:`PlanError` naming the file, the YAML line, the path of the offending field and the
reason, e.g.::

    config/plans/ae_retroactive.yml line 17 (plans[0].components[0].tiers[1].band_lower): band
    [0.40, 1.00) overlaps the previous band [0.00, 0.50)

Numbers are read as exact decimals (``0.05`` is the decimal 0.05, never a binary double). The
format is documented in ``docs/commission_plans.md``; the YAML reader is :mod:`flows.config.yaml_lines`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flows.config.commission_policies import (
    Balances,
    ClawbackPolicy,
    DrawPeriods,
    Instalment,
    check_after_sale,
    check_plan_reversal,
)
from flows.config.plan_instruments import (
    INSTRUMENT_TYPES,
    AmountBand,
    CurvePoint,
    SpifFilters,
    check_instrument,
)
from flows.config.plan_numbers import exact_decimal as _dec
from flows.config.plan_numbers import percent_rates
from flows.config.yaml_lines import load_yaml, locate

ROLES = ("director", "manager", "rep")
COMPONENT_TYPES = ("flat", "tiered_marginal", "tiered_retroactive", "bonus", "override", *INSTRUMENT_TYPES)
MEASURES = ("monthly_target_attainment", "monthly_credited_amount")
CREDIT_KINDS = ("direct", "rollup")
MEASUREMENT_PERIODS = ("month", "quarter", "half", "year")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PlanError(ValueError):
    """A plan file is wrong; the message names the file, the line and the reason."""


# ---------------------------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """One rate band ``[band_lower, band_upper)``; ``band_upper: null`` = open-ended."""

    band_lower: Decimal = Field(ge=0)
    band_upper: Decimal | None = None
    rate: Decimal = Field(ge=0)

    _d = field_validator("band_lower", "band_upper", "rate", mode="before")(_dec)

    @model_validator(mode="after")
    def _upper_above_lower(self) -> Band:
        if self.band_upper is not None and self.band_upper <= self.band_lower:
            raise ValueError(
                f"band_upper {self.band_upper} must be greater than band_lower {self.band_lower}"
            )
        return self


class Accelerator(_Strict):
    """Rate multiplier when the period's attainment is in ``[attainment_from, attainment_to)``."""

    attainment_from: Decimal = Field(ge=0)
    attainment_to: Decimal | None = None
    multiplier: Decimal = Field(ge=0)

    _d = field_validator("attainment_from", "attainment_to", "multiplier", mode="before")(_dec)


class Milestone(_Strict):
    """Bonus paid once per period when the period's attainment is >= ``attainment``."""

    attainment: Decimal = Field(gt=0)
    amount: Decimal | None = Field(default=None, ge=0)
    percent_of_target: Decimal | None = Field(default=None, ge=0)

    _d = field_validator("attainment", "amount", "percent_of_target", mode="before")(_dec)

    @model_validator(mode="after")
    def _one_of(self) -> Milestone:
        if (self.amount is None) == (self.percent_of_target is None):
            raise ValueError("give exactly one of amount or percent_of_target")
        return self


class Caps(_Strict):
    per_deal: Decimal | None = Field(default=None, ge=0)
    per_period: Decimal | None = Field(default=None, ge=0)
    per_year: Decimal | None = Field(default=None, ge=0)

    _d = field_validator("per_deal", "per_period", "per_year", mode="before")(_dec)


class Gate(_Strict):
    """Nothing of the component is paid in a period whose attainment is below ``min_attainment``."""

    min_attainment: Decimal = Field(ge=0)

    _d = field_validator("min_attainment", mode="before")(_dec)


class Component(_Strict):
    component: str = Field(min_length=1)
    type: Literal["flat", "tiered_marginal", "tiered_retroactive", "bonus", "override", *INSTRUMENT_TYPES]
    measure: Literal["monthly_target_attainment", "monthly_credited_amount"] = "monthly_target_attainment"
    tier_position: Literal["running", "per_transaction"] = "running"
    weight: Decimal = Field(default=Decimal(1), ge=0)
    credit_kinds: list[Literal["direct", "rollup"]] | None = None
    # the credits the component pays on: booking (close date) or collection (payment date);
    # default the plan's credit_on
    credit_on: Literal["booking", "collection"] | None = None
    rate: Decimal | None = Field(default=None, ge=0)
    tiers: list[Band] | None = None
    accelerators: list[Accelerator] | None = None
    gate: Gate | None = None
    caps: Caps | None = None
    milestones: list[Milestone] | None = None
    # the fiscal period (settings.yml fiscal_year_start_month) attainment, tiers, gates,
    # accelerators, per-period caps and bonuses are measured on; paid monthly, period to date
    measurement_period: Literal["month", "quarter", "half", "year"] = "month"
    # the quota a longer period is measured against: the whole period's, or the months to date
    quota: Literal["period", "to_date"] = "period"
    # roll-up levels paid on (1 = the credited rep's manager, 2 = that manager's manager, ...)
    levels: list[int] | None = None
    # attainment on the rep's own direct credits (the plan's), or on the credits this component
    # pays on (a team quota measured on roll-up credit)
    attainment_on: Literal["direct", "component"] = "direct"
    # instruments (flows/config/plan_instruments.py): SPIF, target incentive, amount table
    amount_per_deal: Decimal | None = Field(default=None, ge=0)
    filters: SpifFilters | None = None
    target_incentive: Decimal | None = Field(default=None, ge=0)
    curve_type: Literal["stepped", "linear", "marginal"] | None = None
    curve: list[CurvePoint] | None = None
    below_first: Literal["zero", "proportional"] | None = None
    above_last: Literal["cap", "extrapolate"] | None = None
    amount_table: list[AmountBand] | None = None
    # after-sale mechanics (flows/config/commission_policies.py): the plan's unless given here
    on_reversal: Literal["keep", "recompute"] | None = None
    clawback: ClawbackPolicy | None = None
    payout: list[Instalment] | None = None

    _d = field_validator("weight", "rate", "amount_per_deal", "target_incentive", mode="before")(_dec)

    @property
    def kinds(self) -> tuple[str, ...]:
        if self.credit_kinds:
            return tuple(self.credit_kinds)
        return ("rollup",) if self.type == "override" else ("direct",)

    @property
    def rollup_levels(self) -> tuple[int, ...]:
        """Roll-up levels paid on; default the direct manager only (the one-level override)."""
        return tuple(self.levels) if self.levels else (1,)

    @property
    def measured_monthly(self) -> bool:
        return self.measurement_period == "month"

    @model_validator(mode="after")
    def _shape(self) -> Component:
        check_instrument(self)
        if self.type in ("flat", "override"):
            if self.rate is None:
                raise ValueError(f"type {self.type} needs a rate")
            if self.tiers:
                raise ValueError(f"type {self.type} takes a rate, not tiers")
        if self.type in ("tiered_marginal", "tiered_retroactive"):
            if not self.tiers:
                raise ValueError(f"type {self.type} needs a non-empty list of tiers")
            _check_bands(self.tiers)
        if self.type == "bonus":
            if not self.milestones:
                raise ValueError("type bonus needs a non-empty list of milestones")
            if self.measure != "monthly_target_attainment":
                raise ValueError("bonus milestones are on monthly_target_attainment")
        elif self.milestones:
            raise ValueError("milestones are only for type bonus")
        if self.levels is not None:
            if "rollup" not in self.kinds:
                raise ValueError("@levels: levels are roll-up levels; the component pays on no rollup credit")
            if any(level < 1 for level in self.levels) or len(set(self.levels)) != len(self.levels):
                raise ValueError("@levels: give distinct levels >= 1 (1 = the credited rep's manager)")
        check_after_sale(
            self.payout, self.on_reversal, component_type=self.type, monthly=self.measured_monthly
        )
        if self.quota == "to_date" and self.measurement_period == "month":
            raise ValueError("@quota: quota to_date needs a measurement_period longer than month")
        if self.accelerators:
            _check_bands(
                [
                    Band(band_lower=a.attainment_from, band_upper=a.attainment_to, rate=a.multiplier)
                    for a in self.accelerators
                ],
                field="accelerators",
                lower="attainment_from",
                upper="attainment_to",
                from_zero=False,
            )
        return self


def _check_bands(
    bands: list[Band],
    *,
    field: str = "tiers",
    lower: str = "band_lower",
    upper: str = "band_upper",
    from_zero: bool = True,
) -> None:
    """Contiguous, non-overlapping half-open bands. Errors start with ``@<path>:`` so the loader
    can point at the offending band's line."""
    if from_zero and bands[0].band_lower != 0:
        raise ValueError(f"@{field}[0].{lower}: the first band must start at 0, not {bands[0].band_lower}")
    for i in range(1, len(bands)):
        prev, band = bands[i - 1], bands[i]
        if prev.band_upper is None or band.band_lower < prev.band_upper:
            raise ValueError(
                f"@{field}[{i}].{lower}: band [{band.band_lower}, {band.band_upper or 'open'}) overlaps the "
                f"previous band [{prev.band_lower}, {prev.band_upper or 'open'})"
            )
        if band.band_lower > prev.band_upper:
            raise ValueError(
                f"@{field}[{i}].{lower}: gap between {prev.band_upper} and {band.band_lower}; "
                "bands must be contiguous"
            )
    if from_zero and bands[-1].band_upper is not None:
        raise ValueError(f"@{field}[{len(bands) - 1}].{upper}: the last band must be open-ended (null)")


class Draw(DrawPeriods):
    """Guaranteed minimum per period (in the months ``[start, end)``, default every month of the
    version); a recoverable draw is paid back from later earnings from ``recovery_start`` on."""

    amount: Decimal = Field(gt=0)
    recoverable: bool

    _d = field_validator("amount", mode="before")(_dec)


def _first_of_month(value: date | None) -> date | None:
    if value is not None and value.day != 1:
        raise ValueError(f"{value} must be the first day of a month")
    return value


class PlanVersion(_Strict):
    plan_id: str = Field(min_length=1)
    version: int = Field(ge=1, strict=True)
    name: str | None = None
    effective_from: date
    effective_to: date | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    credit_on: Literal["booking", "collection"] = "booking"
    rate_unit: Literal["fraction", "percent"] = "fraction"  # percent: rates written as 5 for 5 %
    components: list[Component] = Field(min_length=1)
    draw: Draw | None = None
    caps: Caps | None = None  # plan-level caps over all components (per deal, period, year)
    on_reversal: Literal["keep", "recompute"] = "keep"  # a cancelled credit's effect on attainment
    clawback: ClawbackPolicy | None = None  # windows by days from an anchor; default: 100 % always
    balances: Balances | None = None  # negative months: deficit carried forward (default)

    _m = field_validator("effective_from", "effective_to")(_first_of_month)

    @model_validator(mode="before")
    @classmethod
    def _rate_unit(cls, data: Any) -> Any:
        return percent_rates(data)

    @model_validator(mode="after")
    def _check(self) -> PlanVersion:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError(
                f"effective_to {self.effective_to} must be after effective_from {self.effective_from}"
            )
        check_plan_reversal(self.on_reversal, self.components)
        names = [c.component for c in self.components]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"@components[{names.index(dupes[0], names.index(dupes[0]) + 1)}].component: "
                f"{dupes[0]!r} is defined twice"
            )
        return self

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def basis_of(self, comp: Component) -> str:
        return comp.credit_on or self.credit_on

    def reversal_of(self, comp: Component) -> str:
        return comp.on_reversal or self.on_reversal

    def clawback_of(self, component: str | None) -> ClawbackPolicy | None:
        comp = next((c for c in self.components if c.component == component), None)
        return comp.clawback if comp is not None and comp.clawback is not None else self.clawback

    @property
    def bases(self) -> set[str]:
        """Credit bases any component pays on."""
        return {self.basis_of(c) for c in self.components}


class Assignment(_Strict):
    plan_id: str
    role: Literal["director", "manager", "rep"] | None = None
    rep_email: str | None = None
    rep_id: str | None = None
    valid_from: date
    valid_to: date | None = None

    @field_validator("rep_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not _EMAIL_RE.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _check(self) -> Assignment:
        if sum(x is not None for x in (self.role, self.rep_email, self.rep_id)) != 1:
            raise ValueError("give exactly one of role, rep_email or rep_id")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} must be after valid_from {self.valid_from}")
        return self

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    @property
    def priority(self) -> int:
        return 2 if self.role is not None else 1  # a named rep wins over a role


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (a_to is None or b_from < a_to) and (b_to is None or a_from < b_to)


class PlanBook(_Strict):
    """Every plan version of a file plus the assignments. Without assignments (useful for
    ``commissions estimate``), every rep is on the first plan, in file order, that has a version
    effective on the day (``plan_for``)."""

    plans: list[PlanVersion] = Field(min_length=1)
    assignments: list[Assignment] | None = None

    @model_validator(mode="after")
    def _check(self) -> PlanBook:
        seen: dict[str, list[PlanVersion]] = {}
        for i, p in enumerate(self.plans):
            for other in seen.get(p.plan_id, []):
                if other.version == p.version:
                    raise ValueError(f"@plans[{i}].version: {p.plan_id} version {p.version} is defined twice")
                if _overlaps(other.effective_from, other.effective_to, p.effective_from, p.effective_to):
                    raise ValueError(
                        f"@plans[{i}].effective_from: {p.plan_id} version {p.version} "
                        f"[{p.effective_from}, {p.effective_to or 'open'}) "
                        f"overlaps version {other.version} "
                        f"[{other.effective_from}, {other.effective_to or 'open'})"
                    )
            seen.setdefault(p.plan_id, []).append(p)
        done: list[Assignment] = []
        for i, a in enumerate(self.assignments or []):
            if a.plan_id not in seen:
                raise ValueError(
                    f"@assignments[{i}].plan_id: {a.plan_id!r} is not a plan defined under plans"
                )
            for j, b in enumerate(done):
                if (a.role, a.rep_email, a.rep_id) == (b.role, b.rep_email, b.rep_id) and _overlaps(
                    a.valid_from, a.valid_to, b.valid_from, b.valid_to
                ):
                    raise ValueError(
                        f"@assignments[{i}].valid_from: overlaps assignments[{j}] for the same role or rep"
                    )
            done.append(a)
        return self

    def plan_for(self, *, rep_id: str, email: str | None, role: str | None, day: date) -> PlanVersion | None:
        """The plan version that applies to a rep on ``day``: a rep_id/rep_email assignment wins
        over a role assignment; the version is the one effective on ``day``."""
        if self.assignments is None:
            candidates = [p.plan_id for p in self.plans]
        else:  # ids and e-mails match case- and whitespace-insensitively ('Ann' is 'ann')
            email, rep_key = (email or "").strip().lower(), rep_id.strip().casefold()
            hits = [
                a
                for a in self.assignments
                if a.covers(day)
                and (
                    (a.rep_id is not None and a.rep_id.strip().casefold() == rep_key)
                    or (a.rep_email is not None and a.rep_email == email)
                    or (a.role is not None and a.role == role)
                )
            ]
            hits.sort(key=lambda a: a.priority)
            candidates = [a.plan_id for a in hits]
        for plan_id in candidates:
            for p in self.plans:
                if p.plan_id == plan_id and p.covers(day):
                    return p
        return None


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_plan_text(text: str, name: str = "<plan>") -> PlanBook:
    tree = load_yaml(text, name, PlanError)
    if not isinstance(tree, dict):
        raise PlanError(f"{name}: expected a mapping with 'plans' (and optionally 'assignments')")
    try:
        return PlanBook.model_validate(tree)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        reason = str(err["msg"]).removeprefix("Value error, ")
        if reason.startswith("@"):  # a validator named the exact field: "@tiers[1].band_lower: ..."
            rel, reason = reason[1:].split(": ", 1)
            loc += [int(x) if x.isdigit() else x for x in re.split(r"[.\[\]]+", rel) if x]
        line, path = locate(tree, tuple(loc))
        if err["type"] == "extra_forbidden":
            reason = f"unknown field {path.rsplit('.', 1)[-1]!r}"
        elif err.get("input") is not None and err["type"] not in ("value_error", "missing"):
            reason = f"{err['input']!r}: {reason}"
        where = f"{name} line {line}" if line else name
        raise PlanError(f"{where} ({path or 'top level'}): {reason}") from None


def load_plan_file(path: Path | str) -> PlanBook:
    """Read and validate one plan file; raise :class:`PlanError` with file, line and reason."""
    path = Path(path)
    name = _display_name(path)
    if not path.exists():
        raise PlanError(f"{name}: file not found")
    return parse_plan_text(path.read_text(encoding="utf-8"), name)
