"""The Zoho sandbox's Bulk Read API (``/crm/bulk/v8/read``): job states, the zipped CSV, criteria,
pages, errors; and Zoho's official Python SDK (``zohocrmsdk8-0``) driving it end to end."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime

import pytest
import requests

import flows.sandbox.zoho.bulk as bulk
from flows.sandbox.company.generator import generate_company
from flows.sandbox.zoho.bulk import csv_value
from flows.sandbox.zoho.server import ZohoSandbox

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
FIELDS = ["Deal_Name", "Amount", "Stage", "Owner", "Modified_Time", "Closing_Date"]


@pytest.fixture(scope="module")
def sandbox():
    company = generate_company(seed=11, reps=8, deals=300, as_of=date(2026, 12, 5))
    with ZohoSandbox(company, clock=lambda: NOW) as sb:
        yield sb


def _headers(sb: ZohoSandbox) -> dict[str, str]:
    body = {
        "grant_type": "refresh_token",
        "client_id": sb.CLIENT_ID,
        "client_secret": sb.CLIENT_SECRET,
        "refresh_token": sb.REFRESH_TOKEN,
    }
    token = requests.post(sb.accounts_url + "/oauth/v2/token", data=body, timeout=10).json()["access_token"]
    return {"Authorization": f"Zoho-oauthtoken {token}"}


def _run_job(sb: ZohoSandbox, query: dict) -> tuple[dict, list[dict[str, str]]]:
    """Create a job, poll it to its end, download the CSV: (last status, rows)."""
    headers, url = _headers(sb), sb.api_url + "/crm/bulk/v8/read"
    created = requests.post(url, json={"query": query}, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    answer = created.json()["data"][0]
    assert (answer["status"], answer["code"], answer["details"]["state"]) == (
        "success",
        "ADDED_SUCCESSFULLY",
        "ADDED",
    )
    job_id, states = answer["details"]["id"], []
    for _ in range(5):
        job = requests.get(f"{url}/{job_id}", headers=headers, timeout=10).json()["data"][0]
        states.append(job["state"])
        if job["state"] in ("COMPLETED", "FAILURE"):
            break
    assert states[0] == "IN PROGRESS"
    if job["state"] == "FAILURE":
        return job, []
    result = requests.get(sb.api_url + job["result"]["download_url"], headers=headers, timeout=10)
    assert result.headers["Content-Type"] == "application/x-download"
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        (name,) = archive.namelist()
        assert name == f"{job_id}.csv"
        rows = list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))
    return job, rows


def _expected(sb: ZohoSandbox, module: str, fields: list[str], keep=lambda rec: True) -> list[dict[str, str]]:
    records = [sb._rows[module][rid].record for rid in sb.live_ids(module)]
    return [{"Id": r["id"], **{f: csv_value(r.get(f)) for f in fields}} for r in records if keep(r)]


def test_a_job_moves_added_in_progress_completed_and_its_csv_holds_every_record(sandbox):
    job, rows = _run_job(sandbox, {"module": {"api_name": "Deals"}, "fields": FIELDS})
    assert job["state"] == "COMPLETED"
    assert job["result"]["count"] == len(rows) == len(sandbox.live_ids("Deals"))
    assert job["result"]["more_records"] is False and job["result"]["page"] == 1
    assert rows == _expected(sandbox, "Deals", FIELDS)
    assert rows[0]["Owner"].isdigit(), "a lookup exports as the looked-up record's id"


def test_criteria_on_modified_time_keep_only_later_records(sandbox):
    times = sorted(sandbox._rows["Deals"][rid].record["Modified_Time"] for rid in sandbox.live_ids("Deals"))
    since = times[len(times) // 2]  # the median deal's, in the org's offset
    criteria = {"field": {"api_name": "Modified_Time"}, "comparator": "greater_equal", "value": since}
    _, rows = _run_job(
        sandbox, {"module": {"api_name": "Deals"}, "fields": ["Modified_Time"], "criteria": criteria}
    )
    cut = datetime.fromisoformat(since)
    expected = _expected(
        sandbox, "Deals", ["Modified_Time"], lambda r: datetime.fromisoformat(r["Modified_Time"]) >= cut
    )
    assert rows == expected and 0 < len(rows) < len(sandbox.live_ids("Deals"))


def test_pages_follow_next_page_token(sandbox, monkeypatch):
    monkeypatch.setattr(bulk, "BULK_PAGE", 40)
    first, rows = _run_job(sandbox, {"module": {"api_name": "Deals"}, "fields": ["Stage"]})
    assert first["result"]["more_records"] is True and len(rows) == 40
    token = first["result"]["next_page_token"]
    second, more = _run_job(sandbox, {"page_token": token})
    assert second["result"]["page"] == 2
    assert [r["Id"] for r in rows + more] == sandbox.live_ids("Deals")[:80]


def test_a_failing_job_ends_in_failure(sandbox):
    sandbox.faults.bulk_failures = 1
    try:
        job, rows = _run_job(sandbox, {"module": {"api_name": "Deals"}})
    finally:
        sandbox.reset()
    assert job["state"] == "FAILURE" and "result" not in job and rows == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({}, "REQUIRED_PARAM_MISSING"),
        ({"module": {"api_name": "Widgets"}}, "INVALID_MODULE"),
        ({"module": {"api_name": "Deals"}, "page": 0}, "INVALID_DATA"),
        ({"module": {"api_name": "Deals"}, "fields": ["F"] * 201}, "LIMIT_EXCEEDED"),
        (
            {
                "module": {"api_name": "Deals"},
                "criteria": {"field": {"api_name": "Stage"}, "comparator": "equal", "value": "x"},
            },
            "INVALID_DATA",
        ),
        (
            {
                "module": {"api_name": "Deals"},
                "criteria": {
                    "field": {"api_name": "Modified_Time"},
                    "comparator": "greater_equal",
                    "value": "2026-09-01T00:00:00.123-07:00",
                },
            },
            "INVALID_DATA",
        ),
    ],
)
def test_bad_jobs_are_refused_in_zohos_envelope(sandbox, query, code):
    answer = requests.post(
        sandbox.api_url + "/crm/bulk/v8/read", json={"query": query}, headers=_headers(sandbox), timeout=10
    )
    assert answer.status_code == 400 and answer.json()["code"] == code and answer.json()["status"] == "error"


def test_an_unknown_job_and_an_unfinished_result_are_refused(sandbox):
    headers, url = _headers(sandbox), sandbox.api_url + "/crm/bulk/v8/read"
    assert requests.get(f"{url}/123", headers=headers, timeout=10).status_code == 400
    created = requests.post(
        url, json={"query": {"module": {"api_name": "Deals"}}}, headers=headers, timeout=10
    )
    job_id = created.json()["data"][0]["details"]["id"]
    early = requests.get(f"{url}/{job_id}/result", headers=headers, timeout=10)
    assert early.status_code == 400 and early.json()["details"]["state"] == "ADDED"
    assert requests.get(f"{url}/{job_id}", timeout=10).status_code == 401, "no token, no job"
