"""The plan-file schema of the instrument components: SPIFs, target incentives on an attainment
curve and interpolated amount tables (docs/commission_plans.md, "Instruments").

Kept apart from :mod:`flows.config.commission_plan` (which owns the rest of the format) so each
instrument's shape and its validation live in one place; ``Component`` holds the fields and calls
:func:`check_instrument` for these types.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flows.config.plan_numbers import exact_decimal as _dec

INSTRUMENT_TYPES = ("spif", "target_incentive", "amount_table")
CURVE_TYPES = ("stepped", "linear", "marginal")
# component fields only an instrument uses: (field, the types that take it)
_OWN_FIELDS = {
    "amount_per_deal": ("spif",),
    "filters": ("spif",),
    "target_incentive": ("target_incentive",),
    "curve": ("target_incentive",),
    "curve_type": ("target_incentive",),
    "below_first": ("target_incentive",),
    "above_last": ("target_incentive",),
    "amount_table": ("amount_table",),
}
# fields of the commission types an instrument has no use for
_FOREIGN_FIELDS = ("rate", "tiers", "milestones", "accelerators")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpifFilters(_Strict):
    """Which credits qualify for a SPIF. Every filter given must match (and); text compares
    case-insensitively; a list matches any of its values. ``credit_from``/``credit_to`` is the
    half-open window of the credit date (the close date of a booking)."""

    products: list[str] | None = None
    segments: list[str] | None = None
    industries: list[str] | None = None
    min_deal_amount: Decimal | None = Field(default=None, ge=0)
    credit_from: date | None = None
    credit_to: date | None = None

    _d = field_validator("min_deal_amount", mode="before")(_dec)

    def matches(self, attributes: dict[str, str], deal_amount: Decimal, day: date) -> bool:
        for name, wanted in (
            ("product", self.products),
            ("segment", self.segments),
            ("industry", self.industries),
        ):
            if wanted is not None and attributes.get(name, "").strip().casefold() not in {
                w.strip().casefold() for w in wanted
            }:
                return False
        if self.min_deal_amount is not None and deal_amount < self.min_deal_amount:
            return False
        if self.credit_from is not None and day < self.credit_from:
            return False
        return self.credit_to is None or day < self.credit_to


class CurvePoint(_Strict):
    """A point of a target-incentive curve: at ``attainment``, ``payout`` x target incentive
    (stepped, linear); or, for a marginal curve, ``rate`` x target incentive per unit of
    attainment from this point to the next."""

    attainment: Decimal = Field(ge=0)
    payout: Decimal | None = Field(default=None, ge=0)
    rate: Decimal | None = Field(default=None, ge=0)

    _d = field_validator("attainment", "payout", "rate", mode="before")(_dec)


class AmountBand(_Strict):
    """A band of an interpolated amount table: ``amount`` is earned in full at ``band_upper``,
    linearly inside ``[band_lower, band_upper)`` (Oracle's "interpolated rate")."""

    band_lower: Decimal = Field(ge=0)
    band_upper: Decimal
    amount: Decimal = Field(ge=0)

    _d = field_validator("band_lower", "band_upper", "amount", mode="before")(_dec)


def check_instrument(comp: Any) -> None:
    """Validate an instrument component (``comp.type`` in INSTRUMENT_TYPES) and reject the fields
    of other types on it, and instrument fields on other types. Errors start with ``@<field>:``
    so the plan loader points at the line."""
    for name, types in _OWN_FIELDS.items():
        if getattr(comp, name) is not None and comp.type not in types:
            raise ValueError(f"@{name}: {name} is only for type {' / '.join(types)}")
    if comp.type not in INSTRUMENT_TYPES:
        return
    for name in _FOREIGN_FIELDS:
        if getattr(comp, name):
            raise ValueError(f"@{name}: type {comp.type} takes no {name}")
    if comp.type == "spif":
        if comp.amount_per_deal is None:
            raise ValueError("type spif needs amount_per_deal (the fixed amount per qualifying deal)")
        f = comp.filters
        if f is not None and f.credit_from and f.credit_to and f.credit_to <= f.credit_from:
            raise ValueError("@filters.credit_to: must be after credit_from")
    elif comp.type == "target_incentive":
        _check_curve(comp)
    else:
        _check_table(comp.amount_table)


def _check_curve(comp: Any) -> None:
    if comp.target_incentive is None:
        raise ValueError("type target_incentive needs target_incentive (the variable pay at 100 %)")
    points, kind = comp.curve, comp.curve_type or "linear"
    if not points:
        raise ValueError("@curve: type target_incentive needs a curve of at least one point")
    key = "rate" if kind == "marginal" else "payout"
    for i, p in enumerate(points):
        if getattr(p, key) is None or getattr(p, "payout" if key == "rate" else "rate") is not None:
            raise ValueError(f"@curve[{i}]: a {kind} curve's points give attainment and {key} only")
        if i and p.attainment <= points[i - 1].attainment:
            raise ValueError(f"@curve[{i}].attainment: points must be in increasing attainment")
    if kind == "stepped" and comp.above_last == "extrapolate":
        raise ValueError("@above_last: a stepped curve has no slope to extrapolate; use cap")
    if kind == "linear" and comp.above_last == "extrapolate" and len(points) < 2:
        raise ValueError("@above_last: extrapolate needs at least two points (the last segment's slope)")
    if kind != "linear" and comp.below_first == "proportional":
        raise ValueError("@below_first: proportional (a line from 0 to the first point) is for linear curves")
    if kind == "marginal" and comp.above_last is not None:
        raise ValueError("@above_last: a marginal curve's last point pays its rate on (rate 0 = capped)")


def _check_table(bands: list[AmountBand] | None) -> None:
    if not bands:
        raise ValueError("@amount_table: type amount_table needs a non-empty list of bands")
    if bands[0].band_lower != 0:
        raise ValueError(
            f"@amount_table[0].band_lower: the first band must start at 0, not {bands[0].band_lower}"
        )
    for i, band in enumerate(bands):
        if band.band_upper <= band.band_lower:
            raise ValueError(
                f"@amount_table[{i}].band_upper: must be greater than band_lower {band.band_lower}"
            )
        if i and band.band_lower != bands[i - 1].band_upper:
            raise ValueError(
                f"@amount_table[{i}].band_lower: bands must be contiguous "
                f"({bands[i - 1].band_upper} expected)"
            )
