"""Fxiaoke read endpoints: ``/cgi/user/list``, ``/cgi/department/list``, ``data/query`` (standard
and custom objects) and the CRM log, with offset paging, filters, orders, projection and the
calling user's data permissions."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from flows.sandbox.fxiaoke.protocol import ApiError, State, error_body, touch
from flows.sandbox.fxiaoke.store import RecordsView, keyset_order
from flows.sandbox.fxiaoke.wire import CRM_LOG, MAX_LIMIT, to_ms


class QueryEndpoints:
    """Mixed into :class:`~flows.sandbox.fxiaoke.server.FxiaokeSandbox`: the data it answers with."""

    ADMIN_OPEN_USER_ID: str
    _state: State
    _clock: Callable[[], datetime]
    _headers: Mapping[str, str]
    _authenticate: Callable[[dict], None]  # from Auth

    def _user_list(self, body: dict) -> dict:
        self._authenticate(body)
        dept = body.get("departmentId")
        if not isinstance(dept, int):
            raise ApiError(10001, "departmentId为必填项，不能为空")
        wanted = self._department_tree(dept) if body.get("fetchChild") else {dept}
        emps = [e for e in self._state.data.employees if wanted & set(e["departmentIds"])]
        return {**error_body(0, "success"), "empList": copy.deepcopy(emps)}

    def _department_tree(self, root: int) -> set[int]:
        found = {root}
        changed = True
        while changed:
            more = {d["departmentId"] for d in self._state.data.departments if d["parentId"] in found}
            changed = not more <= found
            found |= more
        return found

    def _department_list(self, body: dict) -> dict:
        self._authenticate(body)
        return {**error_body(0, "success"), "departments": copy.deepcopy(self._state.data.departments)}

    def _caller(self, body: dict) -> tuple[str, dict]:
        """Authenticate; the calling user (``x-fs-userid`` or ``currentOpenUserId``) and ``data``."""
        self._authenticate(body)
        headers = self._headers
        user = headers.get("x-fs-userid") if headers.get("authorization") else body.get("currentOpenUserId")
        if not user:
            raise ApiError(10001, "currentOpenUserId为必填项，不能为空")
        known = {e["openUserId"] for e in self._state.data.employees}
        if user != self.ADMIN_OPEN_USER_ID and user not in known:
            raise ApiError(20019, "currentOpenUserId不存在")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ApiError(10001, "data为必填项，不能为空")
        return user, data

    def _query(self, body: dict) -> dict:
        user, data = self._caller(body)
        api_name = data.get("dataObjectApiName")
        if api_name not in self._state.data.objects or api_name == CRM_LOG:
            raise ApiError(10001, f"对象{api_name}不存在或未启用")
        if api_name.endswith("__c"):  # crm_apis §2.3: custom objects have their own endpoint
            raise ApiError(10001, f"自定义对象{api_name}请使用/cgi/crm/custom/v2/data/query")
        return self._serve_rows(user, data, api_name)

    def _custom_query(self, body: dict) -> dict:
        user, data = self._caller(body)
        api_name = data.get("dataObjectApiName")
        if not isinstance(api_name, str) or not api_name.endswith("__c"):
            raise ApiError(10001, f"对象{api_name}不是自定义对象，请使用/cgi/crm/v2/data/query")
        if api_name not in self._state.data.objects:
            raise ApiError(10001, f"对象{api_name}不存在或未启用")
        return self._serve_rows(user, data, api_name)

    def _crm_log(self, body: dict) -> dict:
        """``POST /cgi/crm/crmLog/query``: field-change log entries (here: OpportunityObj stages).

        The request and answer shapes are the sandbox's reading of an undocumented API (crm_apis
        §2.6): ``data.apiName`` (object), optional ``data.fieldApiName``, and the same
        ``search_query_info`` as data/query (filters/orders on ``operateTime``, offset/limit).
        """
        user, data = self._caller(body)
        api_name = data.get("apiName")
        if not api_name:
            raise ApiError(10001, "apiName为必填项，不能为空")
        field_name = data.get("fieldApiName")

        def member(r: dict) -> bool:
            return r["apiName"] == api_name and (not field_name or r["fieldApiName"] == field_name)

        return self._serve_rows(
            user, data, CRM_LOG, member=member, default_order="operateTime", subset=(api_name, field_name)
        )

    def _serve_rows(
        self,
        user: str,
        data: dict,
        api_name: str,
        *,
        member: Callable[[dict], bool] = lambda r: True,
        default_order: str = "last_modified_time",
        subset: tuple = (),
    ) -> dict:
        """A data/query page of the ``api_name`` rows ``member`` is true of (``subset`` names that
        choice in the kept orders' keys)."""
        info = data.get("search_query_info") or {}
        limit, offset = info.get("limit", 20), info.get("offset", 0)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ApiError(10001, f"limit最大为{MAX_LIMIT}")
        if not isinstance(offset, int) or offset < 0 or offset % limit:
            raise ApiError(10001, "offset必须是limit的整数倍")
        faults = self._state.faults
        if faults.max_offset is not None and offset > faults.max_offset:
            raise ApiError(10001, f"offset不能大于{faults.max_offset}")
        filters = info.get("filters") or []
        for flt in filters:
            if not isinstance(flt, dict) or flt.get("operator") not in _OPERATORS:
                raise ApiError(10001, f"不支持的过滤条件{flt}")
        store = self._state.data.objects[api_name]
        # a generator: the keyset path reads it only when it builds its kept order
        source = ((pos, r) for pos, r in store.records() if member(r))
        orders = info.get("orders") or [{"fieldName": default_order, "isAsc": False}]
        found = self._keyset_window(user, api_name, (subset, member), source, orders, filters)
        if found is not None:
            seq, lo, hi = found
            page, total = seq[min(hi, lo + offset) : min(hi, lo + offset + limit)], hi - lo
        else:
            matched = self._filtered(user, (r for _, r in source), filters)
            page, total = _sort(matched, orders)[offset : offset + limit], len(matched)
        projection = info.get("fieldProjection")
        out = [
            {k: v for k, v in r.items() if k in projection or k == "_id"} if projection else r for r in page
        ]
        result: dict[str, Any] = {"dataList": copy.deepcopy(out), "offset": offset, "limit": limit}
        if data.get("find_explicit_total_num", True) is not False:
            result["total"] = total
        if faults.modify_during_paging > 0 and page and faults.modify_after_pages > 0:
            faults.modify_after_pages -= 1
        elif faults.modify_during_paging > 0 and page:
            now_ms = to_ms(self._clock())
            moved = [
                store.position(r["_id"]) for r in page[: faults.modify_during_paging] if r["_id"] in store
            ]
            before = {pos: dict(store.at(pos)) for pos in moved}
            for pos in moved:
                touch(store.pin(store.key_at(pos)), now_ms)
            faults.modify_during_paging = 0
            self._state.orders.moved(api_name, store, before)
        return {**error_body(0, "success"), "data": result}

    def _filtered(self, user: str, rows: Iterable[dict], filters: list[dict]) -> list[dict]:
        """The general path: the rows the caller may see, the invalid ones if asked, filtered."""
        rows = list(rows)
        if not self._state.faults.return_invalid:
            rows = [r for r in rows if r.get("life_status") != "invalid"]
        if user != self.ADMIN_OPEN_USER_ID:  # data permissions follow the calling user
            rows = [r for r in rows if user in (r.get("owner") or r.get("operator") or [])]
        for flt in filters:
            rows = [r for r in rows if _matches(r, flt)]
        return rows

    def _keyset_window(
        self,
        user: str,
        api_name: str,
        shape: tuple[tuple, Callable[[dict], bool]],
        rows: Iterable[tuple[int, dict]],
        orders: list[dict],
        filters: list[dict],
    ) -> tuple[RecordsView, int, int] | None:
        """The connector's keyset, instant and sweep pages (admin caller; the orders and ranges
        :func:`~flows.sandbox.fxiaoke.store.keyset_order` names) from a kept order; None for any
        other query."""
        field = keyset_order(orders, filters)
        if field is None or user != self.ADMIN_OPEN_USER_ID:
            return None
        valid_only = not self._state.faults.return_invalid
        subset, member = shape

        def keep(r: dict) -> bool:
            return member(r) and (not valid_only or r.get("life_status") != "invalid")

        def visible() -> Iterable[tuple[int, dict]]:
            return (pr for pr in rows if not valid_only or pr[1].get("life_status") != "invalid")

        store = self._state.data.objects[api_name]
        key = (api_name, subset, field, valid_only)
        ordered = self._state.orders.sorted_rows(key, field, visible, keep)
        return ordered.window(filters, store.at) if ordered is not None else None


_OPERATORS = frozenset({"EQ", "N", "IN", "NIN", "IS", "ISN", "GT", "GTE", "LT", "LTE", "BETWEEN"})


def _matches(rec: dict, flt: dict) -> bool:
    """One data/query filter. Values compare as given (ms numbers for time fields)."""
    name, op, values = flt.get("field_name"), flt.get("operator"), flt.get("field_values") or []
    value = rec.get(name)
    first = values[0] if values else None
    try:
        if op == "EQ":
            return value == first or str(value) == str(first)
        if op == "N":
            return not (value == first or str(value) == str(first))
        if op == "IN":
            return value in values or str(value) in {str(v) for v in values}
        if op == "NIN":
            return not (value in values or str(value) in {str(v) for v in values})
        if op == "IS":
            return value is None
        if op == "ISN":
            return value is not None
        if value is None:
            return False
        if op == "GT":
            return value > first
        if op == "GTE":
            return value >= first
        if op == "LT":
            return value < first
        if op == "LTE":
            return value <= first
        if op == "BETWEEN":
            return values[0] <= value <= values[1]
    except (TypeError, IndexError):
        raise ApiError(10001, f"过滤条件{name}的值不合法") from None
    raise ApiError(10001, f"不支持的操作符{op}")


def _sort(rows: list[dict], orders: list[dict]) -> list[dict]:
    """Stable multi-key sort; ``None`` sorts first ascending, like the CRM's nulls."""
    for order in reversed(orders):
        name = order.get("fieldName")
        rows = sorted(
            rows,
            key=lambda r, n=name: (r.get(n) is not None, r.get(n) if r.get(n) is not None else 0),
            reverse=not order.get("isAsc", True),
        )
    return rows
