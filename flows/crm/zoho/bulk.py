"""Zoho Bulk Read for first loads: one asynchronous CSV export instead of a listing call per 200 rows.

Why: a first load (no cursor, or a full refresh) of a large module costs ``n / 200`` listing calls
through the REST API; a Bulk Read job exports 200,000 records per page for a handful of calls
(create, poll, download). Incremental runs stay on the REST listing (``If-Modified-Since``), which
is cheaper for the few records a night changes. The CSV gives every value as text and lookups as
the looked-up id only, so rows are converted per the module's field metadata (``/settings/fields``)
and lookup names come from the records already landed (users, accounts, contacts, products: the
ingest step lends the warehouse, :class:`flows.crm.landed_rows.LandedRows`), so the raw row has the
REST listing's field names and types. What the CSV cannot carry, the ``$`` metadata keys the REST
listing adds (``$approval_state``, ``$currency_symbol`` ...), is absent until the record is next
read through REST. docs/connectors.md ("Bulk Read for first loads") has the details.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.sessions import Response
from flows.crm.zoho.bulk_csv import Export, RecordBuilder
from flows.crm.zoho.objects import BULK_MODULES, LOOKUP_TARGETS
from flows.crm.zoho.reads import cursor_value
from flows.gc_pause import collector_paused

log = logging.getLogger(__name__)

BULK_PREFIX = "/crm/bulk/v8/read"
#: Rows per landed page (one transaction); a bulk result page holds up to 200,000. Only the last
#: page of a job carries the cursor, so a bigger batch changes nothing a rerun sees; it saves the
#: per-transaction cost of the upsert (measured: 2,000 -> 10,000 rows cut landing a 10k-deal
#: export from 6 upserts to 2).
LAND_BATCH = 10_000
#: Seconds before the second status poll (the first is right after creating the job), doubling up to
#: POLL_MAX.
POLL_FIRST = 0.25
POLL_MAX = 30.0
#: How a lookup's name is found in its landed record: raw object -> the record's name key(s).
NAME_KEYS = {
    "users": ("full_name", "email"),
    "accounts": ("Account_Name",),
    "contacts": ("Full_Name",),
    "products": ("Product_Name",),
    "deals": ("Deal_Name",),
    "sales_orders": ("Subject",),
}


class ZohoBulkRead:
    """The Bulk Read half of :class:`flows.crm.zoho.connector.ZohoConnector` (a mixin)."""

    api_version: str
    bulk_min_records: int | None
    bulk_max_wait: float
    landed: Any
    _sleep: Callable[[float], None]
    _field_types: dict[str, dict[str, dict]]
    _picklist_cache: dict[str, dict[str, Any]]

    if TYPE_CHECKING:

        def _get(
            self, obj: str, path: str, params: dict, headers: dict, *, gone_ok: bool = False
        ) -> dict | None: ...

        def _call(self, obj: str, method: str, path: str, **kwargs: Any) -> Response: ...

        def _fields(self, obj: str, module: str) -> list[str]: ...

        def _count(self, obj: str, name: str, n: int) -> None: ...

        def stats(self, obj: str) -> CallStats: ...

    def _bulk_wanted(self, obj: str, module: str) -> bool:
        """A first load of a large module: Bulk Read when configured, the warehouse is lent (for
        the lookup names) and the record count (one cheap call) reaches the threshold."""
        if self.bulk_min_records is None or module not in BULK_MODULES or self.landed is None:
            return False
        try:
            body = self._get(obj, f"/{module}/actions/count", {}, {})
        except CrmError as exc:  # an API without the count: the REST listing is always correct
            log.warning("zoho %s: record count unavailable (%s); reading through the REST listing", obj, exc)
            return False
        finally:
            self._count(obj, "bulk_calls", 1)
        count = (body or {}).get("count")
        if not isinstance(count, int):
            log.info("zoho %s: no record count for %s; reading it through the REST listing", obj, module)
            return False
        return count >= self.bulk_min_records

    def _bulk_pages(self, obj: str, module: str) -> Iterator[Page]:
        """Every record of ``module`` through Bulk Read jobs (one per 200,000-row page); the cursor
        (newest ``Modified_Time``) comes with the last page, as the export is ordered by id.

        Python's cycle collector is paused until the last page is landed: a page's 200,000 CSV
        rows and records stay alive while it is converted and landed, and the collector's full
        passes over them were a sixth of the landing's CPU at 100k deals (flows/gc_pause.py)."""
        with collector_paused():
            yield from self._bulk_jobs(obj, module)

    def _bulk_jobs(self, obj: str, module: str) -> Iterator[Page]:
        fields = self._fields(obj, module)
        query: dict[str, Any] = {"module": {"api_name": module}, "fields": fields, "page": 1}
        high: datetime | None = None
        while True:
            job_id = self._bulk_create(obj, module, query)
            result = self._bulk_wait(obj, module, job_id)
            export = self._bulk_download(obj, module, job_id, result)
            more = bool(result.get("more_records"))
            types = self._field_types.get(module, {})
            names = self._lookup_names(obj, module, export, types)
            names.update(self._picklist_names(obj, module, export, types))
            where = f"zoho {obj}: Bulk Read job {job_id} ({module})"
            build = RecordBuilder(export.header, types, names, where) if export.rows else None
            rows = export.rows
            for start in range(0, len(rows), LAND_BATCH):
                records = build.records(rows[start : start + LAND_BATCH]) if build else []
                for rec in records:
                    if rec.modified_at and (high is None or rec.modified_at > high):
                        high = rec.modified_at
                last = not more and start + LAND_BATCH >= len(rows)
                yield Page(records, cursor=(obj, cursor_value(high)) if last and high else None)
            self._count(obj, "listed_bulk", len(export))
            if not more:
                if not export:
                    yield Page([])
                return
            token = result.get("next_page_token")
            query = {"page_token": token} if token else dict(query, page=query["page"] + 1)

    def _bulk_create(self, obj: str, module: str, query: dict[str, Any]) -> str:
        resp = self._call(obj, "POST", BULK_PREFIX, json={"query": query})
        body = _json(resp)
        details = ((body.get("data") or [{}])[0] or {}).get("details") or {}
        if resp.status_code != 201 or not details.get("id"):
            raise CrmError(
                f"zoho {obj}: creating a Bulk Read job for {module} failed: HTTP {resp.status_code} "
                f"{body.get('code') or ''} {body.get('message') or ''}".rstrip()
            )
        self._count(obj, "bulk_calls", 1)
        return str(details["id"])

    def _bulk_wait(self, obj: str, module: str, job_id: str) -> dict:
        """Poll the job with backoff (0.25 s doubling to 30 s) for up to ``bulk_max_wait`` seconds.

        Why start small: Zoho's Bulk Read overview leaves polling "periodically" to the client
        (no minimum interval), and a small export completes in well under a second; a first wait of
        1 s was most of a small first load. Doubling keeps a long job's polls (one API call each)
        nearly as few as before: a 10-minute job takes 27 polls, against 25 starting at 1 s."""
        waited, delay = 0.0, POLL_FIRST
        while True:
            resp = self._call(obj, "GET", f"{BULK_PREFIX}/{job_id}")
            body = _json(resp)
            job = (body.get("data") or [{}])[0] or {}
            state = job.get("state")
            if resp.status_code != 200:
                raise CrmError(
                    f"zoho {obj}: Bulk Read job {job_id} ({module}): status HTTP {resp.status_code}"
                )
            if state == "COMPLETED":
                self._count(obj, "bulk_calls", 1)
                return job.get("result") or {}
            if state == "FAILURE":
                raise CrmError(f"zoho {obj}: Bulk Read job {job_id} ({module}) ended in FAILURE")
            if waited >= self.bulk_max_wait:
                raise CrmError(
                    f"zoho {obj}: Bulk Read job {job_id} ({module}) still {state} after {waited:.0f}s "
                    f"(SALESOPS_ZOHO_BULK_READ_MAX_WAIT_SECONDS={self.bulk_max_wait:g})"
                )
            self._sleep(delay)
            waited += delay
            delay = min(delay * 2, POLL_MAX)

    def _bulk_download(self, obj: str, module: str, job_id: str, result: dict) -> Export:
        url = str(result.get("download_url") or f"{BULK_PREFIX}/{job_id}/result")
        resp = self._call(obj, "GET", url)
        if resp.status_code != 200:
            raise CrmError(f"zoho {obj}: Bulk Read job {job_id} ({module}): download HTTP {resp.status_code}")
        self._count(obj, "bulk_calls", 1)
        try:
            with zipfile.ZipFile(io.BytesIO(resp.content)) as archive:
                names = [n for n in archive.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise CrmError(f"zoho {obj}: Bulk Read job {job_id} ({module}): {len(names)} CSV files")
                with archive.open(names[0]) as raw:  # decompressed as it is parsed
                    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                    return Export.read(text, f"zoho {obj}: Bulk Read job {job_id} ({module})")
        except zipfile.BadZipFile:
            raise CrmError(
                f"zoho {obj}: Bulk Read job {job_id} ({module}): the result is not a zip"
            ) from None

    def _lookup_names(
        self, obj: str, module: str, export: Export, types: dict[str, dict]
    ) -> dict[str, dict[str, Any]]:
        """id -> the lookup object (without id) for every lookup id of the export: from the landed
        records, and for a lookup into the module being read (a parent account) from the export."""
        wanted: dict[str, set[str]] = {}
        for name, meta in types.items():
            target = _lookup_target(module, name, meta)
            if target:
                wanted.setdefault(target, set()).update(v for v in export.column(name) if v)
        found: dict[str, dict[str, Any]] = {}
        if obj in wanted:
            own = wanted[obj]
            named = export.column(NAME_KEYS[obj][0]) or [""] * len(export)
            for rid, name in zip(export.column("Id"), named, strict=False):
                if rid in own:
                    found[rid] = {"name": name or None}
        for target, ids in wanted.items():
            ids = ids - found.keys()
            keys = NAME_KEYS[target]
            for rid, values in self.landed.values(target, sorted(ids), keys):
                if target == "users":
                    found[rid] = {"name": values[0], "email": values[1]}
                else:
                    found[rid] = {"name": values[0]}
        return found

    def _picklist_names(
        self, obj: str, module: str, export: Export, types: dict[str, dict]
    ) -> dict[str, dict[str, Any]]:
        """Names of object-valued picklists (``Pipeline``: ``{name, id}`` in REST, the id in the
        CSV): one single-record GET per distinct id, on a record that carries it (a pipeline or
        two per org), cached for the run."""
        found: dict[str, dict[str, Any]] = {}
        for name, meta in types.items():
            if meta.get("data_type") != "picklist" or meta.get("json_type") != "jsonobject":
                continue
            for rid, value in zip(export.column("Id"), export.column(name), strict=False):
                if not value or value in found:
                    continue
                if value not in self._picklist_cache:
                    body = self._get(obj, f"/{module}/{rid}", {"fields": name}, {}) or {}
                    self._count(obj, "bulk_calls", 1)
                    item = ((body.get("data") or [{}])[0] or {}).get(name)
                    self._picklist_cache[value] = {"name": item.get("name")} if isinstance(item, dict) else {}
                found[value] = self._picklist_cache[value]
        return found


def _lookup_target(module: str, field: str, meta: dict) -> str | None:
    """The landed object a lookup field points at: ``lookup.module`` in the metadata, else by name."""
    if meta.get("data_type") == "ownerlookup":
        return "users"
    if meta.get("data_type") != "lookup":
        return None
    named = ((meta.get("lookup") or {}).get("module") or {}).get("api_name")
    target = LOOKUP_TARGETS.get(named) if named else LOOKUP_TARGETS.get(f"{module}.{field}")
    return target if target in NAME_KEYS else None


def _json(resp: Response) -> dict:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
