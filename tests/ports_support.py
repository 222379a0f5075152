"""Free loopback ports for the tests that start servers as processes (sandbox, SMTP, Prefect)."""

from __future__ import annotations

import socket


def free_port_block(count: int = 3) -> int:
    """The first of ``count`` consecutive free loopback ports (the sandbox uses PORT..PORT+2)."""
    for base in range(20000, 60000, 97):
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
