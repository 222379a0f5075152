"""Full vs incremental nightly, the API calls each spent, and the pipeline's peak RSS.

The full nightly is the first run on an empty home (every object a first load); the incremental one
runs the next day after 1 % of the deals changed in the sandbox (``/__admin/simulate``; Fxiaoke
opportunities also move a stage, so the CRM log grows). Each runs the real Prefect flow
(:func:`flows.nightly.nightly`) in its own process.
"""

from __future__ import annotations

import math
import os
from datetime import date
from typing import Any

from flows.bench.isolation import Side, in_child
from flows.bench.table import Row

#: the largest page each API serves: what "one call per full page" means
PAGE_SIZE = {"zoho": 200, "fxiaoke": 100}


def run_nightly(home: str, run_date: str, send_reports: bool) -> dict[str, Any]:
    from flows.nightly import nightly

    os.environ["SALESOPS_HOME"] = home
    summary = nightly(run_date=date.fromisoformat(run_date), send_reports=send_reports)
    if summary.status != "completed":
        raise RuntimeError(f"the nightly ended {summary.status}: {summary.critical_failures}")
    return {
        "landed": [
            {
                "source": r["source"],
                "object": r["object"],
                "records": r["rows_received"],
                "calls": r["api_calls"],
            }
            for r in summary.landed
        ],
        "checks_passed": summary.checks_passed,
        "marts": summary.marts,
    }


def calls_per_object(landed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each object's calls vs the minimum: one call per full page of the API's largest page size."""
    out = []
    for r in landed:
        minimum = max(1, math.ceil(r["records"] / PAGE_SIZE[r["source"]]))
        out.append(dict(r, minimum=minimum))
    return out


def _calls(stats_before: dict, stats_after: dict) -> dict[str, int]:
    return {
        crm: sum(after.values()) - sum(stats_before.get(crm, {}).values())
        for crm, after in stats_after.items()
    }


def full_nightly(env: dict[str, str], home: str, run_date: date, send_reports: bool, sandbox) -> Side:
    before = sandbox.stats()
    side = in_child("full nightly", env, run_nightly, home, run_date.isoformat(), send_reports)
    side.result["sandbox_requests"] = _calls(before, sandbox.stats())
    return side


def incremental_nightly(
    env: dict[str, str], home: str, run_date: date, send_reports: bool, sandbox, share: float
) -> Side:
    changed = sandbox.change_deals(share)
    before = sandbox.stats()
    side = in_child("incremental nightly", env, run_nightly, home, run_date.isoformat(), send_reports)
    side.result["sandbox_requests"] = _calls(before, sandbox.stats())
    side.result["changed_deals"] = changed
    return side


def nightly_rows(full: Side, incremental: Side | None, incremental_error: str | None) -> list[Row]:
    """Rows: full vs incremental, API calls of the first load, peak RSS of the pipeline process."""
    landed = full.result["landed"]
    records = sum(r["records"] for r in landed)
    calls = calls_per_object(landed)
    total_calls = sum(c["calls"] for c in calls)
    minimum = sum(c["minimum"] for c in calls)
    rows = []
    if incremental is not None:
        changed = incremental.result["changed_deals"]
        inc_records = sum(r["records"] for r in incremental.result["landed"])
        rows.append(
            Row(
                "nightly: incremental (1 % of deals changed) vs full",
                incremental,
                full,
                figure=f"{sum(changed.values()):,} deals changed ({changed}); incremental landed "
                f"{inc_records:,} records, full {records:,}",
                ratio=incremental.wall_s / full.wall_s if full.wall_s else None,
                ratio_means="incremental wall ÷ full wall (lower is better)",
                details={"incremental_landed": incremental.result["landed"]},
            )
        )
    else:
        rows.append(Row("nightly: incremental (1 % of deals changed) vs full", error=incremental_error))
    rows.append(
        Row(
            "API calls per object vs the minimum (full nightly)",
            full,
            None,
            figure=f"{total_calls:,} calls for {records:,} records "
            f"({total_calls / max(1, records):.3f} per record); "
            f"minimum {minimum:,}; sandbox counted {full.result['sandbox_requests']}",
            ratio=total_calls / minimum,
            ratio_means="calls ÷ minimum (1.00 is the floor)",
            details={"api_calls": calls},
        )
    )
    peak = max(s.peak_rss_mib or 0 for s in (full, incremental) if s is not None)
    rows.append(
        Row(
            "peak RSS of the pipeline process",
            full,
            incremental,
            figure=f"{peak:,.0f} MiB (the nightly's process; the sandbox runs in its own)",
            ratio=peak / 2048,
            ratio_means="peak ÷ the 2 GiB target (≤ 1 meets it)",
        )
    )
    return rows
