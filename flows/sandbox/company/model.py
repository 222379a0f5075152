"""A CRM-neutral model of a company's sales data: regions, users, accounts, deals, order-to-cash
records and activities.

The sandbox servers encode a :class:`Company` into each CRM's wire format (Zoho ids and
ISO-with-offset datetimes, Fxiaoke 24-hex ids and epoch milliseconds). Keeping the model
neutral means one generator (:mod:`flows.sandbox.company.generator`) feeds both CRMs, and the
Maven data set loads into the same model. See docs/sandbox.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
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
CURRENCY_SCALE = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "CNY": Decimal("7.2")}


@dataclass(slots=True)
class Region:
    name: str
    crm: str
    currency: str


@dataclass(slots=True)
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


@dataclass(slots=True)
class Product:
    key: int
    name: str
    series: str
    unit_price: Decimal


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
class StageChange:
    stage: str
    changed_at: datetime
    amount: Decimal | None
    probability: int


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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
