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
credited amount is the deal amount.
"""

from __future__ import annotations

import csv
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
from flows.sandbox.company.model import Company, Deal

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 4, 6)
#: North America (Zoho, USD) of ``generate_company(seed=5, reps=16)``: two teams of two reps,
#: their managers and the region's director. Labels used by the cases.
PEOPLE_SEED, PEOPLE_REPS = 5, 16


@dataclass(frozen=True)
class CaseDeal:
    name: str  # unique over all cases: the Zoho Deal_Name, how the test finds it again
    owner: str  # person label
    amount: Decimal
    closed_on: date


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
    #: every case person's monthly target (the gate wants one for everyone paid, and attainment
    #: below 50x; the generated company's targets are sized for its own, random, deals)
    monthly_target: Decimal = Decimal("100000")


def people(company: Company) -> dict[str, int]:
    """Person labels -> user keys: ``dir`` the director; ``m1``/``m2`` the managers of teams 1/2;
    ``a1``, ``a2`` (team 1) and ``b1``, ``b2`` (team 2) their reps."""
    na = [u for u in company.users if u.region == "North America"]
    out = {"dir": next(u.key for u in na if u.role == "director")}
    for label, team in (("a", "North America 1"), ("b", "North America 2")):
        out[f"m{1 if label == 'a' else 2}"] = next(
            u.key for u in na if u.role == "manager" and u.team == team
        )
        reps = sorted(u.key for u in na if u.role == "rep" and u.team == team)
        assert len(reps) >= 2, f"the company needs two reps in {team}"
        out[f"{label}1"], out[f"{label}2"] = reps[0], reps[1]
    return out


def build_company(cases: list[PlanCase]) -> tuple[Company, dict[str, str]]:
    """The company with each case's hierarchy edits and deals; returns it and label -> email."""
    company = generate_company(seed=PEOPLE_SEED, reps=PEOPLE_REPS, deals=0, as_of=AS_OF)
    keys = people(company)
    users = {u.key: u for u in company.users}
    for case in cases:
        for label, manager in case.managers.items():
            users[keys[label]].manager_key = keys[manager] if manager else None
        for label in case.assign:  # the generator lets one rep leave in January: not a case's people
            users[keys[label]].left_on = None
        for d in case.deals:
            company.deals.append(_won_deal(len(company.deals) + 1, d, keys[d.owner]))
    return company, {label: users[k].email for label, k in keys.items()}


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
