"""The generator's order-to-cash records: leads (converted and open), one sales order per won deal,
its invoice and payments; and the new ones a sandbox creates "now" (its admin simulate).

Payment behaviour differs by account so that receivables ageing and risk have something to
find: most accounts pay within terms, some late, a few partly or not at all; a few orders are
cancelled after the win (the CRM side of a commission clawback).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from flows.sandbox.company.draws import business_time, money
from flows.sandbox.company.model import CURRENCY_SCALE, Company, Deal, Invoice, Lead, Payment, SalesOrder
from flows.sandbox.company.vocabulary import (
    COMPANY_SUFFIX,
    COMPANY_WORDS,
    FIRST,
    LAST,
    LEAD_SOURCES,
    LEAD_STATUSES,
)


def add_order_to_cash(company: Company, rng: random.Random, horizon: datetime) -> None:
    """Leads before the deals; for each won deal an order, an invoice and its payments."""
    payer_kind = _account_terms(company, rng)
    _add_leads(company, rng, horizon)
    for deal in company.deals:
        if deal.stage_category != "won" or deal.amount is None or deal.closing_date is None:
            continue
        _add_order(company, rng, horizon, deal, payer_kind)


def _account_terms(company: Company, rng: random.Random) -> dict[int, str]:
    """Credit limits and satisfaction scores; how each account pays (prompt, late, partial, never)."""
    for acc in company.accounts:
        acc.credit_limit = money(
            rng.uniform(50_000, 400_000) * float(CURRENCY_SCALE[_region_currency(company, acc.region)])
        )
        acc.satisfaction = rng.choice([None, 2, 3, 4, 4, 5, 5])
    return {
        acc.key: rng.choices(["prompt", "late", "partial", "defaulter"], [70, 18, 8, 4])[0]
        for acc in company.accounts
    }


def _add_leads(company: Company, rng: random.Random, horizon: datetime) -> None:
    """Half the deals came from a converted lead; a third as many leads are still open."""
    users = {u.key: u for u in company.users}
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
        created = min(
            business_time(company.as_of - timedelta(days=rng.randrange(1, 540)), rng),
            horizon - timedelta(hours=2),
        )
        company.leads.append(
            Lead(
                key=len(company.leads) + 1,
                crm=deal.crm,
                first_name="Open",
                last_name=f"Lead {i + 1}",
                company_name=f"Prospect {i + 1}",
                email=f"prospect{i + 1}@prospect.example",
                owner_key=deal.owner_key,
                lead_source=rng.choice(LEAD_SOURCES),
                status=rng.choice(LEAD_STATUSES),
                created_at=created,
                modified_at=min(created + timedelta(days=rng.randrange(0, 20)), horizon),
            )
        )


def _add_order(
    company: Company, rng: random.Random, horizon: datetime, deal: Deal, payer_kind: dict[int, str]
) -> None:
    """The won deal's order (a few cancelled), its invoice once dated, and the payment if any."""
    assert deal.amount is not None and deal.closing_date is not None
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
        status="Cancelled" if cancelled else ("Delivered" if (horizon - won_at).days > 30 else "Approved"),
        created_at=won_at,
        modified_at=cancelled_at or won_at,
        cancelled_at=cancelled_at,
    )
    company.sales_orders.append(order)
    invoice_date = deal.closing_date + timedelta(days=rng.randrange(0, 6))
    invoiced_at = datetime.combine(invoice_date, won_at.timetz())
    if invoiced_at > horizon:
        return
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
    if cancelled_at is not None:
        invoice.status, invoice.modified_at = "Cancelled", max(invoiced_at, cancelled_at)
        return
    kind = payer_kind.get(deal.account_key, "prompt") if deal.account_key else "prompt"
    _add_payment(company, rng, horizon, deal, invoice, kind)


def _add_payment(
    company: Company, rng: random.Random, horizon: datetime, deal: Deal, invoice: Invoice, kind: str
) -> None:
    delay = {
        "prompt": rng.randrange(5, 35),
        "late": rng.randrange(40, 120),
        "partial": rng.randrange(20, 90),
        "defaulter": 10_000,
    }[kind]
    share = Decimal("0.5") if kind == "partial" else Decimal("1")
    paid_on = invoice.invoice_date + timedelta(days=delay)
    paid_at = datetime.combine(paid_on, time(3), tzinfo=UTC)
    if paid_at > horizon:
        return
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
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return Lead(
        key=key,
        crm=owner.crm,
        first_name=first,
        last_name=last,
        company_name=f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)}",
        email=f"{first}.{last}.{key}@prospect.example".lower(),
        owner_key=owner.key,
        lead_source=rng.choice(LEAD_SOURCES),
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
