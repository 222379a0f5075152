"""Shared helpers of the Zoho connector tests: a fake clock, sandbox companies, a connector
on a sandbox, and raw API calls with a token."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache

import requests
from pydantic import SecretStr

from flows.crm.base import Page
from flows.crm.zoho.connector import ZohoConnector
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.zoho.server import ZohoSandbox

AS_OF = date(2026, 11, 1)
T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = T0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """The connector's injected sleep: record it and let sandbox time pass instead of waiting."""
        self.sleeps.append(seconds)
        self.advance(seconds)


@cache
def _base() -> Company:
    return generate_company(seed=7, deals=5200, as_of=AS_OF)


def zoho_company(n_deals: int, *, modified: datetime | None = None, spaced: bool = False) -> Company:
    """The Zoho part of a fixed company with exactly ``n_deals`` deals; optionally all modified in the
    same second (``modified``) or one second apart from it (``spaced``)."""
    company = _base().for_crm("zoho")
    assert len(company.deals) >= n_deals
    deals = company.deals[:n_deals]
    if modified is not None:
        deals = [
            replace(d, modified_at=modified + timedelta(seconds=i if spaced else 0))
            for i, d in enumerate(deals)
        ]
    company.deals = deals
    return company


def make_connector(sb: ZohoSandbox, clock: FakeClock, **overrides) -> ZohoConnector:
    kwargs = {
        "accounts_url": sb.accounts_url,
        "client_id": sb.CLIENT_ID,
        "client_secret": SecretStr(sb.CLIENT_SECRET),
        "refresh_token": SecretStr(sb.REFRESH_TOKEN),
        "timeout": 2.0,
        "max_retries": 3,
        "backoff_base": 1.0,
        "backoff_max": 8.0,
        "sleep": clock.sleep,
        "refresh_throttle_wait": 60.0,
    }
    kwargs.update(overrides)
    return ZohoConnector(**kwargs)


def run(
    conn: ZohoConnector, obj: str, cursors: dict[str, str] | None = None, *, full: bool = False
) -> tuple[list[Page], dict[str, str]]:
    """Drain one object like flows/crm/landing.py does; returns pages and the cursors after them."""
    cursors = dict(cursors or {})
    pages = []
    for page in conn.pages(obj, cursors, full_refresh=full):
        pages.append(page)
        if page.cursor:
            cursors[page.cursor[0]] = page.cursor[1]
    return pages, cursors


def latest(pages: list[Page]) -> dict:
    """id -> the newest version received (what the warehouse upsert keeps)."""
    out: dict = {}
    for rec in (r for p in pages for r in p.records):
        prev = out.get(rec.id)
        if prev is None or (rec.modified_at or T0.min.replace(tzinfo=UTC)) >= (
            prev.modified_at or T0.min.replace(tzinfo=UTC)
        ):
            out[rec.id] = rec
    return out


def record_calls(sb: ZohoSandbox, module: str = "Deals") -> int:
    return sb.request_counts().get(f"/crm/v8/{module}", 0)


def token(sb: ZohoSandbox) -> str:
    """An access token from the sandbox's accounts host (as a hand-written client gets one)."""
    resp = requests.post(
        f"{sb.accounts_url}/oauth/v2/token",
        params={
            "grant_type": "refresh_token",
            "client_id": sb.CLIENT_ID,
            "client_secret": sb.CLIENT_SECRET,
            "refresh_token": sb.REFRESH_TOKEN,
        },
        timeout=5,
    )
    return resp.json()["access_token"]


def api(sb: ZohoSandbox, path: str, tok: str, **params) -> requests.Response:
    """A raw ``GET /crm/v8{path}`` with ``tok``."""
    hdrs = {"Authorization": f"Zoho-oauthtoken {tok}"}
    return requests.get(f"{sb.api_url}/crm/v8{path}", params=params, headers=hdrs, timeout=10)


# --- full loads and paging -------------------------------------------------------------------------------
