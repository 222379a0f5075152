"""Encode the Fxiaoke part of a :class:`~flows.sandbox.company.model.Company` (users whose crm is
``fxiaoke``, their accounts, deals and order-to-cash records) as the server holds it: employees and
departments as lists, every CRM object as a :class:`~flows.sandbox.fxiaoke.lazy.LazyObject` whose
records are encoded when read."""

from __future__ import annotations

from dataclasses import dataclass

from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.encoding.common import EncodingContext
from flows.sandbox.fxiaoke.encoding.customers import (
    encode_accounts,
    encode_contacts,
    encode_leads,
    encode_visits,
)
from flows.sandbox.fxiaoke.encoding.deals import encode_opportunities, encode_stage_log
from flows.sandbox.fxiaoke.encoding.order_to_cash import encode_invoices, encode_orders, encode_payments
from flows.sandbox.fxiaoke.encoding.org import encode_departments, encode_employee, encode_personnel
from flows.sandbox.fxiaoke.lazy import LazyObject
from flows.sandbox.fxiaoke.wire import CRM_LOG, VISIT_OBJECT


@dataclass
class FxiaokeData:
    """The company encoded in Fxiaoke's wire format: employees, departments and CRM objects by ``_id``."""

    employees: list[dict]
    departments: list[dict]
    objects: dict[str, LazyObject]  # api name -> _id -> record (encoded when read)


def encode_company(company: Company) -> FxiaokeData:
    """Encode the Fxiaoke part of ``company`` (users whose crm is ``fxiaoke``, their accounts and deals)."""
    company = company.for_crm("fxiaoke")
    departments, dept_of_region, dept_of_team = encode_departments(company)
    ctx = EncodingContext(company, dept_of_region, dept_of_team)
    employees = [encode_employee(u, ctx.users, dept_of_region, dept_of_team) for u in company.users]
    return FxiaokeData(
        employees,
        departments,
        {
            "OpportunityObj": encode_opportunities(ctx),
            "AccountObj": encode_accounts(ctx),
            "ContactObj": encode_contacts(ctx),
            "LeadsObj": encode_leads(ctx),
            "PersonnelObj": LazyObject.of(list(encode_personnel(ctx, employees).values())),
            "SalesOrderObj": encode_orders(ctx),
            "InvoiceApplicationObj": encode_invoices(ctx),
            "PaymentObj": encode_payments(ctx),
            CRM_LOG: encode_stage_log(ctx),
            VISIT_OBJECT: encode_visits(ctx),
        },
    )
