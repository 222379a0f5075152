"""Order-to-cash objects: SalesOrderObj (a cancelled order stays ``life_status: normal`` with
``order_status: cancelled``), InvoiceApplicationObj and PaymentObj."""

from __future__ import annotations

from flows.sandbox.fxiaoke.encoding.common import INVOICE_STATUS, ORDER_STATUS, EncodingContext
from flows.sandbox.fxiaoke.wire import date_ms, money, object_id, to_ms


def order_ids(ctx: EncodingContext) -> dict[int, str]:
    return {o.key: object_id("SalesOrderObj", o.key, o.created_at) for o in ctx.company.sales_orders}


def encode_orders(ctx: EncodingContext) -> dict[str, dict]:
    orders: dict[str, dict] = {}
    for order in ctx.company.sales_orders:
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
        orders[rec["_id"]] = rec
    return orders


def encode_invoices(ctx: EncodingContext) -> dict[str, dict]:
    orders = order_ids(ctx)
    invoices: dict[str, dict] = {}
    for inv in ctx.company.invoices:
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
        invoices[rec["_id"]] = rec
    return invoices


def encode_payments(ctx: EncodingContext) -> dict[str, dict]:
    orders = order_ids(ctx)
    invoice_ids = {
        i.key: object_id("InvoiceApplicationObj", i.key, i.created_at) for i in ctx.company.invoices
    }
    invoice_order = {i.key: i.order_key for i in ctx.company.invoices}
    payments: dict[str, dict] = {}
    for pay in ctx.company.payments:
        rec = ctx.common("PaymentObj", pay.key, pay.created_at, pay.modified_at, pay.owner_key, 1)
        order_key = invoice_order.get(pay.invoice_key)
        rec.update(
            {
                "name": f"{pay.paid_on:%Y%m%d}-{pay.key:06d}",
                "payment_amount": money(pay.amount),
                "payment_time": date_ms(pay.paid_on),
                **ctx.account_ref(pay.account_key),
                "order_id": orders.get(order_key) if order_key else None,
                "field_invoice_id__c": invoice_ids.get(pay.invoice_key),
                "mc_currency": pay.currency,
            }
        )
        payments[rec["_id"]] = rec
    return payments
