"""The HTTP plumbing both sandbox CRMs share: replies, a threaded background server, the request
handler, and the ``/__admin/*`` router.

Each CRM keeps its own wire persona (``Server`` header, content type, how a connection reset
looks, what its admin answers say) as a handler subclass and an :class:`AdminRouter`; everything
else (reading the request, writing status, headers and body, aborting the socket mid-body for
the reset faults, running and stopping the server thread) lives here once. See docs/sandbox.md.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)


@dataclass
class Reply:
    """One HTTP answer. ``reset``: abort the connection part-way through it (a fault)."""

    status: int
    body: bytes | None = None
    content_type: str = "application/json;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


@dataclass(frozen=True)
class Request:
    """What the handler read off the socket, before any CRM logic looks at it."""

    method: str
    target: str  # path and query string, as sent
    headers: Message
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, blank values kept, the last of a repeated name wins."""
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


def json_reply(
    status: int,
    payload: Any,
    *,
    content_type: str = "application/json;charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Reply:
    """A JSON answer: UTF-8 text (not ``\\u`` escapes), Decimals as JSON numbers."""

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return float(obj)
        raise TypeError(type(obj).__name__)

    body = json.dumps(payload, ensure_ascii=False, default=default).encode("utf-8")
    return Reply(status, body, content_type, headers or {})


def take(faults: object, counter: str) -> bool:
    """Fire a "next K calls" fault: True (and one fewer left) while the counter is positive."""
    left = getattr(faults, counter)
    if left > 0:
        setattr(faults, counter, left - 1)
        return True
    return False


def abort_connection(handler: BaseHTTPRequestHandler) -> None:
    """Close the socket with an RST (SO_LINGER 0): the client sees "connection reset"."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


Dispatch = Callable[[Request], Reply]


class SandboxHandler(BaseHTTPRequestHandler):
    """Reads a request, hands it to the sandbox's ``dispatch`` and writes the :class:`Reply`.

    Subclasses set the persona: ``server_version``, where extra headers go, how a reset looks,
    and what an unhandled error answers.
    """

    dispatch: ClassVar[Dispatch]
    protocol_version = "HTTP/1.1"
    #: headers and body go out in separate writes; with Nagle on, keep-alive clients wait for a
    #: delayed ACK (~40 ms) on every call.
    disable_nagle_algorithm = True
    #: extra reply headers before Content-Type/Content-Length (else after them)
    extra_headers_first: ClassVar[bool] = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, self.headers, body)
        try:
            reply = type(self).dispatch(request)
        except Exception:
            reply = self.internal_error(request)
            if reply is None:
                raise
        with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            if reply.reset:
                self.send_reset(reply)
            else:
                self.send_reply(reply)

    do_GET = do_POST = _serve

    def internal_error(self, request: Request) -> Reply | None:
        """The answer to a bug in the sandbox; None lets the error propagate to the server."""
        return None

    def send_reply(self, reply: Reply, *, complete: bool = True) -> None:
        self.send_response(reply.status)
        if self.extra_headers_first:
            for name, value in reply.headers.items():
                self.send_header(name, value)
        if reply.status in (204, 304):
            self.end_headers()
            return
        data = reply.body or b""
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        if not self.extra_headers_first:
            for name, value in reply.headers.items():
                self.send_header(name, value)
        self.end_headers()
        if complete:
            self.wfile.write(data)

    def send_reset(self, reply: Reply) -> None:
        """Status and headers, half the body, then an RST: a connection reset mid-response."""
        self.send_reply(reply, complete=False)
        data = reply.body or b""
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        abort_connection(self)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        log.debug("%s: " + format, self.server_version, *args)


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sandbox: error handling a request from %s", client_address, exc_info=True)


class BackgroundServer:
    """One listening socket served from a daemon thread (port 0: the OS picks a free port)."""

    def __init__(self, host: str, port: int, handler: type[SandboxHandler], dispatch: Dispatch, name: str):
        bound = type(handler.__name__, (handler,), {"dispatch": staticmethod(dispatch)})
        self._server = _ThreadingServer((host, port), bound)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- /__admin/* -----------------------------------------------------------------------------------------

AdminEndpoint = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class AdminRouter:
    """``/__admin/*``: stats, faults, simulate, reset, as each sandbox names and answers them.

    ``routes`` maps (method, path) to a function of the JSON body; a ``KeyError``, ``TypeError``
    or ``ValueError`` it raises becomes a 400 ``{"error": ...}``. ``unmatched`` answers the rest.
    """

    routes: Mapping[tuple[str, str], AdminEndpoint]
    unmatched: Callable[[str, str], Reply]
    bad_json: str
    reply: Callable[[int, Any], Reply] = json_reply

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return self.reply(400, {"error": self.bad_json})
        endpoint = self.routes.get((method, path))
        if endpoint is None:
            return self.unmatched(method, path)
        try:
            return self.reply(200, endpoint(payload))
        except (KeyError, TypeError, ValueError) as err:
            return self.reply(400, {"error": str(err)})
