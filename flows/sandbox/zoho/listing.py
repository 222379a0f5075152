"""Record endpoints of the Zoho sandbox: listings (``GET /{Module}``) with page and page_token
paging, ``If-Modified-Since``, field projection and the listing faults; a single record; the Deals
``Stage_History`` related list; the recycle bin (``GET /{Module}/deleted``)."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flows.sandbox.company.model import Company
from flows.sandbox.httpd import Reply
from flows.sandbox.zoho.encoding.fields import STAGE_HISTORY_FIELDS
from flows.sandbox.zoho.encoding.records import ZohoEncoder
from flows.sandbox.zoho.encoding.wire import (
    RICH_TEXT_FIELDS,
    RICH_TEXT_LIST_LIMIT,
    ZohoRow,
    parse_zoho_datetime,
    zoho_id,
)
from flows.sandbox.zoho.faults import ZohoFaults
from flows.sandbox.zoho.protocol import (
    CUSTOM_STAGE,
    DISCRETE_LIMIT,
    MAX_FIELDS,
    MAX_PER_PAGE,
    RENEWALS_PIPELINE,
    RETENTION,
    SORT_KEYS,
    TOKEN_LIMIT,
    BadRequest,
    PageToken,
    error,
    invalid_param,
    json_answer,
)
from flows.sandbox.zoho.store import ModuleRows


class RecordEndpoints:
    """Mixed into :class:`~flows.sandbox.zoho.server.ZohoSandbox`: the record-reading endpoints."""

    company: Company
    encoder: ZohoEncoder
    faults: ZohoFaults
    clock: Callable[[], datetime]
    page_token_requests: int
    _lock: threading.RLock
    _rows: dict[str, ModuleRows]
    _history: dict[str, list[ZohoRow]]
    _deleted: dict[str, list[tuple[datetime, dict[str, Any]]]]
    _page_tokens: dict[str, PageToken]
    _last_served: dict[str, dict[str, Any]]

    _touch: Callable[..., None]  # from Simulation
    _deal_history: Callable[[str], list[ZohoRow]]  # from Simulation

    def _page_params(self, query: dict[str, str]) -> tuple[int, int]:
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", str(MAX_PER_PAGE)))
        except ValueError as exc:
            raise BadRequest(error(400, "INVALID_DATA", "invalid data", {"param_name": "page"})) from exc
        if per_page > MAX_PER_PAGE or per_page < 1:
            raise BadRequest(
                error(
                    400,
                    "LIMIT_EXCEEDED",
                    "per_page exceeds the limit",
                    {"param_name": "per_page", "limit": MAX_PER_PAGE},
                )
            )
        if page < 1:
            raise BadRequest(error(400, "INVALID_DATA", "invalid data", {"param_name": "page"}))
        return page, per_page

    def _since(self, headers: Any) -> datetime | None:
        value = headers.get("If-Modified-Since")
        if not value:
            return None
        try:
            return parse_zoho_datetime(value).astimezone(UTC)
        except ValueError as exc:
            raise BadRequest(
                error(400, "INVALID_DATA", "invalid If-Modified-Since", {"header_name": "If-Modified-Since"})
            ) from exc

    @staticmethod
    def _requested_fields(query: dict[str, str]) -> list[str]:
        """The ``fields`` parameter, which record listings and related lists require."""
        requested = [f for f in (query.get("fields") or "").split(",") if f.strip()]
        if not requested:
            raise BadRequest(
                error(
                    400,
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "fields"},
                )
            )
        return requested

    def _records(self, module: str, query: dict[str, str], headers: Any) -> Reply:
        """``GET /{Module}``: one page of records (``page`` up to 2000 records, then ``page_token``)."""
        requested, page, per_page, sort_by, sort_order = self._listing_params(query)
        since = self._since(headers)
        now = self.clock()
        signature = (
            tuple(sorted((k, v) for k, v in query.items() if k not in ("page", "page_token"))),
            headers.get("If-Modified-Since"),
        )
        with self._lock:
            offset, page = self._listing_offset(query, page, per_page, signature, now)
            store, tag = self._rows[module], self._listing_tag(module, query)
            found = store.page(tag, sort_by, sort_order == "desc", offset, per_page, since)
            if not found.matched:
                return Reply(304) if since is not None and store.has(tag) else Reply(204)
            chunk, more = found.rows, found.more
            info: dict[str, Any] = {
                "call": False,
                "per_page": per_page,
                "count": len(chunk),
                "page": page,
                "sort_by": sort_by,
                "sort_order": sort_order,
                "email": False,
                "more_records": more,
                "next_page_token": None,
                "previous_page_token": None,
                "page_token_expiry": None,
            }
            if more:
                next_token = secrets.token_hex(12)
                expires = now + timedelta(hours=24)
                self._page_tokens[next_token] = PageToken(signature, offset + per_page, expires)
                info["next_page_token"], info["page_token_expiry"] = next_token, self.encoder.dt(expires)
            data = [self._project(r.record, requested) for r in chunk]
            payload = self._listing_faults(module, data, info)
            f = self.faults
            if f.modify_after_first_page > 0 and "page_token" not in query and page == 1 and more and chunk:
                touched_at = self.now()
                for row in chunk[: f.modify_after_first_page]:
                    self._touch(module, row.rid, touched_at, mutate=True)
                f.modify_after_first_page = 0
            return json_answer(200, payload)

    def _listing_params(self, query: dict[str, str]) -> tuple[list[str], int, int, str, str]:
        """Requested fields, page, per_page, sort_by and sort_order, validated as Zoho does."""
        requested = self._requested_fields(query)
        if len(requested) > MAX_FIELDS:
            raise BadRequest(
                error(
                    400,
                    "LIMIT_EXCEEDED",
                    "the number of fields exceeds the limit",
                    {"param_name": "fields", "limit": MAX_FIELDS},
                )
            )
        if "page" in query and "page_token" in query:
            raise BadRequest(
                error(
                    400,
                    "AMBIGUITY_DURING_PROCESSING",
                    "page and page_token cannot be given together",
                    {"ambiguity_due_to": ["page", "page_token"]},
                )
            )
        page, per_page = self._page_params(query)
        sort_by, sort_order = query.get("sort_by", "id"), query.get("sort_order", "desc")
        if sort_by not in SORT_KEYS or sort_order not in ("asc", "desc"):
            raise BadRequest(invalid_param("sort_by"))
        return requested, page, per_page, sort_by, sort_order

    def _listing_offset(
        self, query: dict[str, str], page: int, per_page: int, signature: tuple, now: datetime
    ) -> tuple[int, int]:
        """Where the page starts, and its number: from ``page`` (first 2000 records only) or from a
        ``page_token`` bound to the same parameters."""
        if "page_token" not in query:
            offset = (page - 1) * per_page
            if offset + per_page > DISCRETE_LIMIT:
                raise BadRequest(
                    error(
                        400,
                        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                        "You can only get the first 2000 records without using page_token param",
                        {"limit": DISCRETE_LIMIT},
                    )
                )
            return offset, page
        self.page_token_requests += 1
        token = self._page_tokens.get(query["page_token"])
        if token is None:
            raise BadRequest(invalid_param("page_token", "the given page_token is invalid"))
        if now >= token.expires:
            raise BadRequest(invalid_param("page_token", "the page_token has expired", "EXPIRED_VALUE"))
        if token.signature != signature:
            raise BadRequest(
                invalid_param(
                    "page_token", "parameters differ from the page_token's", "TOKEN_BOUND_DATA_MISMATCH"
                )
            )
        if token.offset >= TOKEN_LIMIT:
            raise BadRequest(
                error(
                    400,
                    "PAGINATION_LIMIT_EXCEEDED",
                    "cannot fetch more than 100000 records",
                    {"limit": TOKEN_LIMIT},
                )
            )
        return token.offset, token.offset // per_page + 1

    @staticmethod
    def _listing_tag(module: str, query: dict[str, str]) -> str | None:
        """The rows a listing reads: Leads only converted or not, as ``converted`` asks (default
        false); every row of other modules."""
        if module != "Leads":
            return None
        converted = query.get("converted", "false")
        if converted not in ("true", "false", "both"):
            raise BadRequest(invalid_param("converted"))
        return None if converted == "both" else converted

    def _listing_faults(
        self, module: str, data: list[dict[str, Any]], info: dict[str, Any]
    ) -> dict[str, Any]:
        """The page as sent: with a repeated record, emptied, or without ``info`` when a fault says so."""
        f = self.faults
        previous = self._last_served.get(module)
        if data:
            self._last_served[module] = data[-1]
        if f.duplicate_ids > 0 and previous is not None and data:
            f.duplicate_ids -= 1
            data.insert(0, json.loads(json.dumps(previous)))
            info["count"] = len(data)
        if f.empty_pages_with_more > 0:
            f.empty_pages_with_more -= 1
            data, info["count"], info["more_records"] = [], 0, True
        payload: dict[str, Any] = {"data": data, "info": info}
        if f.missing_info > 0:
            f.missing_info -= 1
            del payload["info"]
        return payload

    def _project(
        self, record: dict[str, Any], requested: list[str], *, listing: bool = True
    ) -> dict[str, Any]:
        """Only requested fields (+id), ``null`` for unknown ones, ``$`` keys always (as Zoho does).
        In a listing, rich-text fields are cut to 500 characters (the full text needs a single GET)."""
        record = self._variant(record)
        out: dict[str, Any] = {"id": record["id"]}
        for name in requested:
            out[name] = record.get(name)
            if listing and name in RICH_TEXT_FIELDS and isinstance(out[name], str):
                out[name] = out[name][:RICH_TEXT_LIST_LIMIT]
        out.update({k: v for k, v in record.items() if k.startswith("$")})
        if record["id"] in self.faults.omit_modified_time:
            out.pop("Modified_Time", None)
        return json.loads(json.dumps(out))  # a copy: later mutations must not leak into a sent page

    def _variant(self, record: dict[str, Any]) -> dict[str, Any]:
        """``pipeline_variety``: every 5th deal in the Renewals pipeline, every 7th in a custom stage
        that no pipeline lists (a stage renamed or added after the fact)."""
        if not self.faults.pipeline_variety or "Deal_Name" not in record:
            return record
        key = int(record["id"][-9:])
        if key % 7 == 0 and record.get("Stage") not in ("Closed Won", "Closed Lost"):
            record = dict(record, Stage=CUSTOM_STAGE)
        if key % 5 == 0:
            record = dict(record, Pipeline={"name": RENEWALS_PIPELINE, "id": zoho_id("pipelines", 2)})
        return record

    def _one_record(self, module: str, rid: str) -> Reply:
        """``GET /{Module}/{id}``: every field, rich text in full."""
        with self._lock:
            row = self._rows[module].get(rid)
            if row is None:
                return Reply(204)
            fields_ = [k for k in row.record if k != "id" and not k.startswith("$")]
            return json_answer(200, {"data": [self._project(row.record, fields_, listing=False)]})

    def _stage_history(self, deal_id: str, query: dict[str, str]) -> Reply:
        """``GET /Deals/{id}/Stage_History`` (related list): ``fields`` required, newest first."""
        requested = self._requested_fields(query)
        page, per_page = self._page_params(query)
        with self._lock:
            if deal_id not in self._rows["Deals"]:
                return error(400, "INVALID_DATA", "the related id given seems to be invalid", {"id": deal_id})
            rows = sorted(self._deal_history(deal_id), key=lambda r: (r.modified, r.rid), reverse=True)
            chunk = rows[(page - 1) * per_page : page * per_page]
            if not chunk:
                return Reply(204)
            data = []
            for r in chunk:
                item = {"id": r.record["id"]}
                item.update({name: r.record.get(name) for name in requested if name in STAGE_HISTORY_FIELDS})
                data.append(json.loads(json.dumps(item)))
        more = page * per_page < len(rows)
        info = {"per_page": per_page, "count": len(data), "page": page, "more_records": more}
        return json_answer(200, {"data": data, "info": info})

    def _deleted_list(self, module: str, query: dict[str, str], headers: Any) -> Reply:
        kind = query.get("type", "all")
        if kind not in ("all", "recycle", "permanent"):
            return error(400, "INVALID_DATA", "invalid data", {"param_name": "type"})
        page, per_page = self._page_params(query)
        since = self._since(headers)
        now = self.clock()
        with self._lock:
            entries = [
                (at, e)
                for at, e in self._deleted[module]
                if (kind == "all" or e["type"] == kind)
                and now - at <= RETENTION[e["type"]]
                and (since is None or at >= since)
            ]
        entries.sort(key=lambda item: (item[0], item[1]["id"]), reverse=True)
        chunk = [dict(e) for _, e in entries[(page - 1) * per_page : page * per_page]]
        if not chunk:
            return Reply(204)
        more = page * per_page < len(entries)
        return json_answer(
            200,
            {
                "data": chunk,
                "info": {"per_page": per_page, "count": len(chunk), "page": page, "more_records": more},
            },
        )
