"""Run one side of a measurement in a fresh process, so its wall time, CPU and peak RSS are its own.

The sandbox serves from yet another process (:mod:`flows.bench.sandbox_process`), so none of these
figures include the time or memory the CRMs spend answering. CPU is the child's user + system time
(every thread: DuckDB and dbt run in threads); peak RSS is ``ru_maxrss`` of the child, which
includes the interpreter and the imports the measured code needs, and excludes any process the
child starts (Prefect's temporary API server). The child's wall still includes waiting for the
CRMs' answers: ``http_wait_s`` is that share (:mod:`flows.bench.httpwait`), so a row can also
state a rate over the child's own time (wall minus HTTP waits).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from flows.bench.httpwait import http_wait


@dataclass
class Side:
    """What one side of a measurement cost, and what it returned (counts, totals)."""

    label: str
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mib: float | None = None
    #: seconds of the wall with an HTTP call in flight (the server's share), and the calls sent
    http_wait_s: float | None = None
    http_calls: int | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _enter(env: dict[str, str]) -> None:
    os.environ.update(env)
    # A parent started as `python -c ...` leaves the spawned child a __main__ with neither spec nor
    # file; pyspark (which Great Expectations imports in the gate) takes that for its doctest runner
    # and calls sys.exit(0) mid-run (pyspark/sql/connect/utils.py: check_dependencies).
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None and not hasattr(main, "__file__"):
        main.__file__ = "<salesops bench measurement>"


def _timed(
    fn: Callable[..., dict[str, Any]], args: tuple
) -> tuple[float, float, float, dict[str, Any], tuple[float, int]]:
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        with http_wait() as waited:
            result = fn(*args)
    except BaseException as failure:
        # the parent must get the message: some exceptions (the nightly's StepFailed) do not survive
        # pickling back, and the pool then only says the child "terminated abruptly"
        raise RuntimeError(f"{type(failure).__name__}: {failure}") from None
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # the counts, not the HttpWait: its lock cannot be pickled back to the parent
    return wall, cpu, peak_kib / 1024, result, (waited.seconds, waited.calls)


def in_child(label: str, env: dict[str, str], fn: Callable[..., dict[str, Any]], *args: Any) -> Side:
    """``fn(*args)`` in a spawned process with ``env`` added to its environment; the child's cost.

    ``fn`` must be a module-level function returning a picklable dict. An exception in the child
    is raised here, with the child's traceback attached by ``concurrent.futures``."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no memory inherited
    with ProcessPoolExecutor(1, mp_context=context, initializer=_enter, initargs=(env,)) as pool:
        wall, cpu, rss, result, waited = pool.submit(_timed, fn, args).result()
    return Side(label, round(wall, 3), round(cpu, 3), round(rss, 1), round(waited[0], 3), waited[1], result)
