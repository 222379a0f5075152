"""Zoho credentials from Prefect Secret blocks, as an alternative to SALESOPS_ZOHO_* env vars."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from zoho_support import T0, FakeClock, latest, run, zoho_company

from flows.config.settings import Settings
from flows.crm.secrets import SecretBlockError, resolve_secret
from flows.crm.zoho.connector import ZohoConnector
from flows.sandbox.zoho.server import ZohoSandbox


@pytest.fixture
def sandbox() -> Iterator[ZohoSandbox]:
    with ZohoSandbox(zoho_company(50), clock=FakeClock(T0)) as sb:
        yield sb


@pytest.fixture
def blocks(prefect_harness, sandbox: ZohoSandbox) -> dict[str, str]:
    from prefect.blocks.system import Secret

    names = {
        "zoho_client_id_block": "salesops-test-zoho-client-id",
        "zoho_client_secret_block": "salesops-test-zoho-client-secret",
        "zoho_refresh_token_block": "salesops-test-zoho-refresh-token",
    }
    Secret(value=sandbox.CLIENT_ID).save(names["zoho_client_id_block"], overwrite=True)
    Secret(value=sandbox.CLIENT_SECRET).save(names["zoho_client_secret_block"], overwrite=True)
    Secret(value=sandbox.REFRESH_TOKEN).save(names["zoho_refresh_token_block"], overwrite=True)
    return names


def test_credentials_from_secret_blocks(sandbox: ZohoSandbox, blocks: dict[str, str], caplog):
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        zoho_accounts_url=sandbox.accounts_url,
        zoho_client_id=None,
        zoho_client_secret=None,
        zoho_refresh_token=None,
        **blocks,
    )
    conn = ZohoConnector.from_settings(settings)
    pages, _ = run(conn, "products")
    assert sorted(latest(pages)) == sandbox.live_ids("Products")
    exposed = caplog.text + repr(conn) + repr(conn.__dict__)
    assert sandbox.CLIENT_SECRET not in exposed and sandbox.REFRESH_TOKEN not in exposed


def test_env_var_wins_over_block(sandbox: ZohoSandbox, blocks: dict[str, str]):
    from prefect.blocks.system import Secret

    Secret(value="wrong-secret").save("salesops-test-zoho-wrong", overwrite=True)
    settings = Settings(
        zoho_accounts_url=sandbox.accounts_url,
        zoho_client_id=None,
        zoho_client_secret=SecretStr(sandbox.CLIENT_SECRET),
        zoho_refresh_token=None,
        zoho_client_id_block=blocks["zoho_client_id_block"],
        zoho_client_secret_block="salesops-test-zoho-wrong",
        zoho_refresh_token_block=blocks["zoho_refresh_token_block"],
    )
    conn = ZohoConnector.from_settings(settings)
    assert run(conn, "products")[0]


def test_missing_block_is_a_clear_error(prefect_harness, sandbox: ZohoSandbox):
    settings = Settings(
        zoho_accounts_url=sandbox.accounts_url,
        zoho_client_id=SecretStr(sandbox.CLIENT_ID),
        zoho_client_secret=None,
        zoho_refresh_token=SecretStr(sandbox.REFRESH_TOKEN),
        zoho_client_secret_block="salesops-no-such-block",
    )
    with pytest.raises(
        SecretBlockError, match=r"'salesops-no-such-block'.*SALESOPS_ZOHO_CLIENT_SECRET_BLOCK"
    ):
        ZohoConnector.from_settings(settings)


def test_neither_env_nor_block_names_both_settings():
    assert resolve_secret(None, None, setting="X") is None
    settings = Settings(zoho_client_id=None, zoho_client_secret=None, zoho_refresh_token=None)
    with pytest.raises(
        ValueError, match="SALESOPS_ZOHO_CLIENT_SECRET \\(or SALESOPS_ZOHO_CLIENT_SECRET_BLOCK\\)"
    ):
        ZohoConnector.from_settings(settings)
