"""The Maven CRM Sales Opportunities data set as a :class:`Company` the Zoho sandbox serves.

The files in ``datasets/maven_crm`` are kept exactly as published; their quirks reach the
pipeline unchanged so the data checks can see them:

* product "GTXPro" in the pipeline does not match "GTX Pro" in products.csv: such deals keep the
  name as written and have no product id;
* sector "technolgy" is misspelt in accounts.csv and stays misspelt;
* open deals (Prospecting, Engaging) have no close date or value, and many have no account;
* five agents in sales_teams.csv have no opportunities.

What the data set does not have and a CRM always has is filled in, and documented here:
users get e-mail addresses ``first.last@maven-crm.example``; Prospecting deals, which have no
dates at all, get the export's snapshot time (2017-12-31 23:59 UTC) as creation time; an
account's owner is the agent with most opportunities on it (the first manager when none).
Regional offices become regions and managers' teams become teams.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from pathlib import Path

from flows.sandbox.company.model import Account, Company, Deal, Product, Region, StageChange, User

SNAPSHOT = datetime(2017, 12, 31, 23, 59, tzinfo=UTC)
MAVEN_PIPELINE: list[tuple[str, int, str]] = [
    ("Prospecting", 10, "open"),
    ("Engaging", 40, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
]


def maven_dir() -> Path:
    return Path(str(resources.files("flows.sandbox") / "datasets" / "maven_crm"))


def _rows(name: str) -> list[dict[str, str]]:
    with (maven_dir() / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _email(full_name: str) -> str:
    return ".".join(full_name.lower().replace("-", "").split()) + "@maven-crm.example"


def _day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def _at(day: date | None) -> datetime | None:
    return datetime.combine(day, time(9), tzinfo=UTC) if day else None


def load_maven_company() -> Company:
    teams = _rows("sales_teams.csv")
    pipeline = _rows("sales_pipeline.csv")
    users, by_name = _users(teams)
    products = [
        Product(i + 1, r["product"], r["series"], Decimal(r["sales_price"]))
        for i, r in enumerate(_rows("products.csv"))
    ]
    accounts = _accounts(pipeline, users, by_name)
    deals = _deals(pipeline, by_name, {p.name: p for p in products}, {a.name: a for a in accounts})
    regions = [Region(office, "zoho", "USD") for office in sorted({t["regional_office"] for t in teams})]
    return Company(
        "Maven CRM (public data set)",
        SNAPSHOT.date(),
        regions,
        users,
        products,
        accounts,
        [],
        deals,
        pipelines={"zoho": MAVEN_PIPELINE},
    )


def _users(teams: list[dict[str, str]]) -> tuple[list[User], dict[str, User]]:
    """Managers first (sorted), then the agents in file order; the second value is by full name."""
    hired = date(2016, 1, 1)
    users: list[User] = []
    by_name: dict[str, User] = {}
    for manager in sorted({t["manager"] for t in teams}):
        office = next(t["regional_office"] for t in teams if t["manager"] == manager)
        first, _, last = manager.partition(" ")
        user = User(
            len(users) + 1,
            first,
            last,
            manager,
            _email(manager),
            "manager",
            office,
            manager,
            None,
            "zoho",
            hired,
        )
        users.append(user)
        by_name[manager] = user
    for t in teams:
        first, _, last = t["sales_agent"].partition(" ")
        user = User(
            len(users) + 1,
            first,
            last,
            t["sales_agent"],
            _email(t["sales_agent"]),
            "rep",
            t["regional_office"],
            t["manager"],
            by_name[t["manager"]].key,
            "zoho",
            hired,
        )
        users.append(user)
        by_name[t["sales_agent"]] = user
    return users, by_name


def _accounts(pipeline: list[dict[str, str]], users: list[User], by_name: dict[str, User]) -> list[Account]:
    """accounts.csv; each owned by the agent with most opportunities on it (first manager if none)."""
    deals_per_owner = Counter((r["account"], r["sales_agent"]) for r in pipeline if r["account"])
    accounts: list[Account] = []
    for i, r in enumerate(_rows("accounts.csv")):
        agents = [(n, agent) for (acc, agent), n in deals_per_owner.items() if acc == r["account"]]
        owner = by_name[max(agents)[1]] if agents else users[0]
        accounts.append(
            Account(
                key=i + 1,
                name=r["account"],
                industry=r["sector"] or None,
                region=owner.region,
                crm="zoho",
                owner_key=owner.key,
                created_at=datetime(2016, 1, 1, tzinfo=UTC),
                modified_at=datetime(2016, 1, 1, tzinfo=UTC),
                annual_revenue=(Decimal(r["revenue"]) * 1_000_000).quantize(Decimal("0.01"))
                if r["revenue"]
                else None,
                employees=int(r["employees"]) if r["employees"] else None,
                country=r["office_location"] or None,
                parent_name=r["subsidiary_of"] or None,
                year_established=int(r["year_established"]) if r["year_established"] else None,
            )
        )
    return accounts


def _deals(
    pipeline: list[dict[str, str]],
    by_name: dict[str, User],
    product_by_name: dict[str, Product],
    account_by_name: dict[str, Account],
) -> list[Deal]:
    stage_info = {name: (prob, cat) for name, prob, cat in MAVEN_PIPELINE}
    deals: list[Deal] = []
    for k, r in enumerate(pipeline):
        prob, category = stage_info[r["deal_stage"]]
        engaged, closed = _day(r["engage_date"]), _day(r["close_date"])
        created = _at(engaged) or SNAPSHOT
        modified = _at(closed) or created
        product = product_by_name.get(r["product"])
        account = account_by_name.get(r["account"]) if r["account"] else None
        amount = Decimal(r["close_value"]).quantize(Decimal("0.01")) if r["close_value"] else None
        # The data set records when a deal was engaged and closed; that is its stage history.
        history = [
            StageChange(
                r["deal_stage"] if not engaged else "Engaging",
                created,
                amount,
                prob if not engaged else stage_info["Engaging"][0],
            )
        ]
        if closed:
            history.append(StageChange(r["deal_stage"], modified, amount, prob))
        deals.append(
            Deal(
                key=k + 1,
                name=r["opportunity_id"],
                crm="zoho",
                account_key=account.key if account else None,
                contact_key=None,
                owner_key=by_name[r["sales_agent"]].key,
                product_key=product.key if product else None,
                amount=amount,
                currency="USD",
                stage=r["deal_stage"],
                stage_category=category,
                probability=prob,
                created_at=created,
                closing_date=closed,
                modified_at=modified,
                history=history,
                product_name=None if product else r["product"],
            )
        )
    return deals
