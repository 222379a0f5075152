"""``config/commission_plan.yml``: read by :mod:`flows.config.commission_plan` (the one plan schema).

The nightly run needs assignments (who is on which plan when), so this file must have them; the
plan tables of the ``config`` schema are the plan book flattened into rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.config.commission_plan import PlanBook, PlanError, parse_plan_text
from flows.config.errors import ConfigError


def read_plans(config_dir: Path) -> PlanBook:
    """The validated plan book; a bad plan raises :class:`ConfigError` with the plan parser's
    message (file, YAML line, field path, reason)."""
    path = config_dir / "commission_plan.yml"
    name = f"{config_dir.name}/commission_plan.yml"
    if not path.exists():
        raise ConfigError(f"{name}: file not found")
    try:
        book = parse_plan_text(path.read_text(encoding="utf-8"), name)
    except PlanError as exc:
        raise ConfigError(str(exc)) from None
    if not book.assignments:
        raise ConfigError(f"{name} (assignments): a non-empty list of assignments is required")
    return book


def plan_tables(book: PlanBook) -> dict[str, list[tuple[Any, ...]]]:
    """The plan book as the rows of the ``config.commission_plan*`` tables."""
    plans, components, tiers, assignments = [], [], [], []
    for p in book.plans:
        plans.append(
            (p.plan_id, p.version, p.name, p.effective_from, p.effective_to, p.currency, p.credit_on)
        )
        for c in p.components:
            components.append(
                (p.plan_id, p.version, c.component, c.type, c.measure, c.weight, c.tier_position, c.rate)
            )
            for number, band in enumerate(c.tiers or [], start=1):
                tiers.append(
                    (p.plan_id, p.version, c.component, number, band.band_lower, band.band_upper, band.rate)
                )
    for number, a in enumerate(book.assignments or [], start=1):
        assignments.append((number, a.plan_id, a.role, a.rep_email, a.rep_id, a.valid_from, a.valid_to))
    return {
        "commission_plans": plans,
        "commission_plan_components": components,
        "commission_plan_tiers": tiers,
        "commission_plan_assignments": assignments,
    }
