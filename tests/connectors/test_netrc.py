"""A netrc that names the CRM's host must not replace the connectors' own credentials.

requests reads ``~/.netrc`` (or ``$NETRC``) for a request without ``auth`` and then overrides the
``Authorization`` header with Basic credentials: "Authorization headers set with headers= will be
overridden if credentials are specified in .netrc" (requests documentation, Authentication, netrc
Authentication). Both connectors send their token in that header (Zoho always, Fxiaoke in oauth2
mode), so a developer's or a server's netrc with a ``default`` entry would send none; the sandbox
then answers as the real APIs do, with an auth error. ``flows/crm/sessions.py`` is the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fxiaoke_support import AS_OF
from zoho_support import FakeClock, zoho_company
from zoho_support import make_connector as make_zoho_connector

from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.zoho.server import ZohoSandbox


@pytest.fixture(scope="module")
def company() -> Company:
    """The Fxiaoke sandbox fixture's company (fxiaoke_support)."""
    return generate_company(seed=5, reps=8, deals=300, as_of=AS_OF)


@pytest.fixture(autouse=True)
def netrc_for_every_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "netrc"
    path.write_text("default login someone password not-an-oauth-token\n")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))


def test_zoho_sends_its_token_whatever_the_netrc_says() -> None:
    clock = FakeClock()
    company = zoho_company(30)
    with ZohoSandbox(company, clock=clock) as sb:
        connector = make_zoho_connector(sb, clock)
        try:
            read = [r for page in connector.pages("deals", {}, full_refresh=True) for r in page.records]
        finally:
            connector.close()
    assert len({r.id for r in read}) == len(company.deals)


def test_fxiaoke_oauth2_sends_its_token_whatever_the_netrc_says(make_connector) -> None:
    connector = make_connector(auth_mode="oauth2")
    read = [r for page in connector.pages("opportunities", {}, full_refresh=True) for r in page.records]
    assert read, "the sandbox accepted the Bearer token"
