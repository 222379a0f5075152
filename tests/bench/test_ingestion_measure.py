"""The ingestion row's measurement (flows/bench/httpwait.py, flows/bench/ingestion.py): the time
blocked on HTTP is counted once however many calls overlap, both sides are measured by the same
hook, and the row's three rates and ratios are the hand-computed ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from flows.bench.httpwait import HttpWait, http_wait
from flows.bench.ingestion import ingestion_row
from flows.bench.isolation import Side
from flows.crm.sessions import ApiResponse, ApiSession, api_session


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_overlapping_calls_count_once_and_gaps_not_at_all():
    clock = _Clock()
    wait = HttpWait(clock=clock)
    wait.enter()  # t=0 call A starts
    clock.now = 1.0
    wait.enter()  # t=1 call B starts while A is in flight
    clock.now = 3.0
    wait.leave()  # t=3 A ends, B still in flight
    clock.now = 4.0
    wait.leave()  # t=4 B ends: one interval 0..4
    clock.now = 10.0
    wait.enter()  # t=10 call C; 4..10 was the client's own time
    clock.now = 10.5
    wait.leave()
    # union of [0, 4] and [10, 10.5]; the sum of the calls would be 3 + 3 + 0.5 = 6.5
    assert wait.seconds == pytest.approx(4.5)
    assert wait.calls == 3


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(0.3)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_hook_counts_every_session_call_and_is_removed_after(slow_url: str):
    original, lean = requests.Session.send, ApiSession._send
    connectors = api_session()
    with http_wait() as waited:
        with requests.Session() as session:
            session.get(slow_url, timeout=30)
        requests.get(slow_url, timeout=30)  # module-level calls go through a Session too
        answer = connectors.get(slow_url, timeout=30)  # the connectors' lean path (urllib3)
    assert isinstance(answer, ApiResponse) and answer.json() == {"ok": True}
    assert waited.calls == 3
    assert waited.seconds >= 0.9  # the server answers each call after 0.3 s
    assert requests.Session.send is original and ApiSession._send is lean
    requests.get(slow_url, timeout=30)
    connectors.get(slow_url, timeout=30)
    assert waited.calls == 3  # not counted once the block is left


def _side(label: str, records: int, wall: float, http: float, cpu: float, path: str = "") -> Side:
    result = {"records": records, "path": path} if path else {"records": records}
    return Side(label, wall, cpu, 100.0, http, 50, result)


def test_row_rates_and_ratios_by_hand():
    # 10,000 deals each. Pipeline: 4 s wall, 1 s of it on HTTP, 1 s CPU.
    # Naive: 20 s wall, 2 s on HTTP, 5 s CPU.
    # wall: 10,000/4 = 2,500 vs 10,000/20 = 500 records/s -> 5x
    # own time: 10,000/(4-1) = 3,333 vs 10,000/(20-2) = 556 records/s -> 18/3 = 6x
    # CPU: 10,000/1 = 10,000 vs 10,000/5 = 2,000 records/s -> 5x
    row = ingestion_row(
        _side("pipeline landing", 10_000, 4.0, 1.0, 1.0, "Bulk Read"),
        _side("naive loop", 10_000, 20.0, 2.0, 5.0),
    )
    assert row.ratio == pytest.approx(5.0)
    assert row.details["ratio_own_time"] == pytest.approx(6.0)
    assert row.details["ratio_cpu"] == pytest.approx(5.0)
    assert "over wall 2,500 vs 500" in row.figure
    assert "3,333 vs 556" in row.figure
    assert "over CPU 10,000 vs 2,000" in row.figure
    assert "(Bulk Read)" in row.figure
    assert "over own time 6.00×, over CPU 5.00×" in row.ratio_means


def test_row_refused_when_the_sides_landed_different_counts():
    with pytest.raises(AssertionError, match="the pipeline landed 9999 deals, the naive loop 10000"):
        ingestion_row(
            _side("pipeline landing", 9_999, 4.0, 1.0, 1.0, "REST listing"),
            _side("naive loop", 10_000, 20.0, 2.0, 5.0),
        )
