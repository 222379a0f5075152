"""Pause Python's cyclic garbage collector while millions of objects are built.

Why: every few hundred allocations CPython may run a collection, and its full (oldest generation)
passes walk every tracked object. Building a million-deal company and the sandbox's row indexes
allocates tens of millions of objects that are never garbage, so those passes were a quarter of
generation and over half of the Zoho sandbox's start-up (measured at 100k deals, issue 14; see
docs/sandbox.md "Scale"); converting a 200,000-row Bulk Read page spent about a sixth of its
CPU in them (docs/connectors.md). Nothing built in such a block forms reference cycles that need
collecting, and the collector runs again, as before, once the last block has finished.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the collector for the block; nested and concurrent blocks re-enable it once, when the
    last one ends, and only if it was enabled when the first one began."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
