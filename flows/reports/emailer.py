"""Sending reports by SMTP, once per recipient and period, with every outcome in ``ops.email_log``.

One message per recipient (no manager sees another's team; one bounce does not stop the others),
skipped when already sent for ``(kind, period_key)`` unless ``resend``, with plain smtplib, and the
SMTP password never in a log. Why each of these, and where the SMTP settings come from:
docs/reports.md.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import mimetypes
import smtplib
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Literal

import duckdb

from flows.config.settings import Settings

log = logging.getLogger(__name__)

Status = Literal["sent", "skipped_duplicate", "failed"]
#: (file name, content, MIME type) or a path to attach.
Attachment = Path | tuple[str, bytes, str]

SMTP_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class SmtpParams:
    host: str
    port: int
    security: Literal["plain", "starttls", "ssl"]
    username: str | None
    password: str | None
    verify: bool = True


def smtp_params(settings: Settings) -> SmtpParams:
    """Where and how to send: the Prefect block when configured, else the SALESOPS_SMTP_* settings."""
    if settings.smtp_credentials_block:
        from prefect_email import EmailServerCredentials

        block = EmailServerCredentials.load(settings.smtp_credentials_block, _sync=True)  # type: ignore[call-arg]
        security = {"SSL": "ssl", "STARTTLS": "starttls", "INSECURE": "plain"}[
            str(getattr(block.smtp_type, "name", block.smtp_type)).upper()
        ]
        server = getattr(block.smtp_server, "value", block.smtp_server)
        return SmtpParams(
            host=str(server),
            port=int(block.smtp_port or {"ssl": 465, "starttls": 587, "plain": 25}[security]),
            security=security,  # type: ignore[arg-type]
            username=block.username or None,
            password=block.password.get_secret_value() if block.password else None,
            verify=bool(block.verify),
        )
    return SmtpParams(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
    )


@dataclass(frozen=True)
class SendResult:
    """What happened for one recipient."""

    recipient: str
    status: Status
    message_id: str | None = None
    error: str | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class TransientSmtpError(Exception):
    """A failure worth retrying (4xx reply, dropped connection)."""


def send_report(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    kind: str,
    period_key: str,
    recipients: list[str],
    subject: str,
    html: str,
    text: str,
    resend: bool = False,
    attachments: Sequence[Attachment] = (),
    inline_images: Mapping[str, bytes] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
) -> list[SendResult]:
    """Send ``html`` (with ``text`` alternative) to each recipient separately; log every outcome.

    ``inline_images`` maps a Content-ID (referenced as ``cid:<id>`` in the HTML) to image bytes.
    Transient SMTP failures are retried ``max_attempts`` times with a doubling delay; permanent
    ones (5xx, bad login) are not. Never raises for a delivery problem: see each ``SendResult``.
    """
    ensure_email_log_table(conn)
    images = dict(inline_images or {})
    results: list[SendResult] = []
    with _SmtpSession(settings) as session:
        for recipient in _unique(recipients):
            if not resend and _already_sent(conn, kind, period_key, recipient):
                result = SendResult(recipient, "skipped_duplicate")
                log.info("%s %s to %s already sent: skipped", kind, period_key, recipient)
            else:
                message = build_message(
                    settings,
                    recipient=recipient,
                    subject=subject,
                    html=html,
                    text=text,
                    kind=kind,
                    period_key=period_key,
                    attachments=attachments,
                    inline_images=images,
                )
                result = _deliver(session, message, recipient, max_attempts, retry_delay_seconds)
            _log_attempt(conn, kind, period_key, subject, result)
            results.append(result)
    return results


def build_message(
    settings: Settings,
    *,
    recipient: str,
    subject: str,
    html: str,
    text: str,
    kind: str = "",
    period_key: str = "",
    attachments: Iterable[Attachment] = (),
    inline_images: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    """multipart/alternative (text, then html); images as multipart/related parts of the HTML."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.mail_from
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "salesops.local"
    msg["Message-ID"] = make_msgid(idstring=kind or None, domain=domain)
    if kind:
        msg["X-Salesops-Kind"] = kind
    if period_key:
        msg["X-Salesops-Period"] = period_key
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[-1]
    for cid, data in (inline_images or {}).items():
        html_part.add_related(
            data,
            maintype="image",
            subtype=_image_subtype(data),
            cid=f"<{cid}>",
            filename=f"{cid}.{_image_subtype(data)}",
            disposition="inline",
        )
    for attachment in attachments:
        name, data, mime = _read_attachment(attachment)
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
    return msg


# --- SMTP ----------------------------------------------------------------------------------------


class _SmtpSession:
    """One SMTP connection reused across recipients, reopened after a failure."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self.params = smtp_params(settings)
        self._secret = self.params.password

    def __enter__(self) -> _SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: EmailMessage, recipient: str) -> None:
        smtp = self._connect()
        smtp.send_message(message, from_addr=parseaddr(self.settings.mail_from)[1], to_addrs=[recipient])

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        p = self.params
        context = ssl.create_default_context()
        if not p.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        smtp: smtplib.SMTP
        if p.security == "ssl":
            smtp = smtplib.SMTP_SSL(p.host, p.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            smtp = smtplib.SMTP(p.host, p.port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            smtp.ehlo()
            if p.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if p.username:
                smtp.login(p.username, self._secret or "")
        except BaseException:
            _quietly_close(smtp)
            raise
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(self._smtp)
            self._smtp = None

    def reset(self) -> None:
        """Drop the connection after an error: the next attempt starts clean."""
        if self._smtp is not None:
            _quietly_close(self._smtp)
            self._smtp = None

    def scrub(self, text: str) -> str:
        """Mask the password (and its AUTH encodings) wherever a server or library echoed it."""
        if not self._secret:
            return text
        user = self.params.username or ""
        variants = {
            self._secret,
            base64.b64encode(self._secret.encode()).decode(),
            base64.b64encode(f"\0{user}\0{self._secret}".encode()).decode(),
        }
        for variant in sorted(variants, key=len, reverse=True):
            text = text.replace(variant, "**********")
        return text


def _deliver(
    session: _SmtpSession, message: EmailMessage, recipient: str, max_attempts: int, delay: float
) -> SendResult:
    message_id = str(message["Message-ID"])
    error = ""
    attempt = 0
    for attempt in range(1, max(1, max_attempts) + 1):
        try:
            session.send(message, recipient)
        except Exception as exc:
            session.reset()
            error = session.scrub(_describe(exc))
            if not _is_transient(exc) or attempt == max_attempts:
                break
            log.warning(
                "sending to %s failed (attempt %d/%d, will retry): %s",
                recipient,
                attempt,
                max_attempts,
                error,
            )
            time.sleep(delay * 2 ** (attempt - 1))
        else:
            log.info("sent %s to %s", message_id, recipient)
            return SendResult(recipient, "sent", message_id, None, attempt)
    log.error("sending to %s failed after %d attempt(s): %s", recipient, attempt, error)
    return SendResult(recipient, "failed", message_id, error, attempt)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    # SMTPException subclasses OSError: what is left here is a dropped or refused connection.
    return isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | OSError)


def _describe(exc: Exception) -> str:
    """Exception type and the server's reply only: never the args of our own calls."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
        return f"SMTPRecipientsRefused: {replies}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


# --- ops.email_log ------------------------------------------------------------------------------


def ensure_email_log_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.email_log (
            kind varchar not null,
            period_key varchar not null,
            recipient varchar not null,
            subject varchar,
            message_id varchar,
            status varchar not null,
            error varchar,
            sent_at timestamptz not null
        )"""
    )


def _already_sent(conn: duckdb.DuckDBPyConnection, kind: str, period_key: str, recipient: str) -> bool:
    row = conn.execute(
        """
        select 1 from ops.email_log
        where kind = ? and period_key = ? and lower(recipient) = lower(?) and status = 'sent'
        limit 1
        """,
        [kind, period_key, recipient],
    ).fetchone()
    return row is not None


def _log_attempt(
    conn: duckdb.DuckDBPyConnection, kind: str, period_key: str, subject: str, result: SendResult
) -> None:
    conn.execute(
        """
        insert into ops.email_log (kind, period_key, recipient, subject, message_id, status, error, sent_at)
        values (?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            kind,
            period_key,
            result.recipient,
            subject,
            result.message_id,
            result.status,
            result.error,
            datetime.now(UTC),
        ],
    )


# --- helpers -------------------------------------------------------------------------------------


def _unique(recipients: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for raw in recipients:
        address = raw.strip()
        if address and address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def _image_subtype(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "png"


def _read_attachment(attachment: Attachment) -> tuple[str, bytes, str]:
    if isinstance(attachment, Path):
        mime = mimetypes.guess_type(attachment.name)[0] or "application/octet-stream"
        return attachment.name, attachment.read_bytes(), mime
    return attachment
