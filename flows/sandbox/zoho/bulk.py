"""Zoho CRM Bulk Read (``/crm/bulk/v8/read``) on the Zoho sandbox: create a job, poll it, download
its result (a zip holding one CSV), 200,000 records per page.

A job moves one state per status poll: ``ADDED``, ``IN PROGRESS``, then ``COMPLETED`` (or
``FAILURE`` when ``faults.bulk_failures`` says so); the records are chosen when the job
completes, ordered by id, and encoded when the result is downloaded. Criteria may compare
``Modified_Time`` and ``Created_Time`` (``equal``, ``greater_than``, ``greater_equal``,
``less_than``, ``less_equal``, ``between``; groups joined by ``and``). Lookups export as the
looked-up record's id, as Zoho's CSV does. See docs/sandbox.md ("Bulk Read").
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.sandbox.httpd import Reply
from flows.sandbox.zoho.bulk_query import BulkQuery, parse_query
from flows.sandbox.zoho.encoding.records import ZohoEncoder
from flows.sandbox.zoho.encoding.wire import ORG_PREFIX, ZohoRow
from flows.sandbox.zoho.faults import ZohoFaults
from flows.sandbox.zoho.protocol import BadRequest, error, json_answer
from flows.sandbox.zoho.store import ModuleRows

BULK_PREFIX = "/crm/bulk/v8"
#: Records per result page (Zoho: 200,000).
BULK_PAGE = 200_000
_STATES = ("ADDED", "IN PROGRESS", "COMPLETED")
#: CSV rows encoded per write into the zip entry.
_CSV_CHUNK = 5_000


@dataclass
class BulkJob:
    id: str
    query: BulkQuery
    created_time: datetime
    created_by: dict[str, str]
    state: str = "ADDED"
    #: ids of the records of the job's page, chosen when it completes
    rids: list[str] = field(default_factory=list)
    more: bool = False
    next_page_token: str | None = None


class BulkRead:
    """Mixed into :class:`~flows.sandbox.zoho.server.ZohoSandbox`: the Bulk Read endpoints."""

    encoder: ZohoEncoder
    faults: ZohoFaults
    api_url: str
    _lock: threading.RLock
    _rows: dict[str, ModuleRows]
    _bulk_jobs: dict[str, BulkJob]
    _bulk_tokens: dict[str, tuple[BulkQuery, int]]
    now: Callable[[], datetime]

    def _bulk(self, method: str, route: list[str], body: bytes) -> Reply:
        """``POST /read`` creates a job; ``GET /read/{id}`` its status; ``GET /read/{id}/result`` the zip."""
        try:
            if route == ["read"] and method == "POST":
                return self._bulk_create(body)
            if len(route) == 2 and route[0] == "read" and method == "GET":
                return self._bulk_status(route[1])
            if len(route) == 3 and route[0] == "read" and route[2] == "result" and method == "GET":
                return self._bulk_result(route[1])
        except BadRequest as bad:
            return bad.reply
        return error(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")

    def _bulk_create(self, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return error(400, "INVALID_DATA", "the body is not valid JSON")
        if not isinstance(payload, dict):
            return error(400, "INVALID_DATA", "the body is not a JSON object")
        with self._lock:
            query = parse_query(payload.get("query"), self._rows, self._bulk_tokens)
            job_id = f"{ORG_PREFIX}{900 + len(self._bulk_jobs) // 10**9:03d}{len(self._bulk_jobs) + 1:09d}"
            owner = self.encoder.company.users[0] if self.encoder.company.users else None
            created_by = self.encoder.user_lookup(owner.key) if owner else {"id": None, "name": None}
            job = BulkJob(job_id, query, self.now(), created_by or {})
            self._bulk_jobs[job_id] = job
            details = {
                "id": job_id,
                "operation": "read",
                "state": job.state,
                "created_by": job.created_by,
                "created_time": self.encoder.dt(job.created_time),
            }
        answer = {"status": "success", "code": "ADDED_SUCCESSFULLY", "message": "Added successfully."}
        return json_answer(201, {"data": [answer | {"details": details}], "info": {}})

    def _bulk_job(self, job_id: str) -> BulkJob:
        job = self._bulk_jobs.get(job_id)
        if job is None:
            raise BadRequest(
                error(400, "INVALID_DATA", "the job id given seems to be invalid", {"id": job_id})
            )
        return job

    def _bulk_status(self, job_id: str) -> Reply:
        """The job, one state further than at the previous poll."""
        with self._lock:
            job = self._bulk_job(job_id)
            if job.state in _STATES[:-1]:
                job.state = _STATES[_STATES.index(job.state) + 1]
                if job.state == "COMPLETED":
                    if self.faults.bulk_failures > 0:
                        self.faults.bulk_failures -= 1
                        job.state = "FAILURE"
                    else:
                        self._bulk_complete(job)
            item: dict[str, Any] = {
                "id": job.id,
                "operation": "read",
                "state": job.state,
                "query": job.query.as_json(),
                "created_by": job.created_by,
                "created_time": self.encoder.dt(job.created_time),
                "file_type": "csv",
            }
            if job.state == "COMPLETED":
                item["result"] = {
                    "page": job.query.page,
                    "per_page": BULK_PAGE,
                    "count": len(job.rids),
                    "download_url": f"{BULK_PREFIX}/read/{job.id}/result",
                    "more_records": job.more,
                    "next_page_token": job.next_page_token,
                }
        return json_answer(200, {"data": [item]})

    def _bulk_complete(self, job: BulkJob) -> None:
        """Choose the page's records (now, as Zoho reads them when the job runs)."""
        query = job.query
        rids = query.matching(self._rows[query.module])
        start = (query.page - 1) * BULK_PAGE
        job.rids = list(rids[start : start + BULK_PAGE])
        job.more = start + BULK_PAGE < len(rids)
        if job.more:
            job.next_page_token = secrets.token_hex(16)
            self._bulk_tokens[job.next_page_token] = (query, query.page + 1)

    def _bulk_result(self, job_id: str) -> Reply:
        with self._lock:
            job = self._bulk_job(job_id)
            if job.state != "COMPLETED":
                return error(400, "INVALID_REQUEST", "the job is not completed", {"state": job.state})
            rows = [self._rows[job.query.module].get(rid) for rid in job.rids]
            data = _zip_csv(f"{job.id}.csv", job.query, [r for r in rows if r is not None])
        return Reply(
            200,
            data,
            "application/x-download",
            headers={"Content-Disposition": f'attachment; filename="{job.id}.zip"'},
        )


def _zip_csv(name: str, query: BulkQuery, rows: list[ZohoRow]) -> bytes:
    """The rows as one CSV (``Id`` first, then the fields asked for, else every field) in a zip.

    Streamed: each record is encoded, written and dropped (a 200,000-record page held as encoded
    dicts cost ~600 MiB at 1M deals). The zip entry is made as ``writestr`` makes it (a timestamp
    of now, mode 0600), so the archive's bytes are what they were when the CSV was built whole."""
    fields = query.fields or _all_fields([rows[0].record] if rows else [])
    entry = zipfile.ZipInfo(name, date_time=time.localtime(time.time())[:6])
    entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(entry, "w") as raw:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["Id", *fields])
        for n, row in enumerate(rows, 1):
            rec = row.record
            writer.writerow([rec["id"], *(csv_value(rec.get(f)) for f in fields)])
            if n % _CSV_CHUNK == 0:
                raw.write(text.getvalue().encode("utf-8"))
                text.seek(0)
                text.truncate()
        raw.write(text.getvalue().encode("utf-8"))
    return buffer.getvalue()


def _all_fields(records: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for rec in records[:1]:
        names.update({k: None for k in rec if k != "id" and not k.startswith("$")})
    return list(names)


def csv_value(value: Any) -> str:
    """A field as Zoho's bulk CSV writes it: a lookup as its id, booleans lower case, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("id") or "")
    if isinstance(value, list):
        return ";".join(csv_value(v) for v in value)
    if isinstance(value, float):
        return json.dumps(value)
    return str(value)
