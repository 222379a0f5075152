"""What a gate run produces: one :class:`CheckResult` per check, gathered in a :class:`GateResult`.

Both sources of checks end up here: a Great Expectations expectation (raw layer, the marts checks
dbt does not have) and a dbt test read back from ``ops.dbt_test_results``. The alert, the Prefect
artifact and ``ops.validation_results`` are all rendered from these two classes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flows.quality import quarantine as quarantine_store

#: How many offending rows each failed check keeps as examples.
EXAMPLE_COUNT = 5


@dataclass
class CheckResult:
    """One expectation's outcome on one suite's data (a row of ``ops.validation_results``)."""

    suite: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_examples: list = field(default_factory=list)
    description: str = ""
    details: dict = field(default_factory=dict)
    #: every offending row's key (row-level checks): what the quarantine is made of. Not stored.
    offending: list = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return self.description or self.expectation

    @property
    def key(self) -> str:
        """``expect_column_values_to_be_in_set(stage)``: names the check in ``ops.quarantine``."""
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass
class GateResult:
    """All checks of one gate run; ``success`` means no critical check failed."""

    run_id: str
    results: list[CheckResult]
    data_docs_path: Path | None = None
    duration_seconds: float = 0.0
    #: rows currently held back from the marts (:func:`flows.quality.quarantine.quarantine_summary`).
    quarantined: list[dict] = field(default_factory=list)
    #: per suite: {"quarantined": new this run, "released": ..., "active": ...}
    quarantine_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity != "critical"]

    @property
    def success(self) -> bool:
        return not self.critical_failures

    @property
    def needs_attention(self) -> bool:
        """True when a data engineer should hear about this run (critical, warning or quarantine)."""
        return bool(self.critical_failures or self.warnings or self.quarantined)

    def summary_markdown(self) -> str:
        """Short Markdown for a Prefect artifact or the alert e-mail: failures first, with examples."""
        status = "PASSED" if self.success else "FAILED"
        suites = sorted({r.suite for r in self.results})
        passed = sum(r.success for r in self.results)
        lines = [
            f"## Data quality gate {status} (run `{self.run_id}`)",
            "",
            f"{len(self.results)} checks in {len(suites)} suites ({', '.join(suites)}): {passed} passed, "
            f"{len(self.critical_failures)} critical failures, {len(self.warnings)} warnings, "
            f"{len(self.quarantined)} rows quarantined.",
        ]
        for title, rows in (("Critical failures", self.critical_failures), ("Warnings", self.warnings)):
            if rows:
                lines += ["", f"### {title}", "", *_failure_table(rows)]
        if self.quarantined:
            lines += ["", quarantine_store.quarantine_markdown(self.quarantined).rstrip("\n")]
        if self.data_docs_path:
            lines += ["", f"Data Docs: `{self.data_docs_path}`"]
        return "\n".join(lines) + "\n"


def _failure_table(rows: list[CheckResult]) -> list[str]:
    cells = (
        (
            r.suite,
            r.label,
            r.column or "",
            short(r.observed_value),
            "" if r.unexpected_count is None else r.unexpected_count,
            short(r.unexpected_examples),
        )
        for r in rows
    )
    return [
        "| suite | check | column | observed | unexpected | examples |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in cells),
    ]


def skipped(suite: str, table: str, exp: dict, reason: str) -> CheckResult:
    """An expectation that could not be evaluated (reference data or column missing): a warning."""
    kwargs = exp.get("kwargs", {})
    return CheckResult(
        suite=suite,
        expectation=exp["type"],
        column=column_of(kwargs),
        severity="warning",
        success=False,
        observed_value=f"not checked: {reason}",
        unexpected_count=None,
        description=f"{exp.get('description') or exp['type']} (not checked: {reason})",
        details={"table": table, "reason": reason, "skipped": True, "meta": exp.get("meta") or {}},
    )


def setup_failure(
    suite: str, expectation: str, reason: str, table: str, severity: str = "critical"
) -> CheckResult:
    """A suite that could not run at all (table missing, suite broken): critical unless told."""
    return CheckResult(
        suite=suite,
        expectation=expectation,
        column=None,
        severity=severity,
        success=False,
        observed_value=reason,
        unexpected_count=None,
        description=reason,
        details={"table": table, "reason": reason},
    )


def column_of(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return None


def jsonable(value: Any) -> Any:
    """Plain JSON types for ops.validation_results and the alert (GX hands back numpy/pandas)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        try:
            return jsonable(value.item())
        except (ValueError, TypeError):
            pass
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
