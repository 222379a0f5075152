"""Plan-file schema of what happens after a sale is paid: reversal policy, clawback windows,
balances (deficit carry-forward), draw periods and payout schedules.

Kept apart from :mod:`flows.config.commission_plan` (which imports these models into the plan
and component schema) so the pay-out mechanics can grow without touching the tiering schema.
The format is documented in ``docs/commission_plans.md`` ("Reversals, clawback windows and
balances", "Payout schedules"); the engine side is :mod:`flows.commissions.clawbacks`,
:mod:`flows.commissions.balances`, :mod:`flows.commissions.draws`,
:mod:`flows.commissions.payouts` and :mod:`flows.commissions.recompute`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flows.config.plan_numbers import exact_decimal as _dec

ANCHORS = ("close_date", "invoice_date", "payment_date")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _first_of_month(value: date | None) -> date | None:
    if value is not None and value.day != 1:
        raise ValueError(f"{value} must be the first day of a month")
    return value


class ClawbackWindow(_Strict):
    """Cancelled within ``within_days`` days of the anchor date: ``percent`` of what was paid is
    clawed back."""

    within_days: int = Field(ge=0, strict=True)
    percent: Decimal = Field(ge=0, le=100)

    _d = field_validator("percent", mode="before")(_dec)


class ClawbackPolicy(_Strict):
    """How much of a cancelled credit's pay is clawed back, by the days from ``anchor`` to the
    cancellation. Windows are in increasing ``within_days``; after the last one nothing is."""

    anchor: Literal["close_date", "invoice_date", "payment_date"] = "close_date"
    windows: list[ClawbackWindow] = Field(min_length=1)

    @model_validator(mode="after")
    def _increasing(self) -> ClawbackPolicy:
        for i in range(1, len(self.windows)):
            if self.windows[i].within_days <= self.windows[i - 1].within_days:
                raise ValueError(
                    f"@windows[{i}].within_days: {self.windows[i].within_days} must be greater than the "
                    f"previous window's {self.windows[i - 1].within_days} (windows in increasing order)"
                )
        return self


class Balances(_Strict):
    """What a negative month does: by default it becomes a deficit carried forward and recovered
    from later earnings (no negative payroll row)."""

    allow_negative_payout: bool = False
    max_recovery_per_period: Decimal | None = Field(default=None, gt=0)
    write_off_on_leave: bool = False

    _d = field_validator("max_recovery_per_period", mode="before")(_dec)


class Instalment(_Strict):
    """One instalment of a component's pay: ``percent`` of each credit's commission, paid at
    booking (the credit's own month), on collection of the deal, or ``after_days`` days after the
    credit date."""

    percent: Decimal = Field(gt=0, le=100)
    on: Literal["booking", "collection"] | None = None
    after_days: int | None = Field(default=None, ge=0, strict=True)

    _d = field_validator("percent", mode="before")(_dec)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        """YAML 1.1 reads the key ``on`` as the boolean true: give it back its name."""
        if isinstance(data, dict) and True in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _one_of(self) -> Instalment:
        if (self.on is None) == (self.after_days is None):
            raise ValueError("give exactly one of on (booking | collection) or after_days")
        return self

    @property
    def immediate(self) -> bool:
        return self.on == "booking" or self.after_days == 0


def check_after_sale(
    payout: list[Instalment] | None, on_reversal: str | None, *, component_type: str, monthly: bool
) -> None:
    """A component's instalments total exactly 100 %, on credit lines measured per month (a bonus
    has no deal to collect on; a quarter's true-ups would re-pay instalments); ``recompute`` is
    for components measured per month (a longer period re-measures its period to date)."""
    if on_reversal == "recompute" and not monthly:
        raise ValueError(
            "@on_reversal: recompute is for components measured per month; a longer measurement "
            "period already re-measures the period to date every month"
        )
    if not payout:
        return
    total = sum((i.percent for i in payout), Decimal(0))
    if total != 100:
        raise ValueError(f"@payout: the instalments' percents total {total}; they must total exactly 100")
    if component_type == "bonus":
        raise ValueError("@payout: a bonus is not paid per deal; payout schedules are for credit lines")
    if not monthly:
        raise ValueError("@payout: payout schedules need measurement_period month")


def check_plan_reversal(on_reversal: str, components: list[Any]) -> None:
    """A plan that recomputes must say ``keep`` on its components measured over longer periods."""
    if on_reversal != "recompute":
        return
    longer = [c.component for c in components if not c.measured_monthly and c.on_reversal is None]
    if longer:
        raise ValueError(
            f"@on_reversal: recompute is for components measured per month; give {longer[0]!r} "
            "on_reversal: keep (its period to date keeps counting the cancelled credit)"
        )


class DrawPeriods(_Strict):
    """Mixin fields of a draw: the months it is paid ``[start, end)`` and the first month its
    balance is recovered (``recovery_start``, default ``start``)."""

    start: date | None = None
    end: date | None = None
    recovery_start: date | None = None

    _m = field_validator("start", "end", "recovery_start")(_first_of_month)

    @model_validator(mode="after")
    def _ordered(self) -> DrawPeriods:
        if self.start and self.end and self.end <= self.start:
            raise ValueError(f"@end: {self.end} must be after start {self.start}")
        return self

    def pays_in(self, month: date) -> bool:
        return (self.start is None or self.start <= month) and (self.end is None or month < self.end)

    def recovers_in(self, month: date) -> bool:
        first = self.recovery_start or self.start
        return first is None or first <= month
