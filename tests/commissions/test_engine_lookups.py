"""The engine's shortcuts give the answers of the long way round (issue 14, a faster engine).

Remembered plan look-ups (:class:`flows.commissions.plan_lookup.PlanLookup`), a month's days on
each plan counted once when nothing changes within it (``proration.month_days``), credits copied
as ``dataclasses.replace`` would (``lines.copy_with``), countries read from the holidays registry, and the
cycle collector put back after the engine. The day counts are calendar arithmetic done by hand.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from flows.commissions.ledger import run_engine
from flows.commissions.lines import Credit, Rep, copy_with
from flows.commissions.plan_lookup import PlanLookup
from flows.commissions.proration import month_days
from flows.config.calendar import supported_country
from flows.config.commission_plan import parse_plan_text

ROOT = Path(__file__).resolve().parents[2]

BOOK = parse_plan_text(
    """
plans:
  - {plan_id: REP, version: 1, effective_from: 2026-01-01, effective_to: 2026-06-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.05}]}
  - {plan_id: REP, version: 2, effective_from: 2026-06-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.06}]}
  - {plan_id: MGR, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.02}]}
  - {plan_id: SPECIAL, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, measure: monthly_credited_amount, rate: 0.07}]}
assignments:
  - {plan_id: REP, role: rep, valid_from: 2026-01-01}
  - {plan_id: MGR, role: manager, valid_from: 2026-01-01}
  - {plan_id: SPECIAL, rep_id: Bo, valid_from: 2026-09-10, valid_to: 2026-09-20}
""",
    "lookups.yml",
)
# ann: a rep until 2026-03-15, a manager from 03-16 (half-open role versions)
ANN = Rep(
    "ann",
    "ann@x.com",
    "manager",
    roles=((date(2026, 1, 1), date(2026, 3, 16), "rep"), (date(2026, 3, 16), None, "manager")),
)
BO = Rep("bo", "bo@x.com", "rep", hired_on=date(2026, 4, 10))


def _days(year: int) -> list[date]:
    return [date(year, 1, 1) + timedelta(days=n) for n in range(365)]


def test_a_remembered_plan_look_up_answers_as_the_book_on_every_day_and_boundary():
    lookup = PlanLookup(BOOK)
    for rep in (ANN, BO, Rep("BO ", None, None)):
        for day in _days(2026):
            role = rep.role_on(day)
            expected = BOOK.plan_for(rep_id=rep.rep_id, email=rep.email, role=role, day=day)
            twice = [lookup.plan_for(rep_id=rep.rep_id, email=rep.email, role=role, day=day) for _ in "ab"]
            assert twice == [expected, expected], (rep.rep_id, day)
    assert PlanLookup.of(lookup) is lookup and lookup.plans is BOOK.plans


def _keys(counter: Counter) -> dict[tuple[str, int], int]:
    return dict(counter)


def test_days_on_each_plan_follow_a_role_change_within_the_month():
    # March 2026 has 31 days: rep 03-01..03-15 = 15 days (REP v1), manager 03-16..03-31 = 16 days
    on_plan, employed, size = month_days(BOOK, ANN, date(2026, 3, 1), {})
    assert (_keys(on_plan), employed, size) == ({("REP", 1): 15, ("MGR", 1): 16}, 31, 31)
    # February: no change within it, 28 days all on REP v1; April: 30 days all on MGR
    assert _keys(month_days(BOOK, ANN, date(2026, 2, 1), {})[0]) == {("REP", 1): 28}
    assert _keys(month_days(BOOK, ANN, date(2026, 4, 1), {})[0]) == {("MGR", 1): 30}


def test_days_on_each_plan_follow_hire_dates_assignments_and_plan_versions():
    # bo hired 2026-04-10: April counts 04-10..04-30 = 21 of 30 days, all on REP v1
    assert month_days(BOOK, BO, date(2026, 4, 1), {})[:2] == (Counter({("REP", 1): 21}), 21)
    # a rep_id assignment 09-10..09-19 (valid_to 09-20 excluded) wins over the role: 10 days on
    # SPECIAL, the other 30 - 10 = 20 on REP v2 (v2 effective from June)
    on_plan, employed, _ = month_days(BOOK, BO, date(2026, 9, 1), {})
    assert (_keys(on_plan), employed) == ({("SPECIAL", 1): 10, ("REP", 2): 20}, 30)
    # bo leaving 2026-05-20: May counts 05-01..05-20 = 20 days on REP v1
    left = replace(BO, left_on=date(2026, 5, 20))
    assert month_days(BOOK, left, date(2026, 5, 1), {})[:2] == (Counter({("REP", 1): 20}), 20)
    # the month the rep left before: no day employed, no plan
    assert month_days(BOOK, left, date(2026, 7, 1), {})[:2] == (Counter(), 0)


def test_a_credit_copied_equals_dataclasses_replace_and_refuses_unknown_fields():
    c = Credit("c1", "d1", "ann", date(2026, 3, 2), D("100.00"), attributes=(("product", "Pro"),))
    copied = copy_with(c, credit_id="c1>bo", rep_id="bo", kind="rollup", level=1)
    assert copied == replace(c, credit_id="c1>bo", rep_id="bo", kind="rollup", level=1)
    assert copied.rollup_level == 1 and c.rep_id == "ann" and hash(copied) == hash(replace(copied))
    with pytest.raises(TypeError, match="levle"):
        copy_with(c, levle=1)


def test_countries_are_known_from_the_holidays_registry_aliases_included():
    assert supported_country("DE") and supported_country("US") and supported_country("UK")
    assert not supported_country("XX") and not supported_country("de")


def test_the_cycle_collector_is_back_on_after_the_engine_fails():
    settings = SimpleNamespace(config_path=str(ROOT / "config"), reporting_currency=None)
    conn = duckdb.connect()  # no dbt tables: the engine refuses to run
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="run dbt first"):
        run_engine(conn, settings, date(2026, 12, 5))
    assert gc.isenabled()


def test_credits_are_read_once_each_with_their_deal_attributes_and_first_invoice_date():
    # one query joins what with_deal_attributes and the invoice anchor used to add afterwards:
    # product (fct_deals), industry (standard, else the CRM's spelling), first invoice date; a
    # deal listed twice in a mart never doubles its credit; a deal in no mart gets none of them
    from commissions_support import create_engine_inputs

    from flows.commissions.inputs import read_inputs

    conn = duckdb.connect()
    create_engine_inputs(conn)
    conn.execute("""
        create table marts.fct_deals (deal_id varchar, account_id varchar, product_name varchar);
        insert into marts.fct_deals values ('a', 'acc1', 'Premium'), ('b', 'acc2', 'Basic'),
            ('b', 'acc2', 'Basic');
        create table marts.dim_customers (account_id varchar, industry_standard varchar, industry varchar);
        insert into marts.dim_customers values ('acc1', 'Retail', 'retail & co'), ('acc2', null, 'Mining');
        create table intermediate.int_deal_invoice_dates (deal_id varchar, first_invoice_date date);
        insert into intermediate.int_deal_invoice_dates values ('a', '2026-03-20');
        insert into intermediate.int_commission_rep_months values
            ('ann', 'ann@x.com', 'rep', null, null, '2026-03-01', 1000, 1000);
    """)
    for cid, deal in (("1", "a"), ("2", "b"), ("3", "c")):
        conn.execute(
            "insert into intermediate.int_credit_lines values (?, ?, 'ann', 'direct', 'booking', "
            "'2026-03-10', '2026-03-01', 1, 100, 'USD', 1, 100, null)",
            [cid, deal],
        )
    credits, reps, targets = read_inputs(conn)
    got = [(c.credit_id, c.attributes, c.invoice_date, c.amount) for c in credits]
    assert got == [
        ("1", (("product", "Premium"), ("industry", "Retail")), date(2026, 3, 20), D("100.00")),
        ("2", (("product", "Basic"), ("industry", "Mining")), None, D("100.00")),
        ("3", (), None, D("100.00")),
    ]
    assert list(reps) == ["ann"] and targets == {("ann", date(2026, 3, 1)): D("1000.00")}
