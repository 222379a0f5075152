"""The steps of a nightly run, as plain functions, and the summary the run produces.

Prefect flows (``flows/nightly.py``) call these; so do the CLI and the tests. Every step runs
inside :func:`step`, which turns any failure into a :class:`StepFailed` whose first line says
which step and which object failed, and logs that line before the traceback.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flows.pipeline import progress
from flows.pipeline.faults import kill_point

log = logging.getLogger("salesops")


class StepFailed(RuntimeError):
    """A pipeline step failed. ``str(exc)`` is the one line an operator needs first."""

    def __init__(self, step: str, target: str | None, cause: BaseException | str):
        where = f"step '{step}'" + (f" ({target})" if target else "")
        reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"nightly run failed at {where}: {reason}")
        self.step = step
        self.target = target
        self.summary: NightlySummary | None = None  # set when a run fails after producing results


@contextmanager
def step(name: str, target: str | None = None, logger: logging.Logger | None = None) -> Iterator[None]:
    """Run a block as a named step; a failure becomes one clear line, then the trace.

    The step's start and end are progress events (:mod:`flows.pipeline.progress`) for a watching CLI.
    A step that succeeds logs its time and the process's peak RSS so far, noting when the step
    raised it: which step sets a run's peak memory is then in the run's own log.
    """
    kill_point(name, target)  # a test hook, inert unless SALESOPS_FAULT_KILL_AT is set
    progress.emit(name, "started", target or name)
    started, peak_before = time.perf_counter(), peak_rss_mib()
    try:
        yield
    except StepFailed:
        progress.emit(name, "finished", target or name, detail="failed")
        raise
    except Exception as exc:
        obj = getattr(exc, "source", None) and f"{exc.source}.{exc.object}"  # IngestError names the object
        failure = StepFailed(name, obj or target, exc)
        (logger or log).error("FAILED: %s", failure)
        progress.emit(name, "finished", target or name, detail="failed")
        raise failure from exc
    peak = peak_rss_mib()
    (logger or log).info(
        "step %s%s done in %.1fs; peak RSS %d MiB%s",
        name,
        f" ({target})" if target else "",
        time.perf_counter() - started,
        peak,
        f" (raised by this step from {peak_before} MiB)" if peak > peak_before else "",
    )
    progress.emit(name, "finished", target or name, detail="done")


def peak_rss_mib() -> int:
    """The process's peak resident set so far, in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


@dataclass
class EmailSent:
    recipient: str
    subject: str
    status: str
    error: str | None = None


COMMISSION_WARNINGS_SHOWN = 50


@dataclass
class NightlySummary:
    """What a nightly run did; printed by the CLI and published as a Prefect artifact."""

    run_id: str
    run_date: date
    warehouse: Path
    reports_dir: Path
    outbox_dir: Path
    landed: list[dict] = field(default_factory=list)  # one dict per (source, object)
    config_rows: dict[str, int] = field(default_factory=dict)
    marts: dict[str, int] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: int = 0
    critical_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # what the commission engine could not pay or would pay suspiciously (marts.fct_commission_warnings)
    commission_warnings: list[str] = field(default_factory=list)
    emails: list[EmailSent] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    work_warehouse: Path | None = None  # the pipeline's own DuckDB file (raw, ops, marts being built)
    marts_dir: Path | None = None  # Parquet copies of the published marts
    published: object | None = None  # flows.warehouse.publish.PublishResult once the marts are published
    quarantined: int = 0  # raw rows newly quarantined by this run's gate
    status: str = "running"

    def to_markdown(self) -> str:
        lines = [
            f"# salesops nightly run {self.run_id} ({self.run_date})",
            "",
            f"Status: **{self.status}**",
            "",
        ]
        lines += [
            "## Rows landed",
            "",
            "| source | object | received | inserted | updated | deleted | API calls | minimum "
            "| reading s | landing s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in self.landed:
            minimum = r.get("min_api_calls")
            lines.append(
                f"| {r['source']} | {r['object']} | {r['rows_received']} | {r['rows_inserted']} | "
                f"{r['rows_updated']} | {r['rows_deleted']} | {r.get('api_calls', 0)} | "
                f"{'-' if minimum is None else minimum} | {r.get('read_seconds', 0):.1f} | "
                f"{r.get('land_seconds', 0):.1f} |"
            )
        lines += ["", "## Marts", "", "| mart | rows |", "|---|---:|"]
        lines += [f"| {name} | {rows} |" for name, rows in self.marts.items()]
        lines += ["", f"## Data checks: {self.checks_passed} passed, {self.checks_failed} failed", ""]
        lines += [f"- critical: {c}" for c in self.critical_failures]
        lines += [f"- warning: {w}" for w in self.warnings]
        if self.commission_warnings:
            lines += ["", f"## Commission warnings: {len(self.commission_warnings)}", ""]
            lines += [f"- {w}" for w in self.commission_warnings[:COMMISSION_WARNINGS_SHOWN]]
            if len(self.commission_warnings) > COMMISSION_WARNINGS_SHOWN:
                lines.append(
                    f"- ... {len(self.commission_warnings) - COMMISSION_WARNINGS_SHOWN} more in "
                    "marts.fct_commission_warnings"
                )
        lines += ["", "## Emails", ""]
        lines += [f"- {e.status}: {e.recipient} — {e.subject}" for e in self.emails] or ["- none"]
        return "\n".join(lines)
