"""Harness of the end-to-end commission plan test (tests/e2e/test_e2e_commission_plans.py).

Each example plan of ``config/plans/`` is one :class:`PlanCase`: its plan file, who is on which
of its plans (by a label of a person of the sandbox company), who reports to whom, the won deals
it needs and the hand-computed statement totals it must pay. All cases share ONE small sandbox
company and one configuration, so adding a plan adds no nightly run (a run builds every dbt model
and takes about a minute): the cases' plans are merged into one ``commission_plan.yml`` whose
assignments name each case's people by email (a named person wins over a role, and a case's
people are on its plans only, so the cases do not pay on each other's deals).

The company is generated with no deals (so no random sales, orders or cancellations interfere)
and each case's deals are added by hand: won, in USD (North America, Zoho, rate 1), so every
credited amount is the deal amount; a deal may have a sales order with invoices paid on given days
(its collection credits), and a case may have deals lost between the two runs (:func:`cancel_deal`,
dated, so the clawback window does not depend on the day the test runs). Three reps reporting to
nobody (``x1``..``x3``) are added for cases that need a person of their own, and one open Fxiaoke
opportunity so the raw gate's source freshness sees that source landed.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import duckdb
import yaml

from flows.cli.demo import demo_environment
from flows.sandbox.cluster import SandboxCluster
from flows.sandbox.company.config_files import write_config_dir
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company, Deal, Invoice, Payment, SalesOrder

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 4, 6)
#: North America (Zoho, USD) of ``generate_company(seed=5, reps=16)``: two teams of two reps,
#: their managers and the region's director. Labels used by the cases.
PEOPLE_SEED, PEOPLE_REPS = 5, 16
#: Reps added to team North America 1 (the generated teams have two reps each, fewer than the
#: cases need), reporting to nobody so no roll-up credit leaves their case.
EXTRA_REPS = ("x1", "x2", "x3")


@dataclass(frozen=True)
class CaseDeal:
    name: str  # unique over all cases: the Zoho Deal_Name, how the test finds it again
    owner: str  # person label
    amount: Decimal
    closed_on: date
    #: ``(paid_on, amount)`` per invoice of the deal's sales order, each paid in full on that day
    #: (a Zoho invoice's Amount_Paid and Last_Payment_Date: the deal's collection credits)
    collections: tuple[tuple[date, Decimal], ...] = ()


@dataclass(frozen=True)
class PlanCase:
    """One example plan run through the nightly and ``commissions close``.

    ``assign`` maps person labels to plan ids of ``plan_file``; ``managers`` sets who reports to
    whom for the case's people (None: nobody above, so no roll-up leaves the case);
    ``expected[run]`` is the hand-computed ``{(label, 'YYYY-MM'): total}`` after run ``run``."""

    case_id: str
    plan_file: str
    assign: dict[str, str]
    managers: dict[str, str | None]
    deals: list[CaseDeal]
    expected: dict[int, dict[tuple[str, str], Decimal]] = field(default_factory=dict)
    #: deals moved to Closed Lost between the two runs: name -> the cancellation date
    cancel: dict[str, date] = field(default_factory=dict)
    #: hand-computed ``{(label, 'YYYY-MM'): (pending_balance, deficit_balance)}`` of the statements
    #: after the second run (instalments earned not yet paid; deficit left to recover)
    balances: dict[tuple[str, str], tuple[Decimal, Decimal]] = field(default_factory=dict)
    #: every case person's monthly target (the gate wants one for everyone paid, and attainment
    #: below 50x; the generated company's targets are sized for its own, random, deals)
    monthly_target: Decimal = Decimal("100000")


def people(company: Company) -> dict[str, int]:
    """Person labels -> user keys: ``dir`` the director; ``m1``/``m2`` the managers of teams 1/2;
    ``a1``, ``a2`` (team 1) and ``b1``, ``b2`` (team 2) their reps; ``x1``..``x3`` the added reps."""
    na = [u for u in company.users if u.region == "North America"]
    out = {"dir": next(u.key for u in na if u.role == "director")}
    for label, team in (("a", "North America 1"), ("b", "North America 2")):
        out[f"m{1 if label == 'a' else 2}"] = next(
            u.key for u in na if u.role == "manager" and u.team == team
        )
        reps = sorted(u.key for u in na if u.role == "rep" and u.team == team)
        assert len(reps) >= 2, f"the company needs two reps in {team}"
        out[f"{label}1"], out[f"{label}2"] = reps[0], reps[1]
    by_email = {u.email: u.key for u in company.users}
    out.update({label: by_email[_extra_email(label)] for label in EXTRA_REPS})
    return out


def _extra_email(label: str) -> str:
    return f"e2e.{label}@salesops-demo.com"


def _add_extra_reps(company: Company) -> None:
    """Three more Zoho reps of team North America 1, on no manager (labels ``x1``..``x3``)."""
    template = next(u for u in company.users if u.region == "North America" and u.role == "rep")
    for label in EXTRA_REPS:
        key = max(u.key for u in company.users) + 1
        company.users.append(
            dataclasses.replace(
                template,
                key=key,
                first_name="Case",
                last_name=label.upper(),
                full_name=f"Case {label.upper()}",
                email=_extra_email(label),
                manager_key=None,
                left_on=None,
            )
        )


def build_company(cases: list[PlanCase]) -> tuple[Company, dict[str, str]]:
    """The company with each case's hierarchy edits and deals; returns it and label -> email."""
    company = generate_company(seed=PEOPLE_SEED, reps=PEOPLE_REPS, deals=0, as_of=AS_OF)
    _add_extra_reps(company)
    keys = people(company)
    users = {u.key: u for u in company.users}
    company.deals.append(_open_fxiaoke_deal(company))
    for case in cases:
        for label, manager in case.managers.items():
            users[keys[label]].manager_key = keys[manager] if manager else None
        for label in case.assign:  # the generator lets one rep leave in January: not a case's people
            users[keys[label]].left_on = None
        for d in case.deals:
            company.deals.append(_won_deal(len(company.deals) + 1, d, keys[d.owner]))
            if d.collections:
                _add_collections(company, company.deals[-1], d.collections)
    return company, {label: users[k].email for label, k in keys.items()}


def _open_fxiaoke_deal(company: Company) -> Deal:
    """One open Fxiaoke opportunity (no credit, no pay): the raw gate's source freshness blocks a
    run whose ``fxiaoke_opportunities`` never landed a record, and the cases' deals are all Zoho."""
    owner = next(u.key for u in company.users if u.crm == "fxiaoke" and u.role == "rep")
    created = datetime.combine(date(2026, 3, 2), time(10), tzinfo=UTC)
    return Deal(
        key=len(company.deals) + 1,
        name="E2E-OPEN-FX",
        crm="fxiaoke",
        account_key=None,
        contact_key=None,
        owner_key=owner,
        product_key=None,
        amount=Decimal("50000"),
        currency="CNY",
        stage="验证客户",
        stage_category="open",
        probability=10,
        created_at=created,
        closing_date=date(2026, 6, 30),
        modified_at=created,
    )


def _won_deal(key: int, d: CaseDeal, owner_key: int) -> Deal:
    closed = datetime.combine(d.closed_on, time(10), tzinfo=UTC)
    return Deal(
        key=key,
        name=d.name,
        crm="zoho",
        account_key=None,
        contact_key=None,
        owner_key=owner_key,
        product_key=None,
        amount=d.amount,
        currency="USD",
        stage="Closed Won",
        stage_category="won",
        probability=100,
        created_at=closed,
        closing_date=d.closed_on,
        modified_at=closed,
    )


def _add_collections(company: Company, deal: Deal, paid: tuple[tuple[date, Decimal], ...]) -> None:
    """A delivered sales order for the deal and one invoice per ``(paid_on, amount)``, paid in full
    that day: what ``int_credit_collections`` reads as the deal's cash collected."""
    at = datetime.combine(deal.closing_date or AS_OF, time(10), tzinfo=UTC)
    order = SalesOrder(
        key=len(company.sales_orders) + 1,
        crm="zoho",
        deal_key=deal.key,
        account_key=None,
        owner_key=deal.owner_key,
        order_date=deal.closing_date or AS_OF,
        amount=deal.amount or Decimal(0),
        currency=deal.currency,
        status="Delivered",
        created_at=at,
        modified_at=at,
    )
    company.sales_orders.append(order)
    for paid_on, amount in paid:
        paid_at = datetime.combine(paid_on, time(10), tzinfo=UTC)
        invoice = Invoice(
            key=len(company.invoices) + 1,
            crm="zoho",
            order_key=order.key,
            account_key=None,
            owner_key=deal.owner_key,
            invoice_date=order.order_date,
            due_date=paid_on,
            amount=amount,
            currency=deal.currency,
            status="Paid",
            created_at=at,
            modified_at=paid_at,
        )
        company.invoices.append(invoice)
        company.payments.append(
            Payment(
                key=len(company.payments) + 1,
                crm="zoho",
                invoice_key=invoice.key,
                account_key=None,
                owner_key=deal.owner_key,
                paid_on=paid_on,
                amount=amount,
                currency=deal.currency,
                created_at=paid_at,
                modified_at=paid_at,
            )
        )


def plan_book(cases: list[PlanCase], emails: dict[str, str]) -> str:
    """One plan file: every case's plans, assigned by email to the case's people only."""
    plans, assignments = [], []
    for case in cases:
        book = yaml.safe_load((ROOT / case.plan_file).read_text(encoding="utf-8"))
        plans += book["plans"]
        start = min(str(p["effective_from"]) for p in book["plans"])
        assignments += [
            {"plan_id": plan_id, "rep_email": emails[label], "valid_from": start}
            for label, plan_id in case.assign.items()
        ]
    return yaml.safe_dump({"plans": plans, "assignments": assignments}, sort_keys=False)


@contextmanager
def plan_sandbox(home: Path, cases: list[PlanCase]) -> Iterator[tuple[SandboxCluster, dict[str, str]]]:
    """Sandbox CRMs serving the cases' company, SALESOPS_* pointing at them and at a config dir
    whose ``commission_plan.yml`` is the cases' plans; yields the cluster and label -> email."""
    company, emails = build_company(cases)
    config_dir = write_config_dir(company, ROOT / "config", home.parent / "config")
    (config_dir / "commission_plan.yml").write_text(plan_book(cases, emails), encoding="utf-8")
    set_targets(config_dir / "targets.csv", cases, emails)
    with demo_environment(home, company, config_dir=config_dir) as cluster:
        yield cluster, emails


def set_targets(path: Path, cases: list[PlanCase], emails: dict[str, str]) -> None:
    """Each case person (managers and directors too) gets ``monthly_target`` for every month the
    file's rep rows cover, instead of what the generated configuration gave them."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    months = sorted({(r["period"], r["currency"]) for r in rows if r["scope_type"] == "rep"})
    targets = {emails[label].lower(): case.monthly_target for case in cases for label in case.assign}
    kept = [r for r in rows if r["scope_type"] != "rep" or r["scope_key"].lower() not in targets]
    for email, amount in targets.items():
        kept += [
            {
                "scope_type": "rep",
                "scope_key": email,
                "grain": "month",
                "period": period,
                "target_amount": f"{amount:.2f}",
                "currency": currency,
            }
            for period, currency in months
        ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)


def change_deal_amount(cluster: SandboxCluster, name: str, amount: Decimal) -> None:
    """Edit a served Zoho deal's amount and mark it modified now (what the next run reads)."""
    rows = cluster.zoho._rows["Deals"]
    [rid] = [rid for rid in rows.ids() if rows[rid].pin().get("Deal_Name") == name]
    record = rows[rid].pin()
    record["Amount"] = float(amount)
    now = cluster.zoho.now()
    record["Modified_Time"] = now.isoformat()
    rows.set_modified(rows[rid], now)


def cancel_deal(cluster: SandboxCluster, name: str, on: date) -> None:
    """Move a served Zoho deal to Closed Lost. Its ``Modified_Time`` (the cancellation date the
    engine measures clawback windows from) is ``on``, so the figures do not depend on the day the
    test runs; the sandbox lists it as modified now, so the next run reads it."""
    rows = cluster.zoho._rows["Deals"]
    [rid] = [rid for rid in rows.ids() if rows[rid].pin().get("Deal_Name") == name]
    record = rows[rid].pin()
    record["Stage"], record["Probability"] = "Closed Lost", 0
    record["Modified_Time"] = datetime.combine(on, time(10), tzinfo=UTC).isoformat()
    rows.set_modified(rows[rid], cluster.zoho.now())


def statement_totals(home: Path, emails: dict[str, str], table: str) -> dict[tuple[str, str], Decimal]:
    """``{(label, 'YYYY-MM'): Σ commission_amount}`` of ``table`` (``marts.fct_commissions`` or
    ``finance.closed_statement_lines``) in the working warehouse, for the labelled people."""
    label_of = {e.lower(): label for label, e in emails.items()}
    sql = f"""
        select lower(r.email), strftime(c.period_month, '%Y-%m'), sum(c.commission_amount)
        from {table} as c
        join marts.dim_sales_reps as r on r.rep_id = c.rep_id
        group by all"""
    with duckdb.connect(str(home / "work" / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(sql).fetchall()
    return {(label_of[e], p): t for e, p, t in rows if e in label_of}


def statement_balances(home: Path, emails: dict[str, str]) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """``{(label, 'YYYY-MM'): (pending_balance, deficit_balance)}`` of ``marts.fct_commission_statements``
    for the labelled people: what the statements show as still to pay and still to recover."""
    label_of = {e.lower(): label for label, e in emails.items()}
    sql = """
        select lower(email), strftime(period_month, '%Y-%m'), pending_balance, deficit_balance
        from marts.fct_commission_statements"""
    with duckdb.connect(str(home / "work" / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(sql).fetchall()
    return {(label_of[e], p): (pb, db) for e, p, pb, db in rows if e in label_of}
