"""Zoho's official Python SDK for CRM v8 (``zohocrmsdk8-0``) pointed at the Zoho sandbox: it gets a
token from the sandbox's OAuth host, creates a Bulk Read job, polls it and downloads the zip, and
the CSV rows are the sandbox company's records. The SDK is configured as for any data centre, with
a ``DataCenter.Environment`` naming the sandbox's API and accounts URLs."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime

import pytest

from flows.sandbox.company.generator import generate_company
from flows.sandbox.zoho.bulk import csv_value
from flows.sandbox.zoho.server import ZohoSandbox

pytest.importorskip("zohocrmsdk")

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api.bulk_read import (
    BodyWrapper,
    BulkReadOperations,
    FileBodyWrapper,
    Query,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.modules import MinifiedModule
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

FIELDS = ["Deal_Name", "Amount", "Stage", "Owner", "Closing_Date", "Modified_Time"]


def _initialize(sb: ZohoSandbox, tmp_path) -> None:
    env = DataCenter.Environment(sb.api_url, sb.accounts_url + "/oauth/v2/token", sb.api_url)
    token = OAuthToken(
        client_id=sb.CLIENT_ID,
        client_secret=sb.CLIENT_SECRET,
        refresh_token=sb.REFRESH_TOKEN,
        find_user=False,
    )
    Initializer.initialize(
        environment=env,
        token=token,
        store=FileStore(str(tmp_path / "tokens.csv")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=str(tmp_path),
        logger=Logger.get_instance(Logger.Levels.INFO, str(tmp_path / "sdk.log")),
    )


def test_the_official_sdk_runs_a_bulk_read_job_against_the_sandbox(tmp_path):
    company = generate_company(seed=5, reps=8, deals=400, as_of=date(2026, 12, 5))
    with ZohoSandbox(company, clock=lambda: datetime(2026, 12, 5, 12, tzinfo=UTC)) as sb:
        _initialize(sb, tmp_path)
        ops, body, query, module = BulkReadOperations(), BodyWrapper(), Query(), MinifiedModule()
        module.set_api_name("Deals")
        query.set_module(module)
        query.set_fields(FIELDS)
        query.set_page(1)
        body.set_query(query)

        created = ops.create_bulk_read_job(body)
        assert created.get_status_code() == 201
        (answer,) = created.get_object().get_data()
        assert isinstance(answer, SuccessResponse) and answer.get_status().get_value() == "success"
        job_id = answer.get_details()["id"]

        states = []
        for _ in range(5):
            (job,) = ops.get_bulk_read_job_details(int(job_id)).get_object().get_data()
            states.append(job.get_state().get_value())
            if states[-1] == "COMPLETED":
                break
        assert states == ["IN PROGRESS", "COMPLETED"]
        result = job.get_result()
        assert result.get_more_records() is False and result.get_page() == 1

        download = ops.download_result(int(job_id))
        assert download.get_status_code() == 200
        wrapper = download.get_object()
        assert isinstance(wrapper, FileBodyWrapper)
        stream = wrapper.get_file()
        assert stream.get_name() == f"{job_id}.zip"
        with zipfile.ZipFile(io.BytesIO(b"".join(stream.get_stream()))) as archive:
            rows = list(csv.DictReader(io.StringIO(archive.read(f"{job_id}.csv").decode("utf-8"))))

        records = [sb._rows["Deals"][rid].record for rid in sb.live_ids("Deals")]
        assert result.get_count() == len(rows) == len(records) > 0
        assert rows == [{"Id": r["id"], **{f: csv_value(r.get(f)) for f in FIELDS}} for r in records]
        assert {r["Deal_Name"] for r in rows} == {d.name for d in company.deals if d.crm == "zoho"}, (
            "the rows are the company's Zoho deals"
        )
