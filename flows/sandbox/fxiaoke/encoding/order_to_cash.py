"""Order-to-cash objects: SalesOrderObj (a cancelled order stays ``life_status: normal`` with
``order_status: cancelled``), InvoiceApplicationObj and PaymentObj."""

from __future__ import annotations

from flows.sandbox.company.model import Invoice, Payment, SalesOrder
from flows.sandbox.fxiaoke.encoding.common import INVOICE_STATUS, ORDER_STATUS, EncodingContext, lazy_object
from flows.sandbox.fxiaoke.lazy import LazyObject
from flows.sandbox.fxiaoke.wire import date_ms, money, object_id, to_ms


def order_ids(ctx: EncodingContext) -> dict[int, str]:
    return {o.key: object_id("SalesOrderObj", o.key, o.created_at) for o in ctx.company.sales_orders}


def encode_orders(ctx: EncodingContext) -> LazyObject:
    return lazy_object(ctx.company.sales_orders, "SalesOrderObj", lambda order: _order(ctx, order))


def _order(ctx: EncodingContext, order: SalesOrder) -> dict:
    rec = ctx.common("SalesOrderObj", order.key, order.created_at, order.modified_at, order.owner_key, 1)
    code, label = ORDER_STATUS.get(order.status, ("approved", "已确认"))
    deal = ctx.deals.get(order.deal_key)
    rec.update(
        {
            "name": f"{order.order_date:%Y%m%d}-{order.key:06d}",
            "order_amount": money(order.amount),
            "order_time": date_ms(order.order_date),
            **ctx.account_ref(order.account_key),
            "opportunity_id": ctx.deal_ids.get(order.deal_key),
            "opportunity_id__r": deal.name if deal else None,
            "mc_currency": order.currency,
            # A cancelled order stays a live record (life_status normal): it existed, and the
            # clawback needs it. Only 作废 through /data/invalid would make it "invalid".
            "order_status": code,
            "order_status__r": label,
            "field_cancelled_time__c": to_ms(order.cancelled_at) if order.cancelled_at else None,
        }
    )
    if order.cancelled_at:
        rec["version"] = "2"
    return rec


def encode_invoices(ctx: EncodingContext) -> LazyObject:
    orders = order_ids(ctx)
    return lazy_object(ctx.company.invoices, "InvoiceApplicationObj", lambda inv: _invoice(ctx, orders, inv))


def _invoice(ctx: EncodingContext, orders: dict[int, str], inv: Invoice) -> dict:
    rec = ctx.common("InvoiceApplicationObj", inv.key, inv.created_at, inv.modified_at, inv.owner_key, 1)
    code, label = INVOICE_STATUS.get(inv.status, ("unpaid", "未回款"))
    rec.update(
        {
            "name": f"FP{inv.invoice_date:%Y%m%d}{inv.key:05d}",
            "invoice_amount": money(inv.amount),
            "invoice_date": date_ms(inv.invoice_date),
            "field_due_date__c": date_ms(inv.due_date),
            "order_id": orders.get(inv.order_key),
            **ctx.account_ref(inv.account_key),
            "mc_currency": inv.currency,
            "field_invoice_status__c": code,
            "field_invoice_status__c__r": label,
        }
    )
    return rec


def encode_payments(ctx: EncodingContext) -> LazyObject:
    orders = order_ids(ctx)
    invoices = {i.key: i for i in ctx.company.invoices}
    return lazy_object(ctx.company.payments, "PaymentObj", lambda pay: _payment(ctx, orders, invoices, pay))


def _payment(
    ctx: EncodingContext, orders: dict[int, str], invoices: dict[int, Invoice], pay: Payment
) -> dict:
    rec = ctx.common("PaymentObj", pay.key, pay.created_at, pay.modified_at, pay.owner_key, 1)
    invoice = invoices.get(pay.invoice_key)
    order_key = invoice.order_key if invoice else None
    rec.update(
        {
            "name": f"{pay.paid_on:%Y%m%d}-{pay.key:06d}",
            "payment_amount": money(pay.amount),
            "payment_time": date_ms(pay.paid_on),
            **ctx.account_ref(pay.account_key),
            "order_id": orders.get(order_key) if order_key else None,
            "field_invoice_id__c": (
                object_id("InvoiceApplicationObj", invoice.key, invoice.created_at) if invoice else None
            ),
            "mc_currency": pay.currency,
        }
    )
    return rec
