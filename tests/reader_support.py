"""A reader of the published warehouse in a separate process, as a BI tool is one.

It opens the DuckDB file read-only and holds it open until told to exit (what Metabase or
Superset do), answering each ``read()`` with one row of ``query`` as space-separated text. Used
to show that publishing never disturbs a connected reader (tests/warehouse/test_publish.py, the e2e tests).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_SCRIPT = textwrap.dedent(
    """
    import sys, duckdb
    conn = duckdb.connect(sys.argv[1], read_only=True)   # held open until told to exit
    for line in sys.stdin:
        if line.strip() == "exit":
            break
        print(*conn.execute(sys.argv[2]).fetchone(), flush=True)
    conn.close()
    """
)


class Reader:
    def __init__(self, path: Path, query: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(path), query],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("q\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.write("exit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)
