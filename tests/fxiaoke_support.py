"""What the Fxiaoke tests share: a fake clock, the sandbox and connector fixtures, raw HTTP helpers.

Loaded as a pytest plugin by ``tests/conftest.py``. The fixtures ``clock``, ``sandbox``,
``sleeps`` and ``make_connector`` are the Fxiaoke ones; each Fxiaoke test module defines only
``company`` (the size of company it needs). A module about another CRM defines its own
``clock``/``sandbox``, which win over these (pytest's usual override), as every Zoho module does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from flows.crm.base import Page
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.warehouse.database import RawRecord

AS_OF = date(2026, 3, 31)
START = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


class FakeClock:
    """A settable "now" shared by the sandbox, the connector and the test."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Sent:
    url: str
    params: dict
    headers: dict
    body: dict


class RecordingSession(requests.Session):
    """Keeps the query string, headers and JSON body of every POST (trace ids, query shapes, auth)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []

    def post(self, url, data=None, json=None, **kwargs):  # type: ignore[override]
        self.sent.append(
            Sent(url, dict(kwargs.get("params") or {}), dict(kwargs.get("headers") or {}), json or {})
        )
        return super().post(url, data=data, json=json, **kwargs)


ConnectorFactory = Callable[..., FxiaokeConnector]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sandbox(company: Company, clock: FakeClock) -> Iterator[FxiaokeSandbox]:
    with FxiaokeSandbox(company, clock=clock) as sb:
        yield sb


@pytest.fixture
def sleeps() -> list[float]:
    """Every sleep the connectors made (each one also advances the fake clock)."""
    return []


@pytest.fixture
def make_connector(
    sandbox: FxiaokeSandbox, clock: FakeClock, sleeps: list[float]
) -> Iterator[ConnectorFactory]:
    """``make_connector(sb=None, **overrides)``: a connector on ``sb`` (default: the sandbox) with
    fast retries, the fake clock, and sleeps that advance it; closed after the test."""
    made: list[FxiaokeConnector] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    def factory(sb: FxiaokeSandbox | None = None, **kwargs: object) -> FxiaokeConnector:
        sb = sb or sandbox
        params: dict[str, object] = {
            "base_url": sb.base_url,
            "app_id": sb.APP_ID,
            "app_secret": sb.APP_SECRET,
            "permanent_code": sb.PERMANENT_CODE,
            "open_user_id": sb.ADMIN_OPEN_USER_ID,
            "timeout": 5.0,
            "max_retries": 3,
            "backoff": 0.5,
            "sleep": sleep,
            "clock": clock,
        }
        params.update(kwargs)
        conn = FxiaokeConnector(**params)  # type: ignore[arg-type]
        made.append(conn)
        return conn

    yield factory
    for conn in made:
        conn.close()


def collect(
    conn: FxiaokeConnector, obj: str, cursors: dict[str, str] | None = None, *, full: bool = False
) -> tuple[list[RawRecord], list[Page]]:
    """Every record of ``obj`` the connector yields (from ``cursors``), and the pages."""
    pages = list(conn.pages(obj, cursors or {}, full_refresh=full))
    return [r for p in pages for r in p.records], pages


def post(
    sb: FxiaokeSandbox,
    path: str,
    body: dict,
    headers: dict | None = None,
    *,
    trace: str | None = "auto",
) -> requests.Response:
    """A raw POST as a hand-written client sends it: a fresh ``thirdTraceId`` unless ``trace``
    names one (None: none at all); redirects are not followed (the wrong-host 302 shows)."""
    params = {} if trace is None else {"thirdTraceId": str(uuid.uuid4()) if trace == "auto" else trace}
    return requests.post(
        sb.base_url + path, params=params, json=body, headers=headers, timeout=5, allow_redirects=False
    )
