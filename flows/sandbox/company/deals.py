"""The generator's deals: owner, account, contact, product and amount, the stages each deal walked
through (its history), and where it ended (won, lost, or still open)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from flows.sandbox.company.draws import business_time, money
from flows.sandbox.company.model import (
    CURRENCY_SCALE,
    PIPELINES,
    Account,
    Contact,
    Deal,
    Product,
    Region,
    StageChange,
    User,
)
from flows.sandbox.company.vocabulary import LEAD_SOURCES

Stage = tuple[str, int, str]  # name, probability (%), category


@dataclass(frozen=True)
class DealWorld:
    """What every deal is drawn against: the window, the people and the customers."""

    as_of: date
    start: date  # first day of the history window
    horizon: datetime  # the generator's "now": nothing happens after it
    regions: list[Region]
    rep_users: list[User]
    accounts: list[Account]
    contacts: list[Contact]
    products: list[Product]

    def region_of(self, name: str) -> Region:
        return next(r for r in self.regions if r.name == name)

    def accounts_by_owner(self) -> dict[int, list[Account]]:
        out: dict[int, list[Account]] = {}
        for acc in self.accounts:
            out.setdefault(acc.owner_key, []).append(acc)
        return out

    def contacts_by_account(self) -> dict[int, list[Contact]]:
        out: dict[int, list[Contact]] = {}
        for con in self.contacts:
            out.setdefault(con.account_key, []).append(con)
        return out


def generate_deals(rng: random.Random, count: int, world: DealWorld) -> list[Deal]:
    accounts_by_owner = world.accounts_by_owner()
    contacts_by_account = world.contacts_by_account()
    return [_deal(rng, k, world, accounts_by_owner, contacts_by_account) for k in range(count)]


def _deal(
    rng: random.Random,
    k: int,
    world: DealWorld,
    accounts_by_owner: dict[int, list[Account]],
    contacts_by_account: dict[int, list[Contact]],
) -> Deal:
    as_of, horizon = world.as_of, world.horizon
    owner = world.rep_users[rng.randrange(len(world.rep_users))]
    region = world.region_of(owner.region)
    pipeline = PIPELINES[region.crm]
    open_stages = _stages(region.crm, "open")
    hired_from = max(world.start, owner.hired_on)
    active_until = min(as_of, owner.left_on) if owner.left_on else as_of
    span = max(1, (active_until - hired_from).days)
    created = min(
        business_time(hired_from + timedelta(days=rng.randrange(span)), rng), horizon - timedelta(hours=1)
    )
    final = _final_stage(rng, pipeline, (as_of - created.date()).days, (as_of - world.start).days, owner)
    acc_pool = accounts_by_owner.get(owner.key) or world.accounts
    account = rng.choice(acc_pool) if rng.random() > 0.04 else None  # a few deals with no account
    contact = rng.choice(contacts_by_account[account.key]) if account and rng.random() > 0.2 else None
    product = rng.choice(world.products)
    scale = CURRENCY_SCALE[region.currency]
    amount = money(float(product.unit_price * scale) * rng.uniform(0.6, 3.0))
    # Nothing happens after the generator's "now": midnight of as_of in UTC+8 (always past).
    limit = min(datetime.combine(active_until, time(12), tzinfo=UTC), horizon)
    history = _history(rng, created, final, open_stages, amount, limit)
    last_change = history[-1].changed_at
    if final[2] != "open":
        closing_date = last_change.date()
    else:
        # Expected close dates: some already slipped, some this month, most ahead (115 values,
        # the same draw as before so every later deal stays as it was).
        closing_date = as_of + timedelta(days=rng.randrange(-25, 90))
    modified = min(last_change + timedelta(hours=rng.randrange(0, 48)), horizon)
    name = f"{account.name if account else 'Unassigned'} – {product.name}"
    return Deal(
        key=k + 1,
        name=name,
        crm=region.crm,
        account_key=account.key if account else None,
        contact_key=contact.key if contact else None,
        owner_key=owner.key,
        product_key=product.key,
        amount=amount,
        currency=region.currency,
        stage=final[0],
        stage_category=final[2],
        probability=final[1],
        created_at=created,
        closing_date=closing_date,
        modified_at=modified,
        lead_source=rng.choice(LEAD_SOURCES),
        history=history,
    )


@cache
def _stages(crm: str, category: str) -> list[Stage]:
    """The stages of one CRM's pipeline in one category (cached: drawn a million times)."""
    return [s for s in PIPELINES[crm] if s[2] == category]


def _crm_of(pipeline: list[Stage]) -> str:
    return next(crm for crm, stages in PIPELINES.items() if stages is pipeline)


def _final_stage(rng: random.Random, pipeline: list[Stage], age: int, window_days: int, owner: User) -> Stage:
    """Where the deal ended: older deals are mostly closed, recent ones mostly open."""
    crm = _crm_of(pipeline)
    won = _stages(crm, "won")[0]
    lost = _stages(crm, "lost")
    open_stages = _stages(crm, "open")
    roll = rng.random()
    p_closed = min(0.95, 0.15 + age / window_days)
    if roll < p_closed * 0.55 or (owner.left_on and roll < 0.6):
        return won
    if roll < p_closed:
        return rng.choice(lost)
    return rng.choice(open_stages)


def _history(
    rng: random.Random,
    created: datetime,
    final: Stage,
    open_stages: list[Stage],
    amount: Decimal,
    limit: datetime,
) -> list[StageChange]:
    """Walk the stages up to the final one; changes after ``limit`` are clamped to it."""
    history: list[StageChange] = []
    at = created
    target_idx = open_stages.index(final) if final[2] == "open" else rng.randrange(1, len(open_stages) + 1)
    for stage in open_stages[: max(1, target_idx + (1 if final[2] == "open" else 0))]:
        history.append(StageChange(stage[0], at, amount, stage[1]))
        at = at + timedelta(days=rng.randrange(3, 25), seconds=rng.randrange(3600 * 8))
    if final[2] != "open":
        history.append(StageChange(final[0], max(at, history[-1].changed_at), amount, final[1]))
    return [
        h if h.changed_at <= limit else StageChange(h.stage, limit, h.amount, h.probability) for h in history
    ]
