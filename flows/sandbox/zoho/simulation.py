"""Simulated CRM activity on the Zoho sandbox: records created, modified and deleted "now" (the
sandbox clock), as ``POST /__admin/simulate`` and the tests drive it."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flows.sandbox.company.activities import simulated_activity
from flows.sandbox.company.model import Account, Company, Contact, Deal, Product
from flows.sandbox.company.order_to_cash import simulated_invoice, simulated_lead, simulated_sales_order
from flows.sandbox.zoho.encoding.records import ZohoEncoder
from flows.sandbox.zoho.encoding.wire import ACTIVITY_MODULES, MODULES, ZohoRow, zoho_id
from flows.sandbox.zoho.store import ModuleRows


class Simulation:
    """Mixed into :class:`~flows.sandbox.zoho.server.ZohoSandbox`: ``simulate`` and its record edits."""

    company: Company
    encoder: ZohoEncoder
    _lock: threading.RLock
    _rng: random.Random
    _rows: dict[str, ModuleRows]
    _history: dict[str, list[ZohoRow]]
    _deleted: dict[str, list[tuple[datetime, dict[str, Any]]]]
    now: Callable[[], datetime]

    def _simulate(
        self, module: str, create: int, update: int, delete: int, permanent: bool, modify_then_delete: int
    ) -> dict:
        module = self._module(module)
        now = self.now()
        with self._lock:
            live = self._rows[module].ids()
            if update + delete + modify_then_delete > len(live):
                raise ValueError(
                    f"{module} has {len(live)} records; cannot update {update} and delete "
                    f"{delete + modify_then_delete}"
                )
            picked = self._rng.sample(live, update + delete + modify_then_delete)
            updated = sorted(picked[:update])
            deleted = sorted(picked[update : update + delete])
            both = sorted(picked[update + delete :])
            for rid in updated + both:
                self._touch(module, rid, now, mutate=True)
            for rid in deleted + both:
                self._delete(module, rid, now, permanent)
            created = [self._create(module, now) for _ in range(create)]
        out = {"module": module, "created": created, "updated": updated, "deleted": deleted}
        if modify_then_delete:
            out["modified_and_deleted"] = both
        return out

    def live_ids(self, module: str) -> list[str]:
        with self._lock:
            return list(self._rows[self._module(module)].ids())

    def _module(self, name: str) -> str:
        for module in MODULES:
            if module.lower() == name.lower():
                return module
        raise ValueError(f"unknown Zoho module {name!r}; known: {', '.join(MODULES)}")

    def _touch(self, module: str, rid: str, now: datetime, *, mutate: bool) -> None:
        row = self._rows[module][rid]
        record = row.pin()
        if mutate:
            if module == "Deals" and record.get("Amount") is not None:
                record["Amount"] = round(record["Amount"] + 1000, 2)
                # Zoho logs a Stage_History entry whenever Stage/Amount/Probability/Closing_Date change.
                history = self._history.setdefault(rid, self._deal_history(rid))
                hid = zoho_id("Stage_History", int(rid[-9:]) * 64 + 32 + len(history) % 32)
                entry = dict(history[-1].record) if history else {"Stage": record.get("Stage")}
                entry.update(
                    id=hid,
                    Amount=record["Amount"],
                    Probability=record.get("Probability"),
                    Closing_Date=record.get("Closing_Date"),
                    Modified_Time=self.encoder.dt(now),
                    Modified_By=self.encoder.user_lookup(self.company.users[0].key)
                    if self.company.users
                    else None,
                )
                history.append(ZohoRow(entry, now, now))
            elif module == "Leads":
                record["Lead_Status"] = "Contacted" if not record.get("Converted__s") else "Converted"
                record["Email"] = (
                    f"updated{int(now.timestamp())}@{(record.get('Email') or '@x').split('@')[-1]}"
                )
            elif module in ("Sales_Orders", "Invoices"):
                record["Description"] = f"Updated {self.encoder.dt(now)}"
            elif module == "Accounts":
                record["Employees"] = (record.get("Employees") or 0) + 1
            elif module == "Products":
                record["Unit_Price"] = round((record.get("Unit_Price") or 0) + 10, 2)
            elif module in ("Tasks", "Calls", "Events"):
                record["Description"] = f"Notes updated {self.encoder.dt(now)}"
            else:
                record["Title"] = f"Updated {self.encoder.dt(now)}"
        record["Modified_Time"] = self.encoder.dt(now)
        self._rows[module].set_modified(row, now)

    def _deal_history(self, rid: str) -> list[ZohoRow]:
        """A deal's Stage_History rows, oldest first: as edited, else encoded from the deal."""
        if rid in self._history:
            return self._history[rid]
        key = int(rid[-9:]) if rid.isdigit() else -1
        deal = self.encoder.deals.get(key)
        return self.encoder.stage_history(deal) if deal and zoho_id("Deals", key) == rid else []

    def _delete(self, module: str, rid: str, now: datetime, permanent: bool) -> None:
        row = self._rows[module].pop(rid)
        name_key = {
            "Deals": "Deal_Name",
            "Accounts": "Account_Name",
            "Contacts": "Full_Name",
            "Leads": "Full_Name",
            "Sales_Orders": "Subject",
            "Invoices": "Subject",
            "Tasks": "Subject",
            "Calls": "Subject",
            "Events": "Event_Title",
        }.get(module, "Product_Name")
        actor = self.encoder.user_lookup(self.company.users[0].key) if self.company.users else None
        entry = {
            "deleted_by": None if permanent else actor,
            "id": rid,
            "display_name": None if permanent else row.record.get(name_key),
            "type": "permanent" if permanent else "recycle",
            "created_by": None if permanent else actor,
            "deleted_time": self.encoder.dt(now),
        }
        self._deleted[module].append((now, entry))

    def _create(self, module: str, now: datetime) -> str:
        live = self._rows[module].ids()
        used = live[-1:] + [e["id"] for _, e in self._deleted[module]]  # ids sort as their keys
        key = 1 + max((int(rid[-9:]) for rid in used), default=0)
        builders: dict[str, Callable[[int, datetime], ZohoRow]] = {
            "Deals": self._new_deal,
            "Accounts": self._new_account,
            "Contacts": self._new_contact,
            "Products": self._new_product,
            "Leads": self._new_lead,
            "Sales_Orders": self._new_sales_order,
            "Invoices": self._new_invoice,
        }
        if module in builders:
            row = builders[module](key, now)
        elif module in ACTIVITY_MODULES:
            act = simulated_activity(self.company, ACTIVITY_MODULES[module], key, self._rng, now)
            self.company.activities.append(act)
            row = self.encoder.activity(act)
        else:
            raise ValueError(f"cannot create {module} records")
        row.record["Created_Time"] = row.record["Modified_Time"] = self.encoder.dt(now)
        row.created = row.modified = now
        self._rows[module].add(row)
        return row.rid

    def _first_account_key(self) -> int | None:
        return self.company.accounts[0].key if self.company.accounts else None

    def _new_deal(self, key: int, now: datetime) -> ZohoRow:
        enc = self.encoder
        stage, prob, _ = self.company.pipelines.get("zoho", [("Qualification", 10, "open")])[0]
        obj = Deal(
            key,
            f"Simulated deal {key}",
            "zoho",
            self._first_account_key(),
            None,
            enc.default_owner_key(),
            self.company.products[0].key if self.company.products else None,
            Decimal("10000.00"),
            "USD",
            stage,
            "open",
            prob,
            now,
            (now + timedelta(days=30)).date(),
            now,
            "Partner",
        )
        self.company.deals.append(obj)
        enc.deals[key] = obj
        row = enc.deal(obj)
        self._history[row.record["id"]] = [
            enc.history_row(obj, zoho_id("Stage_History", key * 64), stage, obj.amount, prob, now)
        ]
        return row

    def _new_account(self, key: int, now: datetime) -> ZohoRow:
        region = self.company.regions[0].name if self.company.regions else "North America"
        owner = self.encoder.default_owner_key()
        obj = Account(key, f"Simulated Account {key}", "Technology", region, "zoho", owner, now, now)
        self.company.accounts.append(obj)
        self.encoder.accounts[key] = obj
        return self.encoder.account(obj)

    def _new_contact(self, key: int, now: datetime) -> ZohoRow:
        obj = Contact(
            key,
            self._first_account_key() or 0,
            "Sim",
            f"Contact{key}",
            f"sim{key}@example.com",
            "zoho",
            self.encoder.default_owner_key(),
            now,
            now,
        )
        self.company.contacts.append(obj)
        self.encoder.contacts[key] = obj
        return self.encoder.contact(obj)

    def _new_product(self, key: int, now: datetime) -> ZohoRow:
        obj = Product(key, f"Simulated Product {key}", "Cloud", Decimal("1000.00"))
        self.company.products.append(obj)
        self.encoder.products[key] = obj
        return self.encoder.product(obj)

    def _new_lead(self, key: int, now: datetime) -> ZohoRow:
        lead = simulated_lead(self.company, key, self._rng, now)
        self.company.leads.append(lead)
        return self.encoder.lead(lead)

    def _new_sales_order(self, key: int, now: datetime) -> ZohoRow:
        order = simulated_sales_order(self.company, key, self._rng, now)
        self.company.sales_orders.append(order)
        self.encoder.orders[key] = order  # what a new invoice's Sales_Order lookup names
        return self.encoder.sales_order(order)

    def _new_invoice(self, key: int, now: datetime) -> ZohoRow:
        invoice = simulated_invoice(self.company, key, self._rng, now)
        self.company.invoices.append(invoice)
        return self.encoder.invoice(invoice)
