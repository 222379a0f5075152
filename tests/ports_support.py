"""Free loopback ports for the tests that start servers as processes (sandbox, SMTP, Prefect)."""

from __future__ import annotations

import os
import socket


def _first_base() -> int:
    """Where this process starts looking: each pytest-xdist worker (``gw0``, ``gw1``...) its own range,
    so two workers probing at the same moment never both take the first free block."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return 20000 + (int(worker) % 8) * 5000 if worker.isdigit() else 20000


def free_port_block(count: int = 3) -> int:
    """The first of ``count`` consecutive free loopback ports (the sandbox uses PORT..PORT+2)."""
    start = _first_base()
    for base in [*range(start, 60000, 97), *range(20000, start, 97)]:
        socks = []
        try:
            for offset in range(count):
                s = socket.socket()
                s.bind(("127.0.0.1", base + offset))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")
