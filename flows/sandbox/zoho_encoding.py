"""Encode the CRM-neutral :class:`~flows.sandbox.company.Company` into Zoho CRM v8 record shapes.

The shapes follow ``docs/architecture.md`` ("Zoho CRM v8"), which the dbt staging models are
written against, so they are binding: 19-digit string ids, ISO-8601 datetimes carrying the org's
offset (``America/Los_Angeles``, so both ``-07:00`` and ``-08:00`` occur), date-only
``Closing_Date``, ``{name,id}`` lookups (or ``null``) and ``$``-prefixed keys a connector must
pass through untouched.

Kept apart from the HTTP server so the encoding can be tested and reused (e.g. by a data-set
loader) without starting any socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flows.sandbox.company import _CURRENCY_SCALE, Account, Company, Contact, Deal, Product, User

ORG_TZ = ZoneInfo("America/Los_Angeles")
#: A fixed org prefix, so every id is 19 digits: prefix (7) + kind (3) + key (9).
ORG_PREFIX = "5725767"
KIND_CODES = {
    "users": 1,
    "Deals": 2,
    "Accounts": 3,
    "Contacts": 4,
    "Products": 5,
    "roles": 6,
    "profiles": 7,
    "territories": 8,
    "pipelines": 9,
    "Leads": 10,
}
#: The record modules the sandbox serves (Leads exists but is empty: the company has no leads).
MODULES = ("Deals", "Accounts", "Contacts", "Products", "Leads")
ROLE_NAMES = {"director": "Regional Director", "manager": "Sales Manager", "rep": "Sales Representative"}
PROFILE_NAMES = {"director": "Administrator", "manager": "Standard", "rep": "Standard"}
PIPELINE = {"name": "Standard (Standard)", "id": None}  # id filled in by zoho_id("pipelines", 1)


def zoho_id(kind: str, key: int) -> str:
    """A deterministic 19-digit id for (kind, key); kept a string because it exceeds 2**53."""
    if not 0 <= key < 10**9:
        raise ValueError(f"key {key} out of range for a Zoho id")
    return f"{ORG_PREFIX}{KIND_CODES[kind]:03d}{key:09d}"


def zoho_datetime(ts: datetime) -> str:
    """ISO-8601 in the org time zone, second precision, with an explicit offset (never ``Z``)."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime")
    return ts.astimezone(ORG_TZ).replace(microsecond=0).isoformat()


def parse_zoho_datetime(text: str) -> datetime:
    """Parse an ``If-Modified-Since`` / record datetime; naive values are taken as org-local."""
    ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=ORG_TZ)


def money(value: Decimal | None) -> float | None:
    """Amounts as JSON numbers. A 2-decimal Decimal survives float exactly as JSON text
    (``repr`` is the shortest round-trip form), so the wire shows ``48000.5`` not ``48000.499…``."""
    return None if value is None else float(value)


def exchange_rate(currency: str) -> float:
    """Home currency (USD) per unit of ``currency``, the contract's definition of Exchange_Rate."""
    scale = _CURRENCY_SCALE.get(currency, Decimal("1"))
    return float((Decimal("1") / scale).quantize(Decimal("0.000001")))


def _local_midday(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), tzinfo=ORG_TZ).astimezone(UTC)


@dataclass
class ZohoRow:
    """A served record plus the instants the server filters and sorts on (kept as UTC datetimes)."""

    record: dict[str, Any]
    created: datetime
    modified: datetime


class ZohoEncoder:
    """Turns company objects into Zoho records; holds the lookups (users, accounts, contacts)."""

    def __init__(self, company: Company):
        self.company = company
        self.users = {u.key: u for u in company.users}
        self.accounts = {a.key: a for a in company.accounts}
        self.contacts = {c.key: c for c in company.contacts}
        self.products = {p.key: p for p in company.products}
        self.regions = [r.name for r in company.regions]
        self.pipeline = {"name": PIPELINE["name"], "id": zoho_id("pipelines", 1)}

    # --- lookups ---------------------------------------------------------------------------
    def owner(self, key: int) -> dict[str, str] | None:
        user = self.users.get(key)
        if user is None:
            return None
        return {"name": user.full_name, "id": zoho_id("users", user.key), "email": user.email}

    def user_lookup(self, key: int | None) -> dict[str, str] | None:
        user = self.users.get(key) if key is not None else None
        return {"name": user.full_name, "id": zoho_id("users", user.key)} if user else None

    def account_lookup(self, key: int | None) -> dict[str, str] | None:
        acc = self.accounts.get(key) if key is not None else None
        return {"name": acc.name, "id": zoho_id("Accounts", acc.key)} if acc else None

    def contact_lookup(self, key: int | None) -> dict[str, str] | None:
        con = self.contacts.get(key) if key is not None else None
        if con is None:
            return None
        return {"name": f"{con.first_name} {con.last_name}", "id": zoho_id("Contacts", con.key)}

    def product_lookup(self, key: int | None) -> dict[str, str] | None:
        prod = self.products.get(key) if key is not None else None
        return {"name": prod.name, "id": zoho_id("Products", prod.key)} if prod else None

    def default_owner_key(self) -> int:
        reps = [u for u in self.company.users if u.role == "rep" and u.active]
        return (reps or self.company.users)[0].key

    # --- users -----------------------------------------------------------------------------
    def user(self, user: User) -> ZohoRow:
        created = _local_midday(user.hired_on)
        modified = (
            _local_midday(user.left_on) if user.left_on else created + timedelta(days=1, minutes=user.key)
        )
        territory = {"name": user.region, "id": zoho_id("territories", self._region_index(user.region))}
        record = {
            "id": zoho_id("users", user.key),
            "first_name": user.first_name,
            "last_name": user.last_name,
            "full_name": user.full_name,
            "email": user.email,
            "status": "active" if user.active else "inactive",
            "role": {
                "name": ROLE_NAMES[user.role],
                "id": zoho_id("roles", list(ROLE_NAMES).index(user.role) + 1),
            },
            "profile": {
                "name": PROFILE_NAMES[user.role],
                "id": zoho_id("profiles", 1 if user.role == "director" else 2),
            },
            "Reporting_To": self.user_lookup(user.manager_key),
            "territories": [territory],
            "Sales_Team": user.team,
            "Date_of_Joining": user.hired_on.isoformat(),
            "Date_of_Leaving": user.left_on.isoformat() if user.left_on else None,
            "created_time": zoho_datetime(created),
            "Modified_Time": zoho_datetime(modified),
            "time_zone": "America/Los_Angeles",
            "locale": "en_US",
            "confirm": True,
            "type__s": "Regular User",
            "zuid": str(60000000 + user.key),
        }
        return ZohoRow(record, created, modified)

    def _region_index(self, region: str) -> int:
        return self.regions.index(region) + 1 if region in self.regions else 99

    # --- modules ---------------------------------------------------------------------------
    def deal(self, deal: Deal) -> ZohoRow:
        record = {
            "id": zoho_id("Deals", deal.key),
            "Deal_Name": deal.name,
            "Amount": money(deal.amount),
            "Currency": deal.currency,
            "Exchange_Rate": exchange_rate(deal.currency),
            "$currency_symbol": {"USD": "$", "EUR": "€"}.get(deal.currency, deal.currency),
            "Stage": deal.stage,
            "Probability": deal.probability,
            "Expected_Revenue": money(deal.amount * deal.probability / 100)
            if deal.amount is not None
            else None,
            "Closing_Date": deal.closing_date.isoformat() if deal.closing_date else None,
            "Pipeline": dict(self.pipeline),
            "Type": deal.deal_type,
            "Lead_Source": deal.lead_source,
            "Owner": self.owner(deal.owner_key),
            "Account_Name": self.account_lookup(deal.account_key),
            "Contact_Name": self.contact_lookup(deal.contact_key),
            "Product_Name": self.product_lookup(deal.product_key),
            "Description": None,
            "Next_Step": None,
            "Created_Time": zoho_datetime(deal.created_at),
            "Modified_Time": zoho_datetime(deal.modified_at),
            "Tag": [],
            "$approval_state": "approved",
            "$editable": True,
            "$field_states": None,
        }
        return ZohoRow(record, deal.created_at, deal.modified_at)

    def account(self, acc: Account) -> ZohoRow:
        parent = next((a for a in self.company.accounts if a.name == acc.parent_name), None)
        record = {
            "id": zoho_id("Accounts", acc.key),
            "Account_Name": acc.name,
            "Industry": acc.industry,
            "Annual_Revenue": money(acc.annual_revenue),
            "Employees": acc.employees,
            "Billing_Country": acc.country,
            "Parent_Account": self.account_lookup(parent.key) if parent else None,
            "Account_Type": "Customer",
            "Owner": self.owner(acc.owner_key),
            "Created_Time": zoho_datetime(acc.created_at),
            "Modified_Time": zoho_datetime(acc.modified_at),
            "Tag": [],
            "$approval_state": "approved",
        }
        return ZohoRow(record, acc.created_at, acc.modified_at)

    def contact(self, con: Contact) -> ZohoRow:
        record = {
            "id": zoho_id("Contacts", con.key),
            "First_Name": con.first_name,
            "Last_Name": con.last_name,
            "Full_Name": f"{con.first_name} {con.last_name}",
            "Email": con.email,
            "Account_Name": self.account_lookup(con.account_key),
            "Date_of_Birth": con.birthday.isoformat() if con.birthday else None,
            "Owner": self.owner(con.owner_key),
            "Created_Time": zoho_datetime(con.created_at),
            "Modified_Time": zoho_datetime(con.modified_at),
            "Tag": [],
            "$approval_state": "approved",
        }
        return ZohoRow(record, con.created_at, con.modified_at)

    def product(self, prod: Product) -> ZohoRow:
        created = _local_midday(self.company.as_of - timedelta(days=730))
        modified = created + timedelta(hours=prod.key)
        record = {
            "id": zoho_id("Products", prod.key),
            "Product_Name": prod.name,
            "Product_Code": f"SKU-{prod.key:04d}",
            "Product_Category": prod.series,
            "Product_Active": True,
            "Unit_Price": money(prod.unit_price),
            "Owner": self.owner(self.company.users[0].key) if self.company.users else None,
            "Created_Time": zoho_datetime(created),
            "Modified_Time": zoho_datetime(modified),
            "$approval_state": "approved",
        }
        return ZohoRow(record, created, modified)

    def module_rows(self, module: str) -> list[ZohoRow]:
        if module == "Deals":
            return [self.deal(d) for d in self.company.deals]
        if module == "Accounts":
            return [self.account(a) for a in self.company.accounts]
        if module == "Contacts":
            return [self.contact(c) for c in self.company.contacts]
        if module == "Products":
            return [self.product(p) for p in self.company.products]
        return []


# --- field metadata (GET /settings/fields) ------------------------------------------------------
_TEXT, _LOOKUP, _OWNER = ("text", "string"), ("lookup", "jsonobject"), ("ownerlookup", "jsonobject")
_DT, _DATE, _NUM = ("datetime", "string"), ("date", "string"), ("currency", "double")
FIELD_TYPES: dict[str, dict[str, tuple[str, str]]] = {
    "Deals": {
        "Deal_Name": _TEXT,
        "Amount": _NUM,
        "Currency": ("picklist", "string"),
        "Exchange_Rate": ("double", "double"),
        "Stage": ("picklist", "string"),
        "Probability": ("integer", "integer"),
        "Expected_Revenue": _NUM,
        "Closing_Date": _DATE,
        "Pipeline": ("picklist", "jsonobject"),
        "Type": ("picklist", "string"),
        "Lead_Source": ("picklist", "string"),
        "Owner": _OWNER,
        "Account_Name": _LOOKUP,
        "Contact_Name": _LOOKUP,
        "Product_Name": _LOOKUP,
        "Description": ("textarea", "string"),
        "Next_Step": _TEXT,
        "Created_Time": _DT,
        "Modified_Time": _DT,
        "Tag": ("multiselectpicklist", "jsonarray"),
        "Created_By": _OWNER,
        "Modified_By": _OWNER,
    },
    "Accounts": {
        "Account_Name": _TEXT,
        "Industry": ("picklist", "string"),
        "Annual_Revenue": _NUM,
        "Employees": ("integer", "integer"),
        "Billing_Country": _TEXT,
        "Parent_Account": _LOOKUP,
        "Account_Type": ("picklist", "string"),
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
        "Tag": ("multiselectpicklist", "jsonarray"),
        "Website": ("website", "string"),
        "Phone": ("phone", "string"),
    },
    "Contacts": {
        "First_Name": _TEXT,
        "Last_Name": _TEXT,
        "Full_Name": _TEXT,
        "Email": ("email", "string"),
        "Account_Name": _LOOKUP,
        "Date_of_Birth": _DATE,
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
        "Tag": ("multiselectpicklist", "jsonarray"),
        "Phone": ("phone", "string"),
        "Title": _TEXT,
    },
    "Products": {
        "Product_Name": _TEXT,
        "Product_Code": _TEXT,
        "Product_Category": ("picklist", "string"),
        "Product_Active": ("boolean", "boolean"),
        "Unit_Price": _NUM,
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
    },
    "Leads": {
        "First_Name": _TEXT,
        "Last_Name": _TEXT,
        "Company": _TEXT,
        "Email": ("email", "string"),
        "Lead_Status": ("picklist", "string"),
        "Owner": _OWNER,
        "Created_Time": _DT,
        "Modified_Time": _DT,
    },
}


def field_metadata(module: str, extra_custom: int = 0) -> list[dict[str, Any]]:
    """Field metadata like ``/settings/fields``. One custom field deliberately lacks ``json_type``
    (Airbyte #27422 broke on that); ``extra_custom`` adds more custom fields to push a module past
    the 50-field ``fields`` limit."""
    fields = [
        {
            "api_name": name,
            "field_label": name.replace("_", " "),
            "data_type": dt,
            "json_type": jt,
            "id": zoho_id("profiles", 100 + i),
            "custom_field": name == "Product_Name",
            "visible": True,
        }
        for i, (name, (dt, jt)) in enumerate(FIELD_TYPES.get(module, {}).items())
    ]
    fields.append(
        {
            "api_name": "Legacy_Score__c",
            "field_label": "Legacy Score",
            "data_type": "formula",
            "custom_field": True,
            "visible": True,
        }
    )
    for i in range(extra_custom):
        fields.append(
            {
                "api_name": f"Custom_Field_{i + 1}__c",
                "field_label": f"Custom {i + 1}",
                "data_type": "text",
                "json_type": "string",
                "custom_field": True,
                "visible": True,
            }
        )
    return fields
