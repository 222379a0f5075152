"""OpportunityObj records and the opportunity stage changes of the CRM log
(``/cgi/crm/crmLog/query``)."""

from __future__ import annotations

from flows.sandbox.fxiaoke.encoding.common import LEAD_SOURCE_CN, EncodingContext
from flows.sandbox.fxiaoke.wire import CRM_LOG, date_ms, money, object_id, open_user_id, to_ms


def encode_opportunities(ctx: EncodingContext) -> dict[str, dict]:
    opportunities: dict[str, dict] = {}
    for deal in ctx.company.deals:
        account = ctx.accounts.get(deal.account_key) if deal.account_key else None
        code, _ = ctx.stage_codes[deal.stage]
        product = ctx.products.get(deal.product_key) if deal.product_key else None
        rec = ctx.common(
            "OpportunityObj",
            deal.key,
            deal.created_at,
            deal.modified_at,
            deal.owner_key,
            max(1, len(deal.history)),
        )
        rec.update(
            {
                "name": deal.name,
                "amount": money(deal.amount),
                "mc_currency": deal.currency,
                "mc_exchange_rate": "7.20",
                "close_date": date_ms(deal.closing_date) if deal.closing_date else None,
                "sales_stage": code,
                "sales_stage__r": deal.stage,
                "probability": str(deal.probability),
                "account_id": ctx.account_ids[account.key] if account else None,
                "account_id__r": account.name if account else None,
                "field_product__c": product.name if product else None,
                "field_lead_source__c": LEAD_SOURCE_CN.get(deal.lead_source or "", deal.lead_source),
                "biz_status": {"open": "running", "won": "win", "lost": "lose"}[deal.stage_category],
            }
        )
        opportunities[rec["_id"]] = rec
    return opportunities


def encode_stage_log(ctx: EncodingContext) -> dict[str, dict]:
    """One CRM log entry per stage change (the first is the creation), strictly ordered in time."""
    stage_log: dict[str, dict] = {}
    for deal in ctx.company.deals:
        previous: str | None = None
        previous_at = -1
        for i, change in enumerate(deal.history):
            code, _ = ctx.stage_codes[change.stage]
            # The generator clamps late changes to one instant; a real log is strictly ordered.
            at = max(to_ms(change.changed_at), previous_at + 1000)
            previous_at = at
            entry = {
                "_id": object_id(CRM_LOG, deal.key * 1000 + i, change.changed_at),
                "apiName": "OpportunityObj",
                "objectId": ctx.deal_ids[deal.key],
                "objectName": deal.name,
                "operationType": "新建" if previous is None else "修改",
                "fieldApiName": "sales_stage",
                "fieldLabel": "销售阶段",
                "oldValue": ctx.stage_codes[previous][0] if previous else None,
                "oldValue__r": previous,
                "newValue": code,
                "newValue__r": change.stage,
                "operateTime": at,
                "operator": [open_user_id(deal.owner_key)],
                "operator__r": {
                    "id": str(1000 + deal.owner_key),
                    "name": ctx.users[deal.owner_key].full_name,
                },
            }
            stage_log[entry["_id"]] = entry
            previous = change.stage
    return stage_log
