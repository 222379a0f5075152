"""Fxiaoke credentials from Prefect Secret blocks, as an alternative to SALESOPS_FXIAOKE_* env vars."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

import pytest

from flows.config.settings import Settings
from flows.crm.base import CrmError
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.sandbox.company.generator import generate_company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox


@pytest.fixture
def sandbox() -> Iterator[FxiaokeSandbox]:
    with FxiaokeSandbox(generate_company(seed=3, reps=8, deals=40, as_of=date(2026, 11, 28))) as server:
        yield server


def test_credentials_from_secret_blocks(prefect_harness, sandbox: FxiaokeSandbox, caplog) -> None:
    from prefect.blocks.system import Secret

    caplog.set_level(logging.DEBUG)
    Secret(value=sandbox.APP_ID).save("salesops-test-fx-app-id", overwrite=True)
    Secret(value=sandbox.APP_SECRET).save("salesops-test-fx-app-secret", overwrite=True)
    Secret(value=sandbox.PERMANENT_CODE).save("salesops-test-fx-code", overwrite=True)
    settings = Settings(
        fxiaoke_base_url=sandbox.base_url,
        fxiaoke_open_user_id=sandbox.ADMIN_OPEN_USER_ID,
        fxiaoke_app_id_block="salesops-test-fx-app-id",
        fxiaoke_app_secret_block="salesops-test-fx-app-secret",
        fxiaoke_permanent_code_block="salesops-test-fx-code",
    )
    connector = FxiaokeConnector.from_settings(settings)
    pages = list(connector.pages("opportunities", {}))
    assert sum(len(p.records) for p in pages) == len(sandbox_company_deals(sandbox))
    assert sandbox.APP_SECRET not in caplog.text and sandbox.PERMANENT_CODE not in caplog.text
    assert sandbox.APP_SECRET not in repr(connector)


def sandbox_company_deals(sandbox: FxiaokeSandbox) -> list:
    return [r for r in sandbox.records("opportunities") if r.get("life_status") == "normal"]


def test_missing_credentials_name_the_env_vars() -> None:
    with pytest.raises(CrmError, match="SALESOPS_FXIAOKE_APP_SECRET"):
        FxiaokeConnector.from_settings(
            Settings(fxiaoke_app_id="x", fxiaoke_permanent_code="y", fxiaoke_open_user_id="z")
        )
