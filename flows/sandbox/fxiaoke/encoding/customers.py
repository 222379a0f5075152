"""Customer-side objects: AccountObj (with the credit-limit and satisfaction custom fields),
ContactObj, LeadsObj (status code + label, the converted opportunity) and the custom visit
object ``object_visit__c``."""

from __future__ import annotations

from datetime import timedelta

from flows.sandbox.company.model import Account, Contact, Lead
from flows.sandbox.fxiaoke.encoding.common import (
    INDUSTRY_CN,
    LEAD_SOURCE_CN,
    LEAD_STATUS,
    EncodingContext,
    lazy_object,
)
from flows.sandbox.fxiaoke.lazy import LazyObject
from flows.sandbox.fxiaoke.wire import CHINA_TZ, VISIT_OBJECT, date_ms, money, object_id


def encode_accounts(ctx: EncodingContext) -> LazyObject:
    return LazyObject.over(
        ctx.company.accounts, lambda acc: _account(ctx, acc), lambda acc: ctx.account_ids[acc.key]
    )


def _account(ctx: EncodingContext, acc: Account) -> dict:
    rec = ctx.common("AccountObj", acc.key, acc.created_at, acc.modified_at, acc.owner_key, 1)
    rec.update(
        {
            "name": acc.name,
            "industry": INDUSTRY_CN.get(acc.industry or "", acc.industry),
            "field_annual_revenue__c": money(acc.annual_revenue),
            "field_employee_count__c": str(acc.employees) if acc.employees is not None else None,
            "field_credit_limit__c": money(acc.credit_limit),
            "field_satisfaction__c": str(acc.satisfaction) if acc.satisfaction is not None else None,
            "country": "中国",
        }
    )
    return rec


def encode_contacts(ctx: EncodingContext) -> LazyObject:
    return lazy_object(ctx.company.contacts, "ContactObj", lambda con: _contact(ctx, con))


def _contact(ctx: EncodingContext, con: Contact) -> dict:
    acc = ctx.accounts.get(con.account_key)
    rec = ctx.common("ContactObj", con.key, con.created_at, con.modified_at, con.owner_key, 1)
    rec.update(
        {
            "name": con.last_name + con.first_name,
            "email": con.email,
            "account_id": ctx.account_ids[acc.key] if acc else None,
            "account_id__r": acc.name if acc else None,
            "date_of_birth": date_ms(con.birthday) if con.birthday else None,
        }
    )
    return rec


def encode_leads(ctx: EncodingContext) -> LazyObject:
    return lazy_object(ctx.company.leads, "LeadsObj", lambda lead: _lead(ctx, lead))


def _lead(ctx: EncodingContext, lead: Lead) -> dict:
    rec = ctx.common("LeadsObj", lead.key, lead.created_at, lead.modified_at, lead.owner_key, 1)
    code, label = LEAD_STATUS.get(lead.status, ("un_processed", "未处理"))
    converted = ctx.deals.get(lead.converted_deal_key) if lead.converted_deal_key else None
    rec.update(
        {
            "name": lead.last_name + lead.first_name,
            "company_name": lead.company_name,
            "email": lead.email,
            "leads_status": code,
            "leads_status__r": label,
            "source": LEAD_SOURCE_CN.get(lead.lead_source, lead.lead_source),
            "opportunity_id": ctx.deal_ids[converted.key] if converted else None,
            "opportunity_id__r": converted.name if converted else None,
        }
    )
    return rec


def encode_visits(ctx: EncodingContext) -> LazyObject:
    """One customer visit per contact, three days after the contact was last modified."""
    return LazyObject.over(
        ctx.company.contacts,
        lambda con: _visit(ctx, con),
        lambda con: object_id(VISIT_OBJECT, con.key, con.modified_at + timedelta(days=3)),
    )


def _visit(ctx: EncodingContext, con: Contact) -> dict:
    at = con.modified_at + timedelta(days=3)
    rec = ctx.common(VISIT_OBJECT, con.key, at, at, con.owner_key, 1)
    rec.update(
        {
            "name": f"拜访-{con.last_name}{con.first_name}",
            "field_contact_id__c": object_id("ContactObj", con.key, con.created_at),
            "field_visit_date__c": date_ms(at.astimezone(CHINA_TZ).date()),
            "field_summary__c": "产品演示与需求沟通",
        }
    )
    return rec
