"""Progress events of a run: what the long steps have done so far, for whoever is watching.

Steps emit small events (a page of a CRM object landed, a dbt node finished, a step started or
ended, a gate's checks ran); the CLI subscribes a rich progress display (``flows/cli/progress.py``)
for the duration of a command. The flows stay thin: they only hand :func:`ingest_page` and
:func:`dbt_node` to the functions that know when a page or a node is done. Nobody listening (a
deployed run) costs one empty loop. Listeners are process-wide, not per thread, because Prefect may
run a task in another thread than the flow that the CLI started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressEvent:
    """One thing a step did. ``kind`` is ``started``, ``advanced`` or ``finished``; ``item`` names what
    advanced (``zoho.deals``, ``dbt``, ``checks raw``); ``done`` counts it so far (rows, nodes, checks)."""

    step: str
    kind: str
    item: str
    done: int | None = None
    detail: str = ""


Listener = Callable[[ProgressEvent], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Deliver every event emitted in this process to ``listener`` for the duration of the block."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def emit(step: str, kind: str, item: str, done: int | None = None, detail: str = "") -> None:
    """Tell the listeners; a listener's failure is logged, never the run's failure."""
    with _lock:
        listeners = list(_listeners)
    event = ProgressEvent(step, kind, item, done, detail)
    for listener in listeners:
        try:
            listener(event)
        except Exception as exc:
            log.warning("progress listener failed: %s: %s", type(exc).__name__, exc)


def ingest_page(source: str, obj: str, rows: int) -> None:
    """The landing's page callback (``flows.crm.landing.ProgressCallback``): rows of an object so far."""
    emit("ingest", "advanced", f"{source}.{obj}", rows, f"{rows:,} rows")


class DbtNodes:
    """dbt's event callback: counts the nodes (models, tests, seeds) that finished."""

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, event) -> None:
        if event.info.name != "NodeFinished":
            return
        self.done += 1
        node = event.data.node_info
        emit("dbt build", "advanced", "dbt", self.done, f"{self.done} nodes done (last: {node.node_name})")
