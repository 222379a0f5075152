"""A CRM-neutral model of a company's sales data, and a seeded generator for it.

The sandbox servers encode a :class:`Company` into each CRM's wire format (Zoho ids and
ISO-with-offset datetimes, Fxiaoke 24-hex ids and epoch milliseconds). Keeping the model
neutral means one generator feeds both CRMs, and the Maven data set loads into the same model.

The company: international regions sell through Zoho CRM (USD and EUR), the China business
through Fxiaoke (CNY). Each region has a director, two teams with a manager each, and reps.
Everything is drawn from ``random.Random(seed)`` relative to ``as_of``, so the same
``(seed, reps, deals, as_of)`` always gives the same company.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

# name, probability (%), category: the stage lists each CRM's sandbox serves.
PIPELINES: dict[str, list[tuple[str, int, str]]] = {
    "zoho": [
        ("Qualification", 10, "open"),
        ("Needs Analysis", 20, "open"),
        ("Value Proposition", 40, "open"),
        ("Id. Decision Makers", 60, "open"),
        ("Proposal/Price Quote", 75, "open"),
        ("Negotiation/Review", 90, "open"),
        ("Closed Won", 100, "won"),
        ("Closed Lost", 0, "lost"),
        ("Closed Lost to Competition", 0, "lost"),
    ],
    "fxiaoke": [
        ("验证客户", 10, "open"),
        ("需求确认", 30, "open"),
        ("方案/报价", 60, "open"),
        ("谈判审核", 80, "open"),
        ("赢单", 100, "won"),
        ("输单", 0, "lost"),
    ],
}

REGIONS: list[tuple[str, str, str]] = [  # name, crm, currency
    ("North America", "zoho", "USD"),
    ("Europe", "zoho", "EUR"),
    ("China East", "fxiaoke", "CNY"),
    ("China South", "fxiaoke", "CNY"),
]

_FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Sofia",
    "Mateo",
    "Chloe",
    "Leo",
    "Hannah",
    "Felix",
    "Clara",
    "Jonas",
    "Elena",
    "Oscar",
    "Ines",
    "Marco",
]
_LAST = [
    "Walker",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Novak",
    "Jensen",
    "Garcia",
    "Silva",
    "Murphy",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Fischer",
    "Keller",
    "Brennan",
    "Costa",
    "Weber",
    "Bauer",
    "Laurent",
    "Hughes",
]
_CN_SURNAME = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭"]
_CN_GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
    "雨檬",
    "子涵",
]
_CN_PINYIN = {
    "王": "wang",
    "李": "li",
    "张": "zhang",
    "刘": "liu",
    "陈": "chen",
    "杨": "yang",
    "黄": "huang",
    "赵": "zhao",
    "吴": "wu",
    "周": "zhou",
    "徐": "xu",
    "孙": "sun",
    "马": "ma",
    "朱": "zhu",
    "胡": "hu",
    "郭": "guo",
}
_COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Oscorp",
    "Gringotts",
    "Aperture",
    "Massive",
]
_COMPANY_SUFFIX = ["Inc", "GmbH", "Ltd", "SA", "Group", "Holdings", "Systems", "Labs"]
_CN_COMPANY = [
    "华信",
    "东方",
    "长城",
    "金桥",
    "远航",
    "恒达",
    "新世纪",
    "瑞丰",
    "天成",
    "中联",
    "海纳",
    "鼎盛",
]
_CN_SUFFIX = ["科技有限公司", "贸易有限公司", "集团", "制造有限公司", "信息技术有限公司"]
_INDUSTRIES = ["Manufacturing", "Retail", "Technology", "Finance", "Healthcare", "Logistics", "Energy"]
_LEAD_SOURCES = ["Cold Call", "Advertisement", "Partner", "Web Download", "Trade Show", "Employee Referral"]

PRODUCTS: list[tuple[str, str, Decimal]] = [  # name, series, list price in USD
    ("SalesOps Cloud Starter", "Cloud", Decimal("4800.00")),
    ("SalesOps Cloud Pro", "Cloud", Decimal("18000.00")),
    ("SalesOps Cloud Enterprise", "Cloud", Decimal("60000.00")),
    ("Analytics Add-on", "Add-on", Decimal("7200.00")),
    ("Implementation Services", "Services", Decimal("25000.00")),
]
_CURRENCY_SCALE = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "CNY": Decimal("7.2")}


@dataclass
class Region:
    name: str
    crm: str
    currency: str


@dataclass
class User:
    key: int
    first_name: str
    last_name: str
    full_name: str
    email: str
    role: str  # director | manager | rep
    region: str
    team: str | None
    manager_key: int | None
    crm: str
    hired_on: date
    left_on: date | None = None
    birthday: date | None = None

    @property
    def active(self) -> bool:
        return self.left_on is None


@dataclass
class Product:
    key: int
    name: str
    series: str
    unit_price: Decimal


@dataclass
class Account:
    key: int
    name: str
    industry: str | None
    region: str
    crm: str
    owner_key: int
    created_at: datetime
    modified_at: datetime
    annual_revenue: Decimal | None = None
    employees: int | None = None
    country: str | None = None
    parent_name: str | None = None
    year_established: int | None = None
    credit_limit: Decimal | None = None  # in the account's currency; None = no limit set
    satisfaction: int | None = None  # latest customer-satisfaction score 1-5, None = never surveyed


@dataclass
class Contact:
    key: int
    account_key: int
    first_name: str
    last_name: str
    email: str
    crm: str
    owner_key: int
    created_at: datetime
    modified_at: datetime
    birthday: date | None = None


@dataclass
class StageChange:
    stage: str
    changed_at: datetime
    amount: Decimal | None
    probability: int


@dataclass
class Deal:
    key: int
    name: str
    crm: str
    account_key: int | None
    contact_key: int | None
    owner_key: int
    product_key: int | None
    amount: Decimal | None
    currency: str
    stage: str
    stage_category: str  # open | won | lost
    probability: int
    created_at: datetime
    closing_date: date | None
    modified_at: datetime
    lead_source: str | None = None
    deal_type: str = "New Business"
    #: The product as the source system spelled it, when it matches no product (Maven's "GTXPro").
    product_name: str | None = None
    history: list[StageChange] = field(default_factory=list)


@dataclass
class Lead:
    key: int
    crm: str
    first_name: str
    last_name: str
    company_name: str
    email: str
    owner_key: int
    lead_source: str
    status: str  # Not Contacted | Contacted | Qualified | Lost Lead | Converted
    created_at: datetime
    modified_at: datetime
    converted_deal_key: int | None = None


@dataclass
class SalesOrder:
    """One order per won deal; a cancelled order is the CRM's record of a deal undone (clawbacks)."""

    key: int
    crm: str
    deal_key: int
    account_key: int | None
    owner_key: int
    order_date: date
    amount: Decimal
    currency: str
    status: str  # Approved | Delivered | Cancelled
    created_at: datetime
    modified_at: datetime
    cancelled_at: datetime | None = None


@dataclass
class Invoice:
    key: int
    crm: str
    order_key: int
    account_key: int | None
    owner_key: int
    invoice_date: date
    due_date: date
    amount: Decimal
    currency: str
    status: str  # Unpaid | Partially Paid | Paid | Cancelled
    created_at: datetime
    modified_at: datetime


@dataclass
class Payment:
    key: int
    crm: str
    invoice_key: int
    account_key: int | None
    owner_key: int
    paid_on: date
    amount: Decimal
    currency: str
    created_at: datetime
    modified_at: datetime


@dataclass
class Activity:
    """A logged sales activity: a task, a call or an event (meeting), owned by a user and linked
    (each link optional, as in the CRM) to a deal or an account, and to a contact."""

    key: int
    crm: str
    kind: str  # task | call | event
    owner_key: int
    subject: str
    created_at: datetime
    modified_at: datetime
    deal_key: int | None = None
    account_key: int | None = None
    contact_key: int | None = None
    #: call start / event start; None for tasks
    start_at: datetime | None = None
    #: event end; None for tasks and calls
    end_at: datetime | None = None
    #: tasks: Not Started | In Progress | Completed | Deferred; calls: Completed | Scheduled
    status: str | None = None
    due_date: date | None = None  # tasks
    closed_at: datetime | None = None  # completed tasks
    priority: str | None = None  # tasks
    call_type: str | None = None  # Outbound | Inbound | Missed
    call_duration_s: int | None = None
    call_result: str | None = None
    all_day: bool = False  # events


@dataclass
class Company:
    name: str
    as_of: date
    regions: list[Region]
    users: list[User]
    products: list[Product]
    accounts: list[Account]
    contacts: list[Contact]
    deals: list[Deal]
    pipelines: dict[str, list[tuple[str, int, str]]] = field(default_factory=lambda: dict(PIPELINES))
    leads: list[Lead] = field(default_factory=list)
    sales_orders: list[SalesOrder] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)

    def for_crm(self, crm: str) -> Company:
        """The part of the company that lives in one CRM (users of that CRM, its accounts and deals)."""
        return Company(
            name=self.name,
            as_of=self.as_of,
            regions=[r for r in self.regions if r.crm == crm],
            users=[u for u in self.users if u.crm == crm],
            products=list(self.products),
            accounts=[a for a in self.accounts if a.crm == crm],
            contacts=[c for c in self.contacts if c.crm == crm],
            deals=[d for d in self.deals if d.crm == crm],
            pipelines={crm: self.pipelines[crm]} if crm in self.pipelines else dict(self.pipelines),
            leads=[x for x in self.leads if x.crm == crm],
            sales_orders=[x for x in self.sales_orders if x.crm == crm],
            invoices=[x for x in self.invoices if x.crm == crm],
            payments=[x for x in self.payments if x.crm == crm],
            activities=[x for x in self.activities if x.crm == crm],
        )


def _ts(day: date, rng: random.Random) -> datetime:
    """A business-hours instant on ``day`` (UTC), so modified times spread over the day."""
    return datetime.combine(day, time(1, 0), tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 10 * 3600))


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


def generate_company(
    *, seed: int = 42, reps: int = 24, deals: int = 1200, as_of: date | None = None
) -> Company:
    """Generate a deterministic company. ``reps`` are spread evenly over 4 regions x 2 teams."""
    if reps < 1 or deals < 0:
        raise ValueError("reps must be >= 1 and deals >= 0")
    rng = random.Random(seed)
    as_of = as_of or datetime.now(UTC).date()
    start = as_of - timedelta(days=548)  # 18 months of history
    horizon = datetime.combine(as_of, time(0), tzinfo=UTC) - timedelta(hours=8)
    regions = [Region(n, crm, cur) for n, crm, cur in REGIONS]
    users: list[User] = []
    used_emails: set[str] = set()

    def new_user(role: str, region: Region, team: str | None, manager_key: int | None) -> User:
        key = len(users) + 1
        if region.crm == "fxiaoke":
            surname, given = rng.choice(_CN_SURNAME), rng.choice(_CN_GIVEN)
            first, last, full = given, surname, surname + given
            local = f"{_CN_PINYIN[surname]}.{key}"
        else:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            full = f"{first} {last}"
            local = f"{first}.{last}".lower()
        email = f"{local}@salesops-demo.com"
        if email in used_emails:
            email = f"{local}{key}@salesops-demo.com"
        used_emails.add(email)
        hired = start - timedelta(days=rng.randrange(30, 900))
        user = User(
            key,
            first,
            last,
            full,
            email,
            role,
            region.name,
            team,
            manager_key,
            region.crm,
            hired,
            birthday=date(rng.randrange(1970, 1998), rng.randrange(1, 13), rng.randrange(1, 29)),
        )
        users.append(user)
        return user

    rep_users: list[User] = []
    team_slots = [(r, t) for r in regions for t in (1, 2)]
    for region in regions:
        director = new_user("director", region, None, None)
        for t in (1, 2):
            team = f"{region.name} {t}"
            manager = new_user("manager", region, team, director.key)
            n_reps = sum(1 for i in range(reps) if team_slots[i % len(team_slots)] == (region, t))
            for _ in range(n_reps):
                rep_users.append(new_user("rep", region, team, manager.key))
    # In each CRM one rep joined mid-window and one left: proration and "left" reps are real cases.
    for crm in ("zoho", "fxiaoke"):
        crm_reps = [u for u in rep_users if u.crm == crm]
        if len(crm_reps) >= 3:
            crm_reps[1].hired_on = as_of - timedelta(days=200)
            crm_reps[2].left_on = as_of - timedelta(days=90)

    products = [Product(i + 1, n, s, p) for i, (n, s, p) in enumerate(PRODUCTS)]

    accounts: list[Account] = []
    contacts: list[Contact] = []
    n_accounts = max(4, deals // 6)
    for i in range(n_accounts):
        owner = rep_users[i % len(rep_users)]
        region = next(r for r in regions if r.name == owner.region)
        if region.crm == "fxiaoke":
            name = f"{rng.choice(_CN_COMPANY)}{rng.choice(_CN_SUFFIX)}({i + 1})"
        else:
            name = f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIX)} {i + 1}"
        created = _ts(start - timedelta(days=rng.randrange(0, 365)), rng)
        acc = Account(
            key=i + 1,
            name=name,
            industry=rng.choice(_INDUSTRIES),
            region=region.name,
            crm=region.crm,
            owner_key=owner.key,
            created_at=created,
            modified_at=created + timedelta(days=rng.randrange(0, 30)),
            annual_revenue=_money(rng.uniform(1e6, 5e8)),
            employees=rng.randrange(20, 20000),
            country={"North America": "United States", "Europe": "Germany"}.get(region.name, "China"),
        )
        accounts.append(acc)
        for j in range(rng.randrange(1, 3)):
            first, last = (
                (rng.choice(_CN_GIVEN), rng.choice(_CN_SURNAME))
                if region.crm == "fxiaoke"
                else (rng.choice(_FIRST), rng.choice(_LAST))
            )
            contacts.append(
                Contact(
                    key=len(contacts) + 1,
                    account_key=acc.key,
                    first_name=first,
                    last_name=last,
                    email=f"contact{len(contacts) + 1}@customer{acc.key}.example",
                    crm=region.crm,
                    owner_key=owner.key,
                    created_at=created + timedelta(days=j),
                    modified_at=created + timedelta(days=j + 1),
                    birthday=date(rng.randrange(1960, 1995), rng.randrange(1, 13), rng.randrange(1, 29)),
                )
            )

    accounts_by_owner: dict[int, list[Account]] = {}
    for acc in accounts:
        accounts_by_owner.setdefault(acc.owner_key, []).append(acc)
    contacts_by_account: dict[int, list[Contact]] = {}
    for con in contacts:
        contacts_by_account.setdefault(con.account_key, []).append(con)

    deal_list: list[Deal] = []
    window_days = (as_of - start).days
    for k in range(deals):
        owner = rep_users[rng.randrange(len(rep_users))]
        region = next(r for r in regions if r.name == owner.region)
        pipeline = PIPELINES[region.crm]
        open_stages = [s for s in pipeline if s[2] == "open"]
        won = next(s for s in pipeline if s[2] == "won")
        lost = [s for s in pipeline if s[2] == "lost"]
        hired_from = max(start, owner.hired_on)
        active_until = min(as_of, owner.left_on) if owner.left_on else as_of
        span = max(1, (active_until - hired_from).days)
        created = min(
            _ts(hired_from + timedelta(days=rng.randrange(span)), rng), horizon - timedelta(hours=1)
        )
        age = (as_of - created.date()).days
        roll = rng.random()
        # Older deals are mostly closed; recent ones mostly open.
        p_closed = min(0.95, 0.15 + age / window_days)
        if roll < p_closed * 0.55 or (owner.left_on and roll < 0.6):
            final = won
        elif roll < p_closed:
            final = rng.choice(lost)
        else:
            final = rng.choice(open_stages)
        acc_pool = accounts_by_owner.get(owner.key) or accounts
        account = rng.choice(acc_pool) if rng.random() > 0.04 else None  # a few deals with no account
        contact = rng.choice(contacts_by_account[account.key]) if account and rng.random() > 0.2 else None
        product = rng.choice(products)
        scale = _CURRENCY_SCALE[region.currency]
        amount = _money(float(product.unit_price * scale) * rng.uniform(0.6, 3.0))
        # Walk the stages up to the final one, recording the history.
        history: list[StageChange] = []
        at = created
        target_idx = (
            open_stages.index(final) if final[2] == "open" else rng.randrange(1, len(open_stages) + 1)
        )
        for stage in open_stages[: max(1, target_idx + (1 if final[2] == "open" else 0))]:
            history.append(StageChange(stage[0], at, amount, stage[1]))
            at = at + timedelta(days=rng.randrange(3, 25), seconds=rng.randrange(3600 * 8))
        # Nothing happens after the generator's "now": midnight of as_of in UTC+8 (always past).
        limit = min(datetime.combine(active_until, time(12), tzinfo=UTC), horizon)
        if final[2] != "open":
            history.append(StageChange(final[0], max(at, history[-1].changed_at), amount, final[1]))
        history = [
            h if h.changed_at <= limit else StageChange(h.stage, limit, h.amount, h.probability)
            for h in history
        ]
        last_change = history[-1].changed_at
        if final[2] != "open":
            closing_date = last_change.date()
        else:
            # Expected close dates: some already slipped, some this month, most ahead (115 values,
            # the same draw as before so every later deal stays as it was).
            closing_date = as_of + timedelta(days=rng.randrange(-25, 90))
        modified = min(last_change + timedelta(hours=rng.randrange(0, 48)), horizon)
        name = f"{account.name if account else 'Unassigned'} – {product.name}"
        deal_list.append(
            Deal(
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
                lead_source=rng.choice(_LEAD_SOURCES),
                history=history,
            )
        )
    company = Company("SalesOps Demo Co.", as_of, regions, users, products, accounts, contacts, deal_list)
    # Leads, orders, invoices and payments draw from their own stream, so adding them left every
    # user, account and deal above exactly as it was for a given seed.
    _add_order_to_cash(company, random.Random(seed * 7919 + 1), horizon)
    # Activities too: their own stream, so nothing above changes for a given seed.
    _add_activities(company, random.Random(seed * 104729 + 3), horizon)
    return company


_LEAD_STATUSES = ["Not Contacted", "Contacted", "Qualified", "Lost Lead"]


def _add_order_to_cash(company: Company, rng: random.Random, horizon: datetime) -> None:
    """Leads before the deals; for each won deal an order, an invoice and its payments.

    Payment behaviour differs by account so that receivables ageing and risk have something to
    find: most accounts pay within terms, some late, a few partly or not at all; a few orders
    are cancelled after the win (the CRM side of a commission clawback).
    """
    as_of = company.as_of
    users = {u.key: u for u in company.users}
    for acc in company.accounts:
        acc.credit_limit = _money(
            rng.uniform(50_000, 400_000) * float(_CURRENCY_SCALE[_region_currency(company, acc.region)])
        )
        acc.satisfaction = rng.choice([None, 2, 3, 4, 4, 5, 5])
    payer_kind = {
        acc.key: rng.choices(["prompt", "late", "partial", "defaulter"], [70, 18, 8, 4])[0]
        for acc in company.accounts
    }
    accounts = {a.key: a for a in company.accounts}
    for deal in company.deals:
        if rng.random() < 0.5:
            owner = users[deal.owner_key]
            created = deal.created_at - timedelta(days=rng.randrange(1, 30))
            name = accounts[deal.account_key].name if deal.account_key else "Prospect"
            company.leads.append(
                Lead(
                    key=len(company.leads) + 1,
                    crm=deal.crm,
                    first_name=owner.first_name[:1] + "lead",
                    last_name=f"{len(company.leads) + 1}",
                    company_name=name,
                    email=f"lead{len(company.leads) + 1}@prospect.example",
                    owner_key=deal.owner_key,
                    lead_source=deal.lead_source or "Web Download",
                    status="Converted",
                    created_at=created,
                    modified_at=deal.created_at,
                    converted_deal_key=deal.key,
                )
            )
    for i in range(len(company.deals) // 3):
        deal = company.deals[rng.randrange(len(company.deals))]
        created = min(_ts(as_of - timedelta(days=rng.randrange(1, 540)), rng), horizon - timedelta(hours=2))
        company.leads.append(
            Lead(
                key=len(company.leads) + 1,
                crm=deal.crm,
                first_name="Open",
                last_name=f"Lead {i + 1}",
                company_name=f"Prospect {i + 1}",
                email=f"prospect{i + 1}@prospect.example",
                owner_key=deal.owner_key,
                lead_source=rng.choice(_LEAD_SOURCES),
                status=rng.choice(_LEAD_STATUSES),
                created_at=created,
                modified_at=min(created + timedelta(days=rng.randrange(0, 20)), horizon),
            )
        )
    for deal in company.deals:
        if deal.stage_category != "won" or deal.amount is None or deal.closing_date is None:
            continue
        won_at = deal.history[-1].changed_at
        cancelled = rng.random() < 0.03 and (horizon - won_at).days > 20
        cancelled_at = won_at + timedelta(days=rng.randrange(5, 20)) if cancelled else None
        order = SalesOrder(
            key=len(company.sales_orders) + 1,
            crm=deal.crm,
            deal_key=deal.key,
            account_key=deal.account_key,
            owner_key=deal.owner_key,
            order_date=deal.closing_date,
            amount=deal.amount,
            currency=deal.currency,
            status="Cancelled"
            if cancelled
            else ("Delivered" if (horizon - won_at).days > 30 else "Approved"),
            created_at=won_at,
            modified_at=cancelled_at or won_at,
            cancelled_at=cancelled_at,
        )
        company.sales_orders.append(order)
        invoice_date = deal.closing_date + timedelta(days=rng.randrange(0, 6))
        invoiced_at = datetime.combine(invoice_date, won_at.timetz())
        if invoiced_at > horizon:
            continue
        invoice = Invoice(
            key=len(company.invoices) + 1,
            crm=deal.crm,
            order_key=order.key,
            account_key=deal.account_key,
            owner_key=deal.owner_key,
            invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=rng.choice([30, 30, 45, 60])),
            amount=deal.amount,
            currency=deal.currency,
            status="Unpaid",
            created_at=invoiced_at,
            modified_at=invoiced_at,
        )
        company.invoices.append(invoice)
        if cancelled:
            invoice.status, invoice.modified_at = "Cancelled", max(invoiced_at, cancelled_at)  # type: ignore[arg-type]
            continue
        kind = payer_kind.get(deal.account_key, "prompt") if deal.account_key else "prompt"
        delay = {
            "prompt": rng.randrange(5, 35),
            "late": rng.randrange(40, 120),
            "partial": rng.randrange(20, 90),
            "defaulter": 10_000,
        }[kind]
        share = Decimal("0.5") if kind == "partial" else Decimal("1")
        paid_on = invoice_date + timedelta(days=delay)
        paid_at = datetime.combine(paid_on, time(3), tzinfo=UTC)
        if paid_at > horizon:
            continue
        amount = (invoice.amount * share).quantize(Decimal("0.01"))
        company.payments.append(
            Payment(
                key=len(company.payments) + 1,
                crm=deal.crm,
                invoice_key=invoice.key,
                account_key=deal.account_key,
                owner_key=deal.owner_key,
                paid_on=paid_on,
                amount=amount,
                currency=deal.currency,
                created_at=paid_at,
                modified_at=paid_at,
            )
        )
        invoice.status = "Paid" if share == 1 else "Partially Paid"
        invoice.modified_at = paid_at


def _region_currency(company: Company, region: str) -> str:
    return next(r.currency for r in company.regions if r.name == region)


# --- records a sandbox creates "now" (its admin simulate) ----------------------------------------------


def simulated_lead(company: Company, key: int, rng: random.Random, at: datetime) -> Lead:
    """A new, not yet contacted lead: a person at a prospect company, owned by an active rep."""
    owners = [u for u in company.users if u.role == "rep" and u.active] or company.users
    if not owners:
        raise ValueError("no users to own a new lead")
    owner = rng.choice(owners)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return Lead(
        key=key,
        crm=owner.crm,
        first_name=first,
        last_name=last,
        company_name=f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIX)}",
        email=f"{first}.{last}.{key}@prospect.example".lower(),
        owner_key=owner.key,
        lead_source=rng.choice(_LEAD_SOURCES),
        status="Not Contacted",
        created_at=at,
        modified_at=at,
    )


def simulated_sales_order(company: Company, key: int, rng: random.Random, at: datetime) -> SalesOrder:
    """A new order for a won deal (any deal with an amount when none is won): the deal's account,
    owner, amount and currency, ordered today."""
    priced = [d for d in company.deals if d.amount is not None]
    deal = rng.choice([d for d in priced if d.stage_category == "won"] or priced or [None])
    if deal is None:
        raise ValueError("no deal with an amount to order")
    return SalesOrder(
        key=key,
        crm=deal.crm,
        deal_key=deal.key,
        account_key=deal.account_key,
        owner_key=deal.owner_key,
        order_date=at.date(),
        amount=deal.amount,  # type: ignore[arg-type]
        currency=deal.currency,
        status="Approved",
        created_at=at,
        modified_at=at,
    )


def simulated_invoice(company: Company, key: int, rng: random.Random, at: datetime) -> Invoice:
    """A new unpaid invoice for an order that is not cancelled, dated today with usual terms."""
    orders = [o for o in company.sales_orders if o.status != "Cancelled"] or [None]
    order = rng.choice(orders)
    if order is None:
        raise ValueError("no sales order to invoice")
    return Invoice(
        key=key,
        crm=order.crm,
        order_key=order.key,
        account_key=order.account_key,
        owner_key=order.owner_key,
        invoice_date=at.date(),
        due_date=at.date() + timedelta(days=rng.choice([30, 30, 45, 60])),
        amount=order.amount,
        currency=order.currency,
        status="Unpaid",
        created_at=at,
        modified_at=at,
    )


def simulated_activity(company: Company, kind: str, key: int, rng: random.Random, at: datetime) -> Activity:
    """A task, call or event (``kind``) logged now by an active Zoho rep about one of their open
    deals (any of their deals when none is open): completed, so the scorecard counts it."""
    owners = [u for u in company.users if u.crm == "zoho" and u.role == "rep" and u.active]
    if not owners:
        raise ValueError("no active Zoho rep to log an activity")
    owner = rng.choice(owners)
    theirs = [d for d in company.deals if d.owner_key == owner.key]
    deal = rng.choice([d for d in theirs if d.stage_category == "open"] or theirs or [None])
    act = Activity(
        key=key,
        crm="zoho",
        kind=kind,
        owner_key=owner.key,
        subject=rng.choice({"task": _TASK_SUBJECTS, "call": _CALL_SUBJECTS}.get(kind, _EVENT_SUBJECTS)),
        created_at=at,
        modified_at=at,
        deal_key=deal.key if deal else None,
        account_key=deal.account_key if deal else None,
        contact_key=deal.contact_key if deal else None,
        status="Completed" if kind in ("task", "call") else None,
    )
    if kind == "task":
        act.due_date, act.closed_at, act.priority = at.date(), at, "Normal"
    elif kind == "call":
        act.call_type, act.start_at, act.call_duration_s = "Outbound", at, rng.randrange(60, 1800)
    else:
        act.start_at, act.end_at = at - timedelta(hours=1), at
    return act


_TASK_SUBJECTS = [
    "Send proposal",
    "Prepare quote",
    "Follow up on demo",
    "Update account plan",
    "Send contract",
]
_CALL_SUBJECTS = ["Discovery call", "Follow-up call", "Pricing call", "Check-in call"]
_EVENT_SUBJECTS = ["Product demo", "On-site meeting", "Quarterly business review", "Kick-off meeting"]
_CALL_RESULTS = ["Interested", "Left voicemail", "Requested more info", "Not interested", None]


def _add_activities(company: Company, rng: random.Random, horizon: datetime) -> None:
    """Tasks, calls and events per rep, mostly about a deal while it was open (``What_Id`` =
    the deal, ``Who_Id`` = its contact), some about an account only, a few about nothing.

    Everything logged happens before the generator's "now" (``horizon``); a few tasks are still
    open with due dates ahead, a few calls are scheduled. Only the Zoho sandbox serves them
    (the Fxiaoke sandbox has no activity object).
    """
    users = {u.key: u for u in company.users}
    contacts_by_account: dict[int, list[Contact]] = {}
    for con in company.contacts:
        contacts_by_account.setdefault(con.account_key, []).append(con)

    def add(kind: str, owner_key: int, at: datetime, deal: Deal | None, account_key: int | None) -> None:
        at = min(at, horizon - timedelta(minutes=5))
        left_on = users[owner_key].left_on
        if left_on is not None and at.date() > left_on:
            return  # nobody logs activities for a rep who has left
        contact_key = deal.contact_key if deal else None
        if contact_key is None and account_key is not None and rng.random() < 0.5:
            pool = contacts_by_account.get(account_key)
            contact_key = rng.choice(pool).key if pool else None
        act = Activity(
            key=len(company.activities) + 1,
            crm=users[owner_key].crm,
            kind=kind,
            owner_key=owner_key,
            subject="",
            created_at=at,
            modified_at=at,
            deal_key=deal.key if deal else None,
            account_key=account_key,
            contact_key=contact_key,
        )
        if kind == "task":
            act.subject = rng.choice(_TASK_SUBJECTS)
            act.created_at = at - timedelta(days=rng.randrange(0, 5), minutes=rng.randrange(600))
            act.due_date = (at + timedelta(days=rng.randrange(0, 7))).date()
            act.priority = rng.choice(["High", "Normal", "Normal", "Low", None])
            roll = rng.random()
            if ((horizon - at).days > 7 and roll < 0.85) or roll < 0.4:
                act.status, act.closed_at = "Completed", at
                act.modified_at = at
            else:
                act.status = rng.choice(["Not Started", "In Progress", "Deferred"])
                act.modified_at = act.created_at + timedelta(hours=rng.randrange(0, 24))
        elif kind == "call":
            act.subject = rng.choice(_CALL_SUBJECTS)
            act.call_type = rng.choices(["Outbound", "Inbound", "Missed"], [70, 25, 5])[0]
            act.start_at = at
            if rng.random() < 0.05 and (horizon - at).days < 20:
                # scheduled ahead, logged now: no duration yet
                act.status, act.start_at = "Scheduled", horizon + timedelta(days=rng.randrange(1, 10))
                act.created_at = act.modified_at = at
            else:
                act.status = "Completed"
                missed = act.call_type == "Missed"
                act.call_duration_s = 0 if missed else rng.randrange(60, 3600)
                act.call_result = None if missed else rng.choice(_CALL_RESULTS)
                act.modified_at = at + timedelta(seconds=(act.call_duration_s or 0) + 60)
        else:
            act.subject = rng.choice(_EVENT_SUBJECTS)
            act.all_day = rng.random() < 0.05
            start = at.replace(minute=0, second=0)
            act.start_at = start
            act.end_at = start + timedelta(minutes=rng.choice([30, 60, 60, 90, 120]))
            act.created_at = start - timedelta(days=rng.randrange(1, 10))
            act.modified_at = act.created_at + timedelta(hours=rng.randrange(1, 48))
        act.modified_at = min(max(act.modified_at, act.created_at), horizon - timedelta(minutes=1))
        company.activities.append(act)

    kinds, weights = ["task", "call", "event"], [40, 40, 20]
    for deal in company.deals:
        if not deal.history:
            continue
        start = deal.created_at
        end = deal.history[-1].changed_at if deal.stage_category != "open" else horizon
        span = max(1, int((end - start).total_seconds()))
        for _ in range(rng.randrange(0, 5)):
            at = start + timedelta(seconds=rng.randrange(span))
            add(rng.choices(kinds, weights)[0], deal.owner_key, at, deal, deal.account_key)
    # Account-only activities (account maintenance) and a few linked to nothing.
    for acc in company.accounts:
        for _ in range(rng.randrange(0, 3)):
            at = _ts(company.as_of - timedelta(days=rng.randrange(1, 540)), rng)
            if at < acc.created_at:
                continue
            add(rng.choices(kinds, weights)[0], acc.owner_key, at, None, acc.key)
    reps = [u for u in company.users if u.role == "rep"]
    for _ in range(len(reps) * 2):
        rep = rng.choice(reps)
        at = _ts(company.as_of - timedelta(days=rng.randrange(1, 365)), rng)
        add("task", rep.key, at, None, None)
