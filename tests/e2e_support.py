"""Shared helpers of the end-to-end tests: the demo company, the outbox, the working warehouse."""

from __future__ import annotations

import email
from datetime import date
from email import policy
from pathlib import Path

import duckdb

from flows.sandbox.company.generator import generate_company

RUN_DATE = date(2026, 11, 28)


def demo_company(**overrides):
    # The demo company (seed 42, 24 reps: three per team), whose reps config/targets.csv covers, so
    # every rep on a plan has a target; fewer deals keep the run short.
    params = {"seed": 42, "reps": 24, "deals": 240, "as_of": RUN_DATE} | overrides
    return generate_company(**params)


def outbox_messages(outbox: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*.eml"))
    ]


def query_work(home: Path, sql: str):
    """Query the pipeline's working file (raw, ops, marts)."""
    with duckdb.connect(str(home / "work" / "warehouse.duckdb")) as conn:
        return conn.execute(sql).fetchall()


def email_kind(msg) -> str:
    return str(msg["X-Salesops-Kind"] or "")


#: What a BI reader of the published file is asked: the run it sees and its deals.
PUBLISHED_DEALS = (
    "select (select run_id from main.salesops_publish), count(*), sum(amount_reporting) from marts.fct_deals"
)
