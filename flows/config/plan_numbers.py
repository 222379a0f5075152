"""Numbers in plan files: exact decimals, and rates written in percent.

Shared by the plan schema (:mod:`flows.config.commission_plan`) and its parts
(:mod:`flows.config.plan_instruments`, :mod:`flows.config.commission_policies`), so every amount
and rate of a plan is read the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def exact_decimal(value: Any) -> Any:
    """An int or float as an exact :class:`~decimal.Decimal` (floats through their shortest repr);
    anything else unchanged for pydantic to validate."""
    if isinstance(value, float):  # never reached with our loader; kept for Python callers
        return Decimal(str(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def percent_rates(data: Any) -> Any:
    """``rate_unit: percent``: every rate is written in percent (``5`` = 5 %) and divided by 100
    here, so the engine always sees fractions (the default unit: ``0.05`` = 5 %)."""
    if not isinstance(data, dict) or data.get("rate_unit") != "percent":
        return data

    def pct(value: Any) -> Any:
        value = exact_decimal(value)
        return value / 100 if isinstance(value, Decimal) else value

    data = dict(data)
    components = []
    for comp in data.get("components") or []:
        if isinstance(comp, dict):
            comp = dict(comp)
            if "rate" in comp:
                comp["rate"] = pct(comp["rate"])
            if isinstance(comp.get("tiers"), list):
                comp["tiers"] = [
                    {**t, "rate": pct(t["rate"])} if isinstance(t, dict) and "rate" in t else t
                    for t in comp["tiers"]
                ]
        components.append(comp)
    if "components" in data:
        data["components"] = components
    return data
