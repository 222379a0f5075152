"""The seeded company generator: one :class:`Company` from ``(seed, reps, deals, as_of)``.

International regions sell through Zoho CRM (USD and EUR), the China business through Fxiaoke
(CNY). Each region has a director, two teams with a manager each, and reps. Everything is drawn
from ``random.Random(seed)`` relative to ``as_of``, so the same arguments always give the same
company (see docs/sandbox.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flows.gc_pause import collector_paused
from flows.sandbox.company.activities import add_activities
from flows.sandbox.company.deals import DealWorld, generate_deals
from flows.sandbox.company.draws import SeededRandom
from flows.sandbox.company.model import REGIONS, Company, Product, Region
from flows.sandbox.company.order_to_cash import add_order_to_cash
from flows.sandbox.company.people import generate_accounts, generate_users
from flows.sandbox.company.vocabulary import PRODUCTS


def generate_company(
    *, seed: int = 42, reps: int = 24, deals: int = 1200, as_of: date | None = None
) -> Company:
    """Generate a deterministic company. ``reps`` are spread evenly over 4 regions x 2 teams."""
    if reps < 1 or deals < 0:
        raise ValueError("reps must be >= 1 and deals >= 0")
    with collector_paused():  # millions of long-lived objects: see flows/gc_pause.py
        return _generate(seed, reps, deals, as_of)


def _generate(seed: int, reps: int, deals: int, as_of: date | None) -> Company:
    rng = SeededRandom(seed)
    as_of = as_of or datetime.now(UTC).date()
    start = as_of - timedelta(days=548)  # 18 months of history
    horizon = datetime.combine(as_of, time(0), tzinfo=UTC) - timedelta(hours=8)
    regions = [Region(n, crm, cur) for n, crm, cur in REGIONS]
    users, rep_users = generate_users(rng, regions, reps, start, as_of)
    products = [Product(i + 1, n, s, p) for i, (n, s, p) in enumerate(PRODUCTS)]
    accounts, contacts = generate_accounts(rng, regions, rep_users, max(4, deals // 6), start)
    world = DealWorld(as_of, start, horizon, regions, rep_users, accounts, contacts, products)
    deal_list = generate_deals(rng, deals, world)
    company = Company("SalesOps Demo Co.", as_of, regions, users, products, accounts, contacts, deal_list)
    # Leads, orders, invoices and payments draw from their own stream, so adding them left every
    # user, account and deal above exactly as it was for a given seed.
    add_order_to_cash(company, SeededRandom(seed * 7919 + 1), horizon)
    # Activities too: their own stream, so nothing above changes for a given seed.
    add_activities(company, SeededRandom(seed * 104729 + 3), horizon)
    return company
