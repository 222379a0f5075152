"""Metadata endpoints of the Zoho sandbox: ``/users``, ``/settings/fields`` and
``/settings/pipeline`` (the Standard and Renewals pipelines of the Deals layout)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from flows.sandbox.company.model import Company
from flows.sandbox.httpd import Reply
from flows.sandbox.zoho.encoding.fields import field_metadata
from flows.sandbox.zoho.encoding.wire import PIPELINE, ZohoRow, zoho_id
from flows.sandbox.zoho.faults import ZohoFaults
from flows.sandbox.zoho.protocol import (
    RENEWALS_PIPELINE,
    USER_TYPES,
    error,
    json_answer,
)


class SettingsEndpoints:
    """Mixed into :class:`~flows.sandbox.zoho.server.ZohoSandbox`: users and org settings."""

    company: Company
    faults: ZohoFaults
    _lock: threading.RLock
    _users: list[ZohoRow]
    _deleted_owner_id: str | None
    _disabled_user_id: str | None

    _page_params: Callable[[dict[str, str]], tuple[int, int]]  # from RecordEndpoints
    _api_module: Callable[[str], str]  # from ZohoSandbox

    def _users_list(self, query: dict[str, str]) -> Reply:
        kind = query.get("type", "AllUsers")
        if kind not in USER_TYPES:
            return error(400, "INVALID_DATA", "invalid data", {"param_name": "type"})
        page, per_page = self._page_params(query)
        with self._lock:
            users = [dict(u.record) for u in self._users]
            if self.faults.deleted_users:
                for u in users:
                    if u["id"] == self._deleted_owner_id:
                        u["status"] = "deleted"
                    elif u["id"] == self._disabled_user_id:
                        u["status"] = "disabled"
        if kind == "ActiveUsers":
            users = [u for u in users if u["status"] == "active"]
        elif kind == "DeactiveUsers":
            users = [u for u in users if u["status"] in ("inactive", "disabled")]
        elif kind == "DeletedUsers":
            users = [u for u in users if u["status"] == "deleted"]
        chunk = users[(page - 1) * per_page : page * per_page]
        if not chunk:
            return Reply(204)
        more = page * per_page < len(users)
        info = {"per_page": per_page, "count": len(chunk), "page": page, "more_records": more}
        return json_answer(200, {"users": json.loads(json.dumps(chunk)), "info": info})

    def _fields(self, query: dict[str, str]) -> Reply:
        module = query.get("module")
        if not module:
            return error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "module"},
            )
        return json_answer(
            200, {"fields": field_metadata(self._api_module(module), self.faults.extra_custom_fields)}
        )

    def pipelines(self) -> list[dict[str, Any]]:
        """The two pipelines of the Deals standard layout, as ``/settings/pipeline`` lists them."""
        stages = self.company.pipelines.get("zoho") or []
        forecast = {
            "open": ("Open", "Pipeline"),
            "won": ("Closed Won", "Closed"),
            "lost": ("Closed Lost", "Closed"),
        }

        def maps(subset: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
            out = []
            for seq, (name, prob, cat) in enumerate(subset, start=1):
                ftype, fcat = forecast.get(cat, ("Open", "Pipeline"))
                display = {
                    "Id. Decision Makers": "Identify Decision Makers",
                    "Closed Lost to Competition": "Closed-Lost to Competition",
                }.get(name, name)
                out.append(
                    {
                        "display_value": display,
                        "actual_value": name,
                        "sequence_number": seq,
                        "probability": prob,
                        "forecast_type": ftype,
                        "forecast_category": {"name": fcat, "id": zoho_id("stages", 900 + len(fcat))},
                        "id": zoho_id("stages", seq),
                    }
                )
            return out

        renewal = [s for s in stages if s[0] in ("Needs Analysis", "Negotiation/Review") or s[2] != "open"]
        return [
            {
                "display_value": "Standard",
                "actual_value": PIPELINE["name"],
                "default": True,
                "child_available": False,
                "parent": None,
                "id": zoho_id("pipelines", 1),
                "maps": maps(stages),
            },
            {
                "display_value": RENEWALS_PIPELINE,
                "actual_value": RENEWALS_PIPELINE,
                "default": False,
                "child_available": False,
                "parent": None,
                "id": zoho_id("pipelines", 2),
                "maps": maps(renewal),
            },
        ]

    def layout_id(self) -> str:
        return zoho_id("layouts", 1)

    def _pipelines(self, query: dict[str, str]) -> Reply:
        layout = query.get("layout_id")
        if not layout:
            return error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "layout_id"},
            )
        if layout != self.layout_id():
            return error(
                400, "INVALID_DATA", "the given layout id seems to be invalid", {"param_name": "layout_id"}
            )
        return json_answer(200, {"pipeline": self.pipelines()})
