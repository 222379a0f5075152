"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from importlib.machinery import ModuleSpec

import pytest

# A pytest-xdist worker runs under execnet, whose ``__main__`` has neither ``__spec__`` nor ``__file__``.
# pyspark's Spark Connect package (imported by Great Expectations whenever pyspark is installed) takes
# that for a doctest run and calls ``sys.exit(0)`` when grpc is missing: the gate would crash the test.
# A spec named ``__main__`` ends that, and multiprocessing's spawned children (the bench's measured
# sides) then leave their own ``__main__`` alone, as they must (a ``__file__`` would be run as a script).
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__spec__ = ModuleSpec("__main__", None)

#: The Fxiaoke fixtures (clock, sandbox, sleeps, make_connector) and helpers: tests/fxiaoke_support.py.
pytest_plugins = ("fxiaoke_support",)

# Tests never talk to a real Prefect server or send telemetry.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Prefect task retries (flows/pipeline/runs.py) off unless a test turns them on; then they wait 1 s.
os.environ.setdefault("SALESOPS_TASK_RETRIES", "false")
os.environ.setdefault("SALESOPS_TASK_RETRY_DELAY_SECONDS", "1")

# Prefect's console log handler keeps the stream it was created on. Set Prefect's logging up here,
# on pytest's own streams: first set up inside a CliRunner invocation (a command that runs a flow)
# it would write to that invocation's buffer, closed afterwards, and every later log line of the
# session would fail (RecursionError / "I/O operation on closed file" in an unrelated test).
from prefect.logging.configuration import setup_logging  # noqa: E402

setup_logging()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A throwaway Prefect API for the whole session (flows need one to record their runs)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _smtp_pauses_stay_in_their_test() -> None:
    """A server that timed out is paused for minutes (flows/reports/emailer.py); a later test's
    local SMTP server may get the same port."""
    from flows.reports.emailer import forget_unresponsive_servers

    forget_unresponsive_servers()


def _cost_rank(item: pytest.Item) -> int:
    """0 for a module marked ``slow``, 1 for ``e2e``, 2 for the rest."""
    if item.get_closest_marker("slow"):
        return 0
    return 1 if item.get_closest_marker("e2e") else 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the slow modules first (a stable sort: same order within a rank, module by module).

    ``make test`` spreads whole modules over the cores (pytest-xdist ``--dist loadfile
    --no-loadscope-reorder``), handing them out in this order: starting the longest ones first keeps
    a worker from picking up the 7-minute Spark module when the other has nothing left to do.
    """
    rank_of_module: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        rank_of_module[module] = min(rank_of_module.get(module, 2), _cost_rank(item))
    items.sort(key=lambda item: rank_of_module[item.nodeid.split("::", 1)[0]])
