"""A local SMTP server that drops every message it receives into an outbox directory as ``.eml``.

Why: the demo and the tests send real mail through ``smtplib`` (the same code path as production)
and need somewhere to receive it that needs no network and leaves inspectable files. Each
message becomes ``<UTC timestamp>_<seq>_<recipient>.eml``, so ``sorted(outbox.glob("*.eml"))`` is
the arrival order and a file name tells who it was for.

It runs in a background thread (aiosmtpd ``Controller``) so synchronous code can use it as a
context manager. ``port=0`` picks a free port; the real one is in ``.port`` after ``start()``.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)


class OutboxHandler:
    """aiosmtpd handler writing each message to ``outbox_dir``; subclass it to reject or fail on purpose."""

    def __init__(self, outbox_dir: Path):
        self.outbox_dir = Path(outbox_dir)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.received: list[Path] = []

    async def handle_DATA(self, server: SMTPProtocol, session: Session, envelope: Envelope) -> str:
        path = self.write(envelope)
        log.info("outbox: %s (%d bytes) for %s", path.name, path.stat().st_size, ", ".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def write(self, envelope: Envelope) -> Path:
        """Write atomically (temp file + rename): a reader polling the outbox never sees half a message."""
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        trace = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        with self._lock:
            seq = next(self._seq)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        first = envelope.rcpt_tos[0] if envelope.rcpt_tos else "unknown"
        more = f"+{len(envelope.rcpt_tos) - 1}" if len(envelope.rcpt_tos) > 1 else ""
        name = f"{stamp}_{seq:05d}_{_safe(first)}{more}.eml"
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.outbox_dir / f".{name}.tmp"
        tmp.write_bytes(trace + content)
        path = self.outbox_dir / name
        os.replace(tmp, path)
        with self._lock:
            self.received.append(path)
        return path


class _Controller(Controller):
    """aiosmtpd's Controller cannot be asked for port 0: learn the bound port before its self-check."""

    def _trigger_server(self) -> None:
        if self.server is not None and self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _PlainAuthenticator:
    """Accepts one username/password (AUTH PLAIN/LOGIN), to exercise the sender's login path."""

    def __init__(self, username: str, password: str):
        self._username = username.encode()
        self._password = password.encode()

    def __call__(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self._username
            and data.password == self._password
        )
        return AuthResult(success=ok, handled=False)


class LocalSmtpServer:
    """``with LocalSmtpServer(outbox) as smtp: send to 127.0.0.1:smtp.port``.

    ``credentials=(user, password)`` makes the server require AUTH. ``starttls_context`` (a server
    ``ssl.SSLContext``) makes it offer and *require* STARTTLS, with AUTH only after TLS, like a real
    submission server on 587; ``ssl_context`` makes it implicit TLS (port 465 style). ``handler``
    replaces the default :class:`OutboxHandler`, e.g. to reject an address.
    """

    def __init__(
        self,
        outbox_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        handler: OutboxHandler | None = None,
        credentials: tuple[str, str] | None = None,
        starttls_context: ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.outbox_dir = Path(outbox_dir)
        self.host = host
        self.port = port
        self.handler = handler or OutboxHandler(self.outbox_dir)
        self._credentials = credentials
        self._starttls_context = starttls_context
        self._ssl_context = ssl_context
        self._controller: _Controller | None = None

    def start(self) -> LocalSmtpServer:
        if self._controller is not None:
            return self
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        auth: dict[str, Any] = {}
        if self._credentials:
            auth = {
                "authenticator": _PlainAuthenticator(*self._credentials),
                "auth_required": True,
                # aiosmtpd only counts STARTTLS as TLS here; with implicit TLS (ssl_context) the
                # whole session is already encrypted, so AUTH must not wait for a STARTTLS.
                "auth_require_tls": self._starttls_context is not None,
            }
        if self._starttls_context is not None:
            auth |= {"tls_context": self._starttls_context, "require_starttls": True}
        if self._ssl_context is not None:
            auth |= {"ssl_context": self._ssl_context}
        controller = _Controller(self.handler, hostname=self.host, port=self.port, **auth)
        controller.start()
        self._controller = controller
        self.port = controller.port
        log.info("local SMTP server on %s:%d writing to %s", self.host, self.port, self.outbox_dir)
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Path]:
        """The outbox's ``.eml`` files in arrival order."""
        return sorted(self.outbox_dir.glob("*.eml"))

    def __enter__(self) -> LocalSmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _safe(text: str) -> str:
    """File-name-safe form of an address: ``ann.lee@example.com`` stays readable."""
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", text)[:120]
