"""What the Fxiaoke connector reads: objects, endpoints and how each one is queried."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flows.crm.base import CrmError

ROOT_DEPARTMENT_ID = 999999

USER_LIST_PATH = "/cgi/user/list"
DEPARTMENT_LIST_PATH = "/cgi/department/list"
QUERY_PATH = "/cgi/crm/v2/data/query"
CUSTOM_QUERY_PATH = "/cgi/crm/custom/v2/data/query"
CRM_LOG_PATH = "/cgi/crm/crmLog/query"

#: connector object -> data/query API name (preset objects, incremental by last_modified_time)
QUERY_OBJECTS = {
    "personnel": "PersonnelObj",
    "accounts": "AccountObj",
    "contacts": "ContactObj",
    "leads": "LeadsObj",
    "opportunities": "OpportunityObj",
    "sales_orders": "SalesOrderObj",
    "invoices": "InvoiceApplicationObj",
    "payments": "PaymentObj",
}
#: objects read from the CRM log (no data/query object; incremental by operateTime)
LOG_OBJECTS = {"opportunity_stage_changes": ("OpportunityObj", "sales_stage")}
#: connector objects in load order (custom objects, when configured, follow as custom_<api name>)
OBJECTS = (
    "employees",
    "departments",
    "personnel",
    "accounts",
    "contacts",
    "leads",
    "opportunities",
    "opportunity_stage_changes",
    "sales_orders",
    "invoices",
    "payments",
)
CUSTOM_PREFIX = "custom_"
_CUSTOM_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*__c")
MAX_PAGE_SIZE = 100
#: ``known_ids(obj)``: ids of the rows stored live (not deleted) for ``obj`` (see the connector)
KnownIds = Callable[[str], Iterable[str]]
INSTANT_RESCANS = 3


@dataclass(frozen=True)
class Spec:
    """How one incremental object is read."""

    api_name: str
    path: str  # QUERY_PATH, CUSTOM_QUERY_PATH or CRM_LOG_PATH
    time_field: str  # last_modified_time, or operateTime for CRM log entries
    field_api_name: str | None = None  # CRM log: the field whose changes are read

    @property
    def is_log(self) -> bool:
        return self.path == CRM_LOG_PATH


def object_specs(custom_objects: Iterable[str]) -> tuple[dict[str, Spec], tuple[str, ...]]:
    """How each incremental object is read, and the configured custom objects' connector names
    (``custom_<api name>``, in the order given); a name that is not ``object_xxx__c`` fails."""
    specs: dict[str, Spec] = {
        obj: Spec(api, QUERY_PATH, "last_modified_time") for obj, api in QUERY_OBJECTS.items()
    }
    for obj, (api, field_name) in LOG_OBJECTS.items():
        specs[obj] = Spec(api, CRM_LOG_PATH, "operateTime", field_name)
    custom: list[str] = []
    for api in custom_objects:
        api = api.strip()
        if not _CUSTOM_API_NAME.fullmatch(api):
            raise CrmError(f"fxiaoke: {api!r} is not a custom object API name (object_xxx__c)")
        obj = CUSTOM_PREFIX + api.lower()
        if obj not in specs:
            specs[obj] = Spec(api, CUSTOM_QUERY_PATH, "last_modified_time")
            custom.append(obj)
    return specs, tuple(custom)


ORDER_BY_ID = [{"fieldName": "_id", "isAsc": True}]


def order_keyset(time_field: str) -> list[dict]:
    return [{"fieldName": time_field, "isAsc": True}, {"fieldName": "_id", "isAsc": True}]


def between(time_field: str, lo: int, hi: int) -> dict:
    return {"field_name": time_field, "field_values": [lo, hi], "operator": "BETWEEN"}


def sweep_cursor(obj: str) -> str:
    """The cursor holding when ``obj``'s last deletion sweep started (epoch ms)."""
    return f"{obj}.id_sweep"


def row_time(obj: str, spec: Spec, row: dict) -> int:
    value = row.get(spec.time_field)
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CrmError(f"fxiaoke {obj}: row {row.get('_id')} has no usable {spec.time_field}") from None


def split_names(value: str | Iterable[str]) -> list[str]:
    """``"object_a__c, object_b__c"`` (or a list) -> names, blanks dropped."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v and v.strip()]
