"""What every Fxiaoke object encoder shares: the lookups (users, departments, accounts, deals,
stage codes), the fields every CRM record carries (owner, audit, life status) and the Chinese
labels of the option fields."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.sandbox.company.model import Account, Company, Deal, Product, User
from flows.sandbox.fxiaoke.lazy import LazyObject
from flows.sandbox.fxiaoke.wire import SYSTEM_USER, object_id, open_user_id, to_ms

#: company status -> (Fxiaoke option code, label)
LEAD_STATUS = {
    "Not Contacted": ("un_processed", "未处理"),
    "Contacted": ("processed", "跟进中"),
    "Qualified": ("qualified", "已确认"),
    "Lost Lead": ("closed", "无效"),
    "Converted": ("transformed", "已转换"),
}
ORDER_STATUS = {
    "Approved": ("approved", "已确认"),
    "Delivered": ("delivered", "已发货"),
    "Cancelled": ("cancelled", "已作废"),
}
INVOICE_STATUS = {
    "Unpaid": ("unpaid", "未回款"),
    "Partially Paid": ("partial", "部分回款"),
    "Paid": ("paid", "已回款"),
    "Cancelled": ("cancelled", "已作废"),
}
POSITIONS = {"director": "区域总监", "manager": "销售经理", "rep": "销售代表"}
INDUSTRY_CN = {
    "Manufacturing": "制造业",
    "Retail": "零售",
    "Technology": "信息技术",
    "Finance": "金融",
    "Healthcare": "医疗健康",
    "Logistics": "物流",
    "Energy": "能源",
}
LEAD_SOURCE_CN = {
    "Cold Call": "电话营销",
    "Advertisement": "广告",
    "Partner": "合作伙伴",
    "Web Download": "官网下载",
    "Trade Show": "展会",
    "Employee Referral": "员工推荐",
}


@dataclass
class EncodingContext:
    """The Fxiaoke part of a company with the lookups its records refer through."""

    company: Company
    dept_of_region: dict[str, int]
    dept_of_team: dict[str, int]
    users: dict[int, User] = field(init=False)
    accounts: dict[int, Account] = field(init=False)
    account_ids: dict[int, str] = field(init=False)
    products: dict[int, Product] = field(init=False)
    deals: dict[int, Deal] = field(init=False)
    deal_ids: dict[int, str] = field(init=False)
    #: stage name -> (option code "1".."n", probability)
    stage_codes: dict[str, tuple[str, int]] = field(init=False)

    def __post_init__(self) -> None:
        company = self.company
        self.users = {u.key: u for u in company.users}
        self.accounts = {a.key: a for a in company.accounts}
        self.account_ids = {a.key: object_id("AccountObj", a.key, a.created_at) for a in company.accounts}
        self.products = {p.key: p for p in company.products}
        self.deals = {d.key: d for d in company.deals}
        self.deal_ids = {d.key: object_id("OpportunityObj", d.key, d.created_at) for d in company.deals}
        self.stage_codes = {
            name: (str(i + 1), prob) for i, (name, prob, _) in enumerate(company.pipelines["fxiaoke"])
        }

    def dept_id_of(self, user: User) -> int:
        return self.dept_of_team[user.team] if user.team else self.dept_of_region[user.region]

    def owner_fields(self, owner_key: int) -> dict:
        owner = self.users[owner_key]
        ref = {"id": str(1000 + owner.key), "name": owner.full_name}
        return {
            "owner": [open_user_id(owner.key)],
            "owner__r": ref,
            "owner__l": [ref],
            "owner_department": owner.team or owner.region,
            "data_own_department": [str(self.dept_id_of(owner))],
        }

    def common(
        self, kind: str, key: int, created: datetime, modified: datetime, owner_key: int, version: int
    ) -> dict:
        """The fields every CRM object record carries, before its own."""
        return {
            "_id": object_id(kind, key, created),
            **self.owner_fields(owner_key),
            "created_by": [SYSTEM_USER],
            "created_by__r": {"id": SYSTEM_USER, "name": "系统"},
            "last_modified_by": [open_user_id(owner_key)],
            "create_time": to_ms(created),
            "last_modified_time": to_ms(modified),
            "life_status": "normal",
            "lock_status": "0",
            "is_deleted": False,
            "record_type": "default__c",
            "version": str(version),
        }

    def account_ref(self, account_key: int | None) -> dict:
        acc = self.accounts.get(account_key) if account_key else None
        return {
            "account_id": self.account_ids[acc.key] if acc else None,
            "account_id__r": acc.name if acc else None,
        }


def lazy_object(items: Sequence[Any], kind: str, encode: Callable[[Any], dict]) -> LazyObject:
    """An object over company ``items`` whose record ids are ``object_id(kind, key, created_at)``, as
    every Fxiaoke object the sandbox generates names its records."""
    return LazyObject.over(items, encode, lambda item: object_id(kind, item.key, item.created_at))
