"""OpportunityObj records and the opportunity stage changes of the CRM log
(``/cgi/crm/crmLog/query``), each encoded when read (:class:`~flows.sandbox.fxiaoke.lazy.LazyObject`)."""

from __future__ import annotations

from array import array

from flows.sandbox.company.model import Deal
from flows.sandbox.fxiaoke.encoding.common import LEAD_SOURCE_CN, EncodingContext
from flows.sandbox.fxiaoke.lazy import LazyObject
from flows.sandbox.fxiaoke.wire import CRM_LOG, date_ms, money, object_id, open_user_id, to_ms

#: CRM log positions pack (deal index, change index): a deal has fewer changes than this.
_CHANGES_PER_DEAL = 1000


def encode_opportunities(ctx: EncodingContext) -> LazyObject:
    deals = ctx.company.deals
    return LazyObject(
        len(deals), lambda pos: _opportunity(ctx, deals[pos]), lambda pos: ctx.deal_ids[deals[pos].key]
    )


def _opportunity(ctx: EncodingContext, deal: Deal) -> dict:
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
    return rec


def encode_stage_log(ctx: EncodingContext) -> LazyObject:
    """One CRM log entry per stage change (the first is the creation), strictly ordered in time.

    The log's positions are packed ``deal index * 1000 + change index`` in an ``array`` (8 bytes
    an entry), in the order the eager encoder wrote them: deal by deal, change by change."""
    deals = ctx.company.deals
    packed = array("q")
    for n, deal in enumerate(deals):
        if len(deal.history) >= _CHANGES_PER_DEAL:
            raise ValueError(
                f"deal {deal.key} has {len(deal.history)} stage changes, over {_CHANGES_PER_DEAL}"
            )
        packed.extend(range(n * _CHANGES_PER_DEAL, n * _CHANGES_PER_DEAL + len(deal.history)))

    def entry_id(pos: int) -> str:
        deal, i = divmod(packed[pos], _CHANGES_PER_DEAL)
        return object_id(CRM_LOG, deals[deal].key * 1000 + i, deals[deal].history[i].changed_at)

    def entry(pos: int) -> dict:
        deal, i = divmod(packed[pos], _CHANGES_PER_DEAL)
        return _stage_change(ctx, deals[deal], i)

    return LazyObject(len(packed), entry, entry_id)


def _stage_change(ctx: EncodingContext, deal: Deal, index: int) -> dict:
    """Change ``index`` of ``deal``: its old stage and its instant depend on the changes before it."""
    previous: str | None = None
    previous_at = -1
    for change in deal.history[:index]:
        # The generator clamps late changes to one instant; a real log is strictly ordered.
        previous_at = max(to_ms(change.changed_at), previous_at + 1000)
        previous = change.stage
    change = deal.history[index]
    code, _ = ctx.stage_codes[change.stage]
    return {
        "_id": object_id(CRM_LOG, deal.key * 1000 + index, change.changed_at),
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
        "operateTime": max(to_ms(change.changed_at), previous_at + 1000),
        "operator": [open_user_id(deal.owner_key)],
        "operator__r": {"id": str(1000 + deal.owner_key), "name": ctx.users[deal.owner_key].full_name},
    }
