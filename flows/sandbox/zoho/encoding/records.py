"""Encode the CRM-neutral :class:`~flows.sandbox.company.model.Company` into Zoho CRM v8 records.

The shapes follow ``docs/architecture.md`` ("Zoho CRM v8"), which the dbt staging models are
written against, so they are binding. Kept apart from the HTTP server so the encoding can be
tested and reused without starting any socket. Module by module notes: docs/sandbox.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flows.sandbox.company.model import (
    Account,
    Activity,
    Company,
    Contact,
    Deal,
    Invoice,
    Lead,
    Product,
    SalesOrder,
    User,
)
from flows.sandbox.zoho.encoding.wire import (
    ACTIVITY_MODULES,
    ORG_TZ,
    PIPELINE,
    ZohoRow,
    exchange_rate,
    money,
    zoho_datetime,
    zoho_id,
)

ROLE_NAMES = {"director": "Regional Director", "manager": "Sales Manager", "rep": "Sales Representative"}
PROFILE_NAMES = {"director": "Administrator", "manager": "Standard", "rep": "Standard"}


class ZohoEncoder:
    """Turns company objects into Zoho records; holds the lookups (users, accounts, contacts)."""

    def __init__(self, company: Company, tz: ZoneInfo = ORG_TZ):
        self.company = company
        self.tz = tz
        self.users = {u.key: u for u in company.users}
        self.deals = {d.key: d for d in company.deals}
        self.orders = {o.key: o for o in company.sales_orders}
        self.accounts = {a.key: a for a in company.accounts}
        self.contacts = {c.key: c for c in company.contacts}
        self.products = {p.key: p for p in company.products}
        self.regions = [r.name for r in company.regions]
        self.pipeline = {"name": PIPELINE["name"], "id": zoho_id("pipelines", 1)}
        paid: dict[int, list] = {}
        for pay in company.payments:
            paid.setdefault(pay.invoice_key, []).append(pay)
        self.payments_by_invoice = paid

    def dt(self, ts: datetime) -> str:
        """A datetime in the org's offset (``-07:00``/``-08:00`` by default, ``+05:30`` in India)."""
        return zoho_datetime(ts, self.tz)

    def _midday(self, day: date) -> datetime:
        return datetime.combine(day, time(9, 30), tzinfo=self.tz).astimezone(UTC)

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

    @staticmethod
    def unmatched_product(deal: Deal) -> dict[str, str | None] | None:
        """A product name that matches no product (Maven's "GTXPro"), as an imported CRM keeps it:
        the name, with no record behind it. Kept so the data checks can see the mismatch."""
        return {"name": deal.product_name, "id": None} if deal.product_name else None

    def deal_lookup(self, key: int | None) -> dict[str, str] | None:
        deal = self.deals.get(key) if key is not None else None
        return {"name": deal.name, "id": zoho_id("Deals", deal.key)} if deal else None

    def order_lookup(self, key: int | None) -> dict[str, str] | None:
        order = self.orders.get(key) if key is not None else None
        return {"name": order_subject(order), "id": zoho_id("Sales_Orders", order.key)} if order else None

    def default_owner_key(self) -> int:
        reps = [u for u in self.company.users if u.role == "rep" and u.active]
        return (reps or self.company.users)[0].key

    # --- users -----------------------------------------------------------------------------
    def user(self, user: User) -> ZohoRow:
        created = self._midday(user.hired_on)
        modified = (
            self._midday(user.left_on) if user.left_on else created + timedelta(days=1, minutes=user.key)
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
            "created_time": self.dt(created),
            "Modified_Time": self.dt(modified),
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
            "Product_Name": self.product_lookup(deal.product_key) or self.unmatched_product(deal),
            "Description": deal_description(deal),
            "Next_Step": None,
            "Created_Time": self.dt(deal.created_at),
            "Modified_Time": self.dt(deal.modified_at),
            "Tag": [],
            "$approval_state": "approved",
            "$editable": True,
            "$field_states": None,
        }
        return ZohoRow(record, deal.created_at, deal.modified_at)

    def account(self, acc: Account) -> ZohoRow:
        parent = (  # only Maven accounts name a parent: no scan of a generated company's accounts
            next((a for a in self.company.accounts if a.name == acc.parent_name), None)
            if acc.parent_name is not None
            else None
        )
        record = {
            "id": zoho_id("Accounts", acc.key),
            "Account_Name": acc.name,
            "Industry": acc.industry,
            "Annual_Revenue": money(acc.annual_revenue),
            "Employees": acc.employees,
            "Billing_Country": acc.country,
            "Parent_Account": self.account_lookup(parent.key) if parent else None,
            "Account_Type": "Customer",
            "Credit_Limit": money(acc.credit_limit),
            "Customer_Satisfaction": acc.satisfaction,
            "Owner": self.owner(acc.owner_key),
            "Created_Time": self.dt(acc.created_at),
            "Modified_Time": self.dt(acc.modified_at),
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
            "Created_Time": self.dt(con.created_at),
            "Modified_Time": self.dt(con.modified_at),
            "Tag": [],
            "$approval_state": "approved",
        }
        return ZohoRow(record, con.created_at, con.modified_at)

    def product(self, prod: Product) -> ZohoRow:
        created = self._midday(self.company.as_of - timedelta(days=730))
        modified = created + timedelta(hours=prod.key)
        record = {
            "id": zoho_id("Products", prod.key),
            "Product_Name": prod.name,
            "Product_Code": f"SKU-{prod.key:04d}",
            "Product_Category": prod.series,
            "Product_Active": True,
            "Unit_Price": money(prod.unit_price),
            "Owner": self.owner(self.company.users[0].key) if self.company.users else None,
            "Created_Time": self.dt(created),
            "Modified_Time": self.dt(modified),
            "$approval_state": "approved",
        }
        return ZohoRow(record, created, modified)

    def lead(self, lead: Lead) -> ZohoRow:
        deal = self.deals.get(lead.converted_deal_key) if lead.converted_deal_key else None
        converted = deal is not None
        record = {
            "id": zoho_id("Leads", lead.key),
            "First_Name": lead.first_name,
            "Last_Name": lead.last_name,
            "Full_Name": f"{lead.first_name} {lead.last_name}",
            "Company": lead.company_name,
            "Email": lead.email,
            "Lead_Source": lead.lead_source,
            "Lead_Status": lead.status,
            "Owner": self.owner(lead.owner_key),
            "Converted__s": converted,
            "Converted_Date_Time": self.dt(lead.modified_at) if converted else None,
            "Converted_Deal": self.deal_lookup(deal.key) if deal else None,
            "Converted_Account": self.account_lookup(deal.account_key) if deal else None,
            "Converted_Contact": self.contact_lookup(deal.contact_key) if deal else None,
            "Created_Time": self.dt(lead.created_at),
            "Modified_Time": self.dt(lead.modified_at),
            "Tag": [],
            "$converted": converted,
            "$approval_state": "approved",
        }
        return ZohoRow(record, lead.created_at, lead.modified_at, self.lead_tag(lead))

    def sales_order(self, order: SalesOrder) -> ZohoRow:
        deal = self.deals.get(order.deal_key)
        record = {
            "id": zoho_id("Sales_Orders", order.key),
            "Subject": order_subject(order),
            "SO_Number": f"SO-{order.key:06d}",
            "Deal_Name": self.deal_lookup(order.deal_key),
            "Account_Name": self.account_lookup(order.account_key),
            "Contact_Name": self.contact_lookup(deal.contact_key) if deal else None,
            "Status": order.status,
            "Order_Date": order.order_date.isoformat(),
            "Due_Date": (order.order_date + timedelta(days=30)).isoformat(),
            "Sub_Total": money(order.amount),
            "Grand_Total": money(order.amount),
            "Currency": order.currency,
            "Exchange_Rate": exchange_rate(order.currency),
            "Owner": self.owner(order.owner_key),
            "Created_Time": self.dt(order.created_at),
            "Modified_Time": self.dt(order.modified_at),
            "$approval_state": "approved",
        }
        return ZohoRow(record, order.created_at, order.modified_at)

    def invoice(self, inv: Invoice) -> ZohoRow:
        payments = self.payments_by_invoice.get(inv.key, [])
        paid = sum((p.amount for p in payments), Decimal("0"))
        record = {
            "id": zoho_id("Invoices", inv.key),
            "Subject": f"Invoice {inv.key:06d}",
            "Invoice_Number": f"INV-{inv.key:06d}",
            "Invoice_Date": inv.invoice_date.isoformat(),
            "Due_Date": inv.due_date.isoformat(),
            "Sales_Order": self.order_lookup(inv.order_key),
            "Account_Name": self.account_lookup(inv.account_key),
            "Status": inv.status,
            "Sub_Total": money(inv.amount),
            "Grand_Total": money(inv.amount),
            "Amount_Paid": money(paid),
            "Last_Payment_Date": max(p.paid_on for p in payments).isoformat() if payments else None,
            "Currency": inv.currency,
            "Exchange_Rate": exchange_rate(inv.currency),
            "Owner": self.owner(inv.owner_key),
            "Created_Time": self.dt(inv.created_at),
            "Modified_Time": self.dt(inv.modified_at),
            "$approval_state": "approved",
        }
        return ZohoRow(record, inv.created_at, inv.modified_at)

    def activity(self, act: Activity) -> ZohoRow:
        """A task, call or event; the polymorphic ``What_Id`` points at the deal, else the account."""
        module = next(m for m, k in ACTIVITY_MODULES.items() if k == act.kind)
        what = self.deal_lookup(act.deal_key)
        se_module = "Deals" if what else None
        if what is None:
            what = self.account_lookup(act.account_key)
            se_module = "Accounts" if what else None
        record: dict[str, Any] = {
            "id": zoho_id(module, act.key),
            "What_Id": what,
            "$se_module": se_module,
            "Who_Id": self.contact_lookup(act.contact_key),
            "Owner": self.owner(act.owner_key),
        }
        if act.kind == "task":
            record |= {
                "Subject": act.subject,
                "Status": act.status,
                "Priority": act.priority,
                "Due_Date": act.due_date.isoformat() if act.due_date else None,
                "Closed_Time": self.dt(act.closed_at) if act.closed_at else None,
            }
        elif act.kind == "call":
            seconds = act.call_duration_s
            record |= {
                "Subject": act.subject,
                "Call_Type": act.call_type,
                "Call_Start_Time": self.dt(act.start_at) if act.start_at else None,
                "Call_Duration": f"{seconds // 60:02d}:{seconds % 60:02d}" if seconds is not None else None,
                "Call_Duration_in_seconds": seconds,
                "Call_Result": act.call_result,
                "Outgoing_Call_Status": act.status if act.call_type == "Outbound" else None,
                "Call_Purpose": None,
            }
        else:
            record |= {
                "Event_Title": act.subject,
                "Start_DateTime": self.dt(act.start_at) if act.start_at else None,
                "End_DateTime": self.dt(act.end_at) if act.end_at else None,
                "All_day": act.all_day,
                "Participants": [],
                "Venue": None,
            }
        record |= {
            "Description": None,
            "Created_Time": self.dt(act.created_at),
            "Modified_Time": self.dt(act.modified_at),
            "Tag": [],
            "$approval_state": "approved",
            "$editable": True,
        }
        return ZohoRow(record, act.created_at, act.modified_at)

    def stage_history(self, deal: Deal) -> list[ZohoRow]:
        """``/Deals/{id}/Stage_History`` entries, oldest first (ids are unique across deals)."""
        rows = []
        for i, change in enumerate(deal.history):
            rows.append(
                self.history_row(
                    deal,
                    zoho_id("Stage_History", deal.key * 64 + i),
                    change.stage,
                    change.amount,
                    change.probability,
                    change.changed_at,
                )
            )
        return rows

    def history_row(
        self,
        deal: Deal,
        hid: str,
        stage: str,
        amount: Decimal | None,
        probability: int,
        at: datetime,
    ) -> ZohoRow:
        record = {
            "id": hid,
            "Stage": stage,
            "Amount": money(amount),
            "Probability": probability,
            "Expected_Revenue": money(amount * probability / 100) if amount is not None else None,
            "Closing_Date": deal.closing_date.isoformat() if deal.closing_date else None,
            "Modified_Time": self.dt(at),
            "Modified_By": self.user_lookup(deal.owner_key),
        }
        return ZohoRow(record, at, at)

    def module_rows(self, module: str) -> list[ZohoRow]:
        """The module's rows, lazy (encoded when read, see :class:`ZohoRow`); Products, a handful,
        encoded now."""
        lazy = ZohoRow.lazy
        if module == "Products":
            return [self.product(p) for p in self.company.products]
        if module == "Leads":
            return [
                lazy(zoho_id("Leads", x.key), x.created_at, x.modified_at, x, self.lead, self.lead_tag(x))
                for x in self.company.leads
            ]
        if module in ACTIVITY_MODULES:
            kind = ACTIVITY_MODULES[module]
            return [
                lazy(zoho_id(module, x.key), x.created_at, x.modified_at, x, self.activity)
                for x in self.company.activities
                if x.kind == kind
            ]
        sources: dict[str, tuple[list[Any], Any]] = {
            "Deals": (self.company.deals, self.deal),
            "Accounts": (self.company.accounts, self.account),
            "Contacts": (self.company.contacts, self.contact),
            "Sales_Orders": (self.company.sales_orders, self.sales_order),
            "Invoices": (self.company.invoices, self.invoice),
        }
        if module not in sources:
            return []
        items, build = sources[module]
        return [lazy(zoho_id(module, x.key), x.created_at, x.modified_at, x, build) for x in items]

    def lead_tag(self, lead: Lead) -> str:
        """``"true"`` for a converted lead (its deal exists), the partition ``converted=`` lists."""
        return "true" if lead.converted_deal_key and lead.converted_deal_key in self.deals else "false"


def order_subject(order: SalesOrder) -> str:
    return f"Order {order.key:06d}"


def deal_description(deal: Deal) -> str | None:
    """Every tenth deal has a long rich-text description (list responses cut it to 500 chars)."""
    if deal.key % 10:
        return None
    line = f"<p>Account plan for {deal.name}: stakeholders, timeline, risks and next steps.</p>"
    return (line * (1 + 800 // len(line)))[:800]
