"""Test hook: kill the run at a chosen step, to prove a killed run never leaves anything half done.

``SALESOPS_FAULT_KILL_AT=<step>[:<target>][+<seconds>]`` makes the process kill itself with
SIGKILL when the step named ``<step>`` (as :func:`flows.pipeline.summary.step` names it: ``ingest``,
``data checks``, ``load-config``, ``dbt build``, ``commissions``, ``publish``, ``reports``) starts
for ``<target>`` (e.g. ``ingest:fxiaoke``, ``data checks:marts``), or ``<seconds>`` after it
started (``dbt build+8``: in the middle of dbt). Nothing else reads it and it is unset in every
deployment; the fault tests (tests/faults/, docs/faults.md) set it for one subprocess run.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger("salesops")

KILL_AT_ENV = "SALESOPS_FAULT_KILL_AT"


def kill_point(step: str, target: str | None) -> None:
    """Kill this process now (or after the delay) if ``SALESOPS_FAULT_KILL_AT`` names this step."""
    wanted = os.environ.get(KILL_AT_ENV)
    if not wanted:
        return
    where, _, delay = wanted.partition("+")
    name, _, on = where.partition(":")
    if name != step or (on and on != (target or "")):
        return
    log.warning("%s=%s: killing the run (SIGKILL)", KILL_AT_ENV, wanted)
    if delay:
        timer = threading.Timer(float(delay), os.kill, (os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
    else:
        os.kill(os.getpid(), signal.SIGKILL)
