"""Fixtures of the Zoho connector tests (a sandbox on a fake clock, a connector on it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from zoho_support import (
    T0,
    FakeClock,
    make_connector,
    zoho_company,
)

from flows.crm.zoho import ZohoConnector
from flows.sandbox.zoho_server import ZohoSandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[ZohoSandbox]:
    with ZohoSandbox(zoho_company(600, modified=T0 - timedelta(days=1), spaced=True), clock=clock) as sb:
        yield sb


@pytest.fixture
def connector(sandbox: ZohoSandbox, clock: FakeClock) -> Iterator[ZohoConnector]:
    conn = make_connector(sandbox, clock)
    yield conn
    conn.close()
