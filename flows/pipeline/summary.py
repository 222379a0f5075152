"""The steps of a nightly run, as plain functions, and the summary the run produces.

Prefect flows (``flows/nightly.py``) call these; so do the CLI and the tests. Every step runs
inside :func:`step`, which turns any failure into a :class:`StepFailed` whose first line says
which step and which object failed, and logs that line before the traceback.
"""

from __future__ import annotations

import ctypes
import gc
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
    raised it: which step sets a run's peak memory is then in the run's own log. It then hands
    the memory it freed back to the system (:func:`release_freed_memory`) and logs what stays
    resident, which is what the next step starts from.
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
    release_freed_memory()
    resident = current_rss_mib()
    (logger or log).info(
        "step %s%s done in %.1fs; peak RSS %d MiB%s%s",
        name,
        f" ({target})" if target else "",
        time.perf_counter() - started,
        peak,
        f" (raised by this step from {peak_before} MiB)" if peak > peak_before else "",
        f"; {resident} MiB resident after" if resident is not None else "",
    )
    progress.emit(name, "finished", target or name, detail="done")


def peak_rss_mib() -> int:
    """The process's peak resident set so far, in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


def current_rss_mib() -> int | None:
    """The process's resident set now, in MiB (Linux ``/proc/self/statm``); ``None`` elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() // (1024 * 1024)


def _malloc_trim() -> ctypes._CFuncPtr | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to call
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Free the step's unreachable cycles, then give the heap memory the process has freed back
    to the system (glibc's ``malloc_trim``).

    Why: glibc keeps freed memory for the process's next allocations unless it sits at the top
    of a heap, and the ingest's reader threads each have heaps of their own. What a step freed
    (an ingest's pages, a gate's frames) then stayed resident into the steps after it, and the
    nightly's peak was the sum of one step's residue and the next step's own memory (issue 14).
    ``malloc_trim(3)``: "since glibc 2.8 this function frees memory in all arenas"; Dask's worker
    docs give the same remedy ("Memory not released back to the OS"). A no-op where the C library
    has no ``malloc_trim``. The cycles first: GX leaves ~100 MiB of them after a raw gate at 300k
    bench deals, which would otherwise wait for the next full collection."""
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)


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
