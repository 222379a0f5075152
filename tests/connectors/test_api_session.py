"""The connectors' HTTP session: plain GETs on a urllib3 pool, the same answers and failures as requests.

Why these checks: ``ApiSession`` replaces requests for the ~500k stage-history calls of a 1M-deal
first load (flows/crm/sessions.py). The retry policy, the proxy a company routes through and the
CA bundle it trusts must not notice: every failure must come out as the requests exception the
policy retries (or not), and whatever requests does from the environment must still happen.
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import trustme

from flows.crm.retry import TRANSIENT_ERRORS
from flows.crm.sessions import ApiResponse, api_session


class _Origin(BaseHTTPRequestHandler):
    """Answers with what it received; a few paths misbehave on purpose."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/landed?from=moved")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        if self.path.startswith("/broken"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"data": [')
            self.wfile.flush()
            # RST instead of FIN: the connection breaks half-way through the body
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        answer = {
            "served_by": self.server.name,  # type: ignore[attr-defined]
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "user_agent": self.headers.get("User-Agent"),
        }
        body = json.dumps(answer).encode()
        gzipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if gzipped:
            body = gzip.compress(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the broken connection and the refused handshake are on purpose


def _serve(name: str, context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = _Quiet(("127.0.0.1", 0), _Origin)
    server.name = name  # type: ignore[attr-defined]
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if context else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    yield from _serve("origin")


def test_a_plain_get_goes_through_the_lean_path_with_what_requests_would_send(origin: str):
    session = api_session(pool_size=2)
    answer = session.get(
        f"{origin}/crm/v8/Deals/1/Stage_History",
        params={"fields": ["Stage", "Amount"], "page": 2, "page_token": None},
        headers={"Authorization": "Zoho-oauthtoken abc"},
        timeout=10,
    )
    assert isinstance(answer, ApiResponse)
    body = answer.json()  # sent gzipped: decoded as requests decodes it
    assert body["path"] == "/crm/v8/Deals/1/Stage_History?fields=Stage&fields=Amount&page=2"
    assert body["authorization"] == "Zoho-oauthtoken abc"
    assert body["user_agent"] == requests.utils.default_user_agent()
    assert answer.headers["content-type"] == "application/json"  # header names in any case
    plain = requests.get(f"{origin}/x", params={"fields": ["Stage", "Amount"], "page": 2}, timeout=10)
    assert plain.json()["path"] == "/x?fields=Stage&fields=Amount&page=2"


def test_netrc_credentials_for_the_host_are_not_sent(
    origin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = api_session()
    for call in (session.get, session.post):
        answer = call(f"{origin}/x", headers={"Authorization": "Zoho-oauthtoken abc"}, timeout=10)
        if call == session.get:
            assert answer.json()["authorization"] == "Zoho-oauthtoken abc"
    # requests itself would have replaced it: the check above can fail
    assert (
        requests.get(f"{origin}/x", headers={"Authorization": "x"}, timeout=10).json()["authorization"] != "x"
    )


def test_a_redirect_is_followed_as_requests_follows_it(origin: str):
    answer = api_session().get(f"{origin}/moved", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["path"] == "/landed?from=moved"


def test_a_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    origin: str, monkeypatch: pytest.MonkeyPatch
):
    for proxy in _serve("proxy"):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        answer = api_session().get(f"{origin}/via", timeout=10)
        assert answer.json()["served_by"] == "proxy"
        assert answer.json()["path"] == f"{origin}/via"  # a proxy receives the absolute URI
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        answer = api_session().get(f"{origin}/via", timeout=10)
        assert isinstance(answer, ApiResponse)
        assert answer.json()["served_by"] == "origin"


def test_a_connection_broken_mid_body_is_requests_chunked_encoding_error(origin: str):
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as failure:
        api_session().get(f"{origin}/broken", timeout=10)
    assert isinstance(failure.value, TRANSIENT_ERRORS)


def test_a_slow_answer_is_a_read_timeout_and_a_refused_connection_a_connection_error(origin: str):
    with pytest.raises(requests.ReadTimeout) as slow:
        api_session().get(f"{origin}/slow", timeout=0.2)
    assert isinstance(slow.value, TRANSIENT_ERRORS)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(requests.ConnectionError) as refused:
        api_session().get(f"http://127.0.0.1:{port}/x", timeout=5)
    assert not isinstance(refused.value, requests.Timeout)  # retried as a connection error, not a timeout


def test_tls_trusts_the_bundle_requests_would_trust(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    for url in _serve("tls", context):
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        with pytest.raises(requests.exceptions.SSLError):  # certifi does not know this CA
            api_session().get(f"{url}/x", timeout=10)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        answer = api_session().get(f"{url}/x", timeout=10)
        assert isinstance(answer, ApiResponse)
        assert answer.json()["served_by"] == "tls"
