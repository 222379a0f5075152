"""The sandbox's data: deterministic, complete, and the Maven data set with its quirks intact."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import PIPELINES
from flows.sandbox.maven import load_maven_company

AS_OF = date(2026, 11, 28)


def test_same_seed_same_company_other_seed_other_company() -> None:
    a = generate_company(seed=1, reps=8, deals=200, as_of=AS_OF)
    b = generate_company(seed=1, reps=8, deals=200, as_of=AS_OF)
    c = generate_company(seed=2, reps=8, deals=200, as_of=AS_OF)
    assert a == b
    assert a.deals != c.deals


def test_size_parameters_and_hierarchy() -> None:
    company = generate_company(seed=3, reps=16, deals=500, as_of=AS_OF)
    roles = Counter(u.role for u in company.users)
    assert roles["rep"] == 16 and roles["manager"] == 8 and roles["director"] == 4
    assert len(company.deals) == 500
    keys = {u.key: u for u in company.users}
    for user in company.users:
        if user.role == "rep":
            assert keys[user.manager_key].role == "manager" and keys[user.manager_key].team == user.team
    assert len({u.email for u in company.users}) == len(company.users)


def test_deals_cover_every_stage_two_currencies_and_18_months() -> None:
    company = generate_company(seed=42, reps=24, deals=1200, as_of=AS_OF)
    for crm, stages in PIPELINES.items():
        seen = {d.stage for d in company.deals if d.crm == crm}
        assert seen == {name for name, _, _ in stages}, crm
    assert {d.currency for d in company.deals} >= {"USD", "EUR", "CNY"}
    oldest = min(d.created_at.date() for d in company.deals)
    assert AS_OF - timedelta(days=560) <= oldest <= AS_OF - timedelta(days=400)
    for deal in company.deals:
        assert (
            deal.created_at <= deal.history[0].changed_at <= deal.history[-1].changed_at <= deal.modified_at
        )
        assert deal.modified_at.date() < AS_OF
        assert deal.stage == deal.history[-1].stage
        if deal.stage_category != "open":
            assert deal.closing_date <= AS_OF


def test_maven_company_keeps_the_quirks() -> None:
    company = load_maven_company()
    assert len(company.deals) == 8800 and len(company.accounts) == 85 and len(company.products) == 7
    assert sum(1 for d in company.deals if d.product_name == "GTXPro") == 1480
    assert any(a.industry == "technolgy" for a in company.accounts)
    open_deals = [d for d in company.deals if d.stage_category == "open"]
    assert all(d.closing_date is None and d.amount is None for d in open_deals)
    assert any(d.account_key is None for d in open_deals)
    reps_with_deals = {d.owner_key for d in company.deals}
    idle = [u for u in company.users if u.role == "rep" and u.key not in reps_with_deals]
    assert len(idle) == 5
