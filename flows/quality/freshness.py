"""``dbt source freshness`` as checks of the raw gate: has the pipeline landed anything lately?

The raw sources' YAML (``dbt_project/models/staging/{zoho,fxiaoke}/_*__sources.yml``) says which landed
tables must have been refreshed within how long (``loaded_at``: when the pipeline last landed a new or
changed record); dbt measures it. Each source table becomes a check of the suite
``raw_source_freshness``: dbt ``warn`` is a *warning*, dbt ``error`` is *critical* (the gate stops the
run and alerts), as for the dbt tests (:data:`flows.quality.dbt_tests.SEVERITIES`). A table dbt could
not measure (``runtime error``: not landed yet) is a warning naming dbt's message, never a silent pass.

dbt runs in this process and opens the working file itself, so this runs before the gate opens its
connection (``flows/nightly.py:gate_task``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from flows.config.settings import Settings
from flows.quality.dbt_tests import SEVERITIES
from flows.quality.results import CheckResult
from flows.warehouse.dbt_runner import run_dbt

log = logging.getLogger(__name__)

SUITE = "raw_source_freshness"
EXPECTATION = "dbt_source_freshness"


def source_freshness(settings: Settings, select: Sequence[str] = ()) -> list[CheckResult]:
    """Run ``dbt source freshness`` (optionally ``--select``) and return one check per measured table."""
    output = settings.home_dir / "dbt_target" / "sources.json"  # dbt's own place for it (target path)
    output.unlink(missing_ok=True)  # never read an earlier run's results
    command = ["source", "freshness", *(["--select", *select] if select else [])]
    result = run_dbt(settings, command, raise_on_failure=False)
    if not output.exists():
        reason = result.describe_failures() or "dbt wrote no sources.json"
        log.warning("dbt source freshness did not run: %s", reason)
        return [_not_measured("dbt source freshness", reason)]
    checks = freshness_checks(output)
    # a table dbt could not query (not landed yet) is left out of sources.json: its node result says why
    measured = {c.details["dbt_unique_id"] for c in checks}
    return checks + [
        _not_measured(".".join(n.unique_id.split(".")[2:]), n.message or n.status, n.unique_id)
        for n in sorted(result.nodes, key=lambda n: n.unique_id)
        if n.unique_id.startswith("source.") and n.unique_id not in measured
    ]


def freshness_checks(sources_json: Path) -> list[CheckResult]:
    """The results of a ``sources.json`` (dbt's freshness artefact) as gate checks."""
    results = json.loads(sources_json.read_text("utf-8"))["results"]
    return [_check(r) for r in sorted(results, key=lambda r: r["unique_id"])]


def _check(result: dict) -> CheckResult:
    name = ".".join(result["unique_id"].split(".")[2:])  # source.salesops.zoho.zoho_deals -> zoho.zoho_deals
    status = result["status"]
    if status == "runtime error" or "max_loaded_at_time_ago_in_s" not in result:
        return _not_measured(name, result.get("error") or "dbt could not measure it", result["unique_id"])
    criteria = result.get("criteria") or {}
    hours = round(float(result["max_loaded_at_time_ago_in_s"]) / 3600, 1)
    limits = ", ".join(
        f"{kind.split('_')[0]} after {c['count']} {c['period']}s"
        for kind in ("warn_after", "error_after")
        if (c := criteria.get(kind)) and c.get("count")
    )
    worst = "error" if (criteria.get("error_after") or {}).get("count") else "warn"
    return CheckResult(
        suite=SUITE,
        expectation=EXPECTATION,
        column="loaded_at",
        severity=SEVERITIES[status if status in SEVERITIES else worst],
        success=status == "pass",
        observed_value=f"last landed {hours} h ago ({result['max_loaded_at']})",
        unexpected_count=None,
        description=f"dbt source freshness of {name} ({limits})",
        details={
            "table": f"raw.{name.split('.')[-1]}",
            "source": "dbt",
            "dbt_unique_id": result["unique_id"],
            "dbt_status": status,
            "max_loaded_at": result["max_loaded_at"],
            "snapshotted_at": result["snapshotted_at"],
            "hours_since_loaded": hours,
            "criteria": criteria,
        },
    )


def _not_measured(name: str, reason: str, unique_id: str | None = None) -> CheckResult:
    return CheckResult(
        suite=SUITE,
        expectation=EXPECTATION,
        column="loaded_at",
        severity="warning",
        success=False,
        observed_value=f"not measured: {reason}",
        unexpected_count=None,
        description=f"dbt source freshness of {name} (not measured)",
        details={"source": "dbt", "dbt_unique_id": unique_id, "reason": reason, "skipped": True},
    )
