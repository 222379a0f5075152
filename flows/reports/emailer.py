"""Sending reports by SMTP, once per recipient and period, with every outcome in the e-mail ledger.

One message per recipient (no manager sees another's team; one bounce does not stop the others),
skipped when already sent for ``(kind, period_key)`` unless ``resend``, with plain smtplib, and the
SMTP password never in a log. The ledger (:mod:`flows.reports.email_ledger`) lives outside the
work warehouse, so a rebuilt warehouse never resends. A message whose DATA went out and whose
reply never came back is *ambiguous*: recorded, never retried nor resent without ``resend``; a
server that stops answering is given one timeout, not one per attempt and recipient. Why each of
these, and where the SMTP settings come from: docs/reports.md.
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
from flows.reports.email_ledger import EmailLedger

log = logging.getLogger(__name__)

Status = Literal["sent", "skipped_duplicate", "failed", "ambiguous"]
#: ``resend`` of :func:`send_report`: False skips everyone who may have the message already;
#: ``"undecided"`` sends again to whoever's earlier outcome is unknown (``ambiguous``, or ``pending``:
#: interrupted mid-send) but never to one confirmed ``sent``; True (or ``"all"``) sends to everyone.
Resend = bool | Literal["undecided", "all"]
#: Earlier outcomes ``resend="undecided"`` repeats: the message may or may not have arrived.
UNDECIDED = ("ambiguous", "pending")


def resend_mode(resend: bool, resend_undecided: bool) -> Resend:
    """The ``resend`` of the CLI's ``--resend`` (everyone) and ``--resend-undecided`` flags."""
    if resend and resend_undecided:
        raise ValueError("--resend and --resend-undecided exclude each other: --resend sends to everyone")
    return "undecided" if resend_undecided else resend


#: (file name, content, MIME type) or a path to attach.
Attachment = Path | tuple[str, bytes, str]

SMTP_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_DELAY_SECONDS = 1.0
#: After a server let a command time out, it is not tried again for this long (fail fast instead).
UNRESPONSIVE_PAUSE_SECONDS = 300.0
AMBIGUOUS = (
    "outcome unknown: the message was handed to the server but its reply never came, so it may "
    "have been delivered; not resent - check with the recipient, then send again with "
    "--resend-undecided (only the recipients whose outcome is unknown) or --resend (everyone)"
)


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
        return self.status not in ("failed", "ambiguous")


class TransientSmtpError(Exception):
    """A failure worth retrying (4xx reply, dropped connection)."""


class AmbiguousDelivery(Exception):
    """The server accepted DATA and got the message, but no final reply arrived (lost or hung)."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


class SmtpUnresponsive(Exception):
    """Not attempted: the server let a command time out a moment ago."""


def send_report(
    conn: duckdb.DuckDBPyConnection | None,
    settings: Settings,
    *,
    kind: str,
    period_key: str,
    recipients: list[str],
    subject: str,
    html: str,
    text: str,
    resend: Resend = False,
    attachments: Sequence[Attachment] = (),
    inline_images: Mapping[str, bytes] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
) -> list[SendResult]:
    """Send ``html`` (with ``text`` alternative) to each recipient separately; log every outcome.

    ``resend``: see :data:`Resend`. Every attempt goes to the e-mail ledger, and to the warehouse's
    ``ops.email_log`` copy when ``conn`` is given (None: no warehouse needed, e.g. the run-failed
    alert of a corrupt one).
    ``inline_images`` maps a Content-ID (referenced as ``cid:<id>`` in the HTML) to image bytes.
    Transient SMTP failures are retried ``max_attempts`` times with a doubling delay; permanent
    ones (5xx, bad login), timeouts and ambiguous outcomes are not. Never raises for a delivery
    problem: see each ``SendResult``.
    """
    if resend not in (False, True, "undecided", "all"):
        raise ValueError(f"resend={resend!r}: use False, 'undecided' or 'all'")
    images = dict(inline_images or {})
    results: list[SendResult] = []
    with EmailLedger(settings, conn) as ledger, _SmtpSession(settings) as session:
        for recipient in _unique(recipients):
            earlier = None if resend in (True, "all") else ledger.earlier_outcome(kind, period_key, recipient)
            if resend == "undecided" and earlier in UNDECIDED:
                log.info(
                    "%s %s to %s: earlier outcome %s, sent again (--resend-undecided)",
                    kind,
                    period_key,
                    recipient,
                    earlier,
                )
                earlier = None
            if earlier is not None:
                result = _skipped(kind, period_key, recipient, earlier)
                ledger.skipped(kind, period_key, recipient, subject, result.status, result.error)
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
                attempt = ledger.begin(kind, period_key, recipient, subject, str(message["Message-ID"]))
                result = _deliver(session, message, recipient, max_attempts, retry_delay_seconds)
                ledger.finish(attempt, result.status, result.error)
            results.append(result)
    return results


def _skipped(kind: str, period_key: str, recipient: str, earlier: str) -> SendResult:
    """Not sent again: it was sent, or an earlier attempt may have delivered it (ambiguous, or
    interrupted mid-send: ``pending``); ``resend`` (or ``resend="undecided"`` for the latter) sends
    it once more."""
    if earlier in ("sent", "covered"):
        log.info("%s %s to %s already %s: skipped", kind, period_key, recipient, earlier)
        return SendResult(recipient, "skipped_duplicate")
    why = "its outcome is unknown" if earlier == "ambiguous" else "it was interrupted mid-send"
    error = (
        f"not resent: an earlier attempt may have been delivered ({why}); send with --resend-undecided "
        "to repeat it"
    )
    log.warning("%s %s to %s: %s", kind, period_key, recipient, error)
    return SendResult(recipient, "skipped_duplicate", error=error)


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
        self._smtp: _SMTP | None = None
        self.params = smtp_params(settings)
        self._secret = self.params.password

    def __enter__(self) -> _SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: EmailMessage, recipient: str) -> None:
        """One attempt. Raises :class:`AmbiguousDelivery` when the message went out but no final
        reply came back, :class:`SmtpUnresponsive` while the server is paused after a timeout."""
        _check_responsive(self.params)
        smtp: _SMTP | None = None
        try:
            smtp = self._connect()
            smtp.data_sent = False
            smtp.send_message(message, from_addr=parseaddr(self.settings.mail_from)[1], to_addrs=[recipient])
        except Exception as exc:
            if _timed_out(exc):
                _pause(self.params)
            # a reply code after the message (SMTPDataError) is an answer; silence is not
            if smtp is not None and smtp.data_sent and not isinstance(exc, smtplib.SMTPResponseException):
                raise AmbiguousDelivery(exc) from exc
            raise

    def _connect(self) -> _SMTP:
        if self._smtp is not None:
            return self._smtp
        p = self.params
        context = ssl.create_default_context()
        if not p.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        smtp: _SMTP
        if p.security == "ssl":
            smtp = _SMTP_SSL(p.host, p.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            smtp = _SMTP(p.host, p.port, timeout=SMTP_TIMEOUT_SECONDS)
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
        except AmbiguousDelivery as exc:  # never retried: the first copy may be in the mailbox
            session.reset()
            error = session.scrub(f"{AMBIGUOUS} ({_describe(exc.cause)})")
            log.error("sending %s to %s: %s", message_id, recipient, error)
            return SendResult(recipient, "ambiguous", message_id, error, attempt)
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
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError | SmtpUnresponsive):
        return False
    if _timed_out(exc):  # a hanging server would hang again: one wait, not one per attempt
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    # SMTPException subclasses OSError: what is left here is a dropped or refused connection.
    return isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | OSError)


def _describe(exc: BaseException) -> str:
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


# --- bounded waits and ambiguous outcomes -----------------------------------------------------


class _SMTP(smtplib.SMTP):
    """Remembers whether the server said 354 (send the message): from then on, a lost or missing
    final reply leaves the delivery ambiguous."""

    data_sent = False

    def getreply(self) -> tuple[int, bytes]:
        code, reply = super().getreply()
        if code == 354:
            self.data_sent = True
        return code, reply


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):
    """Implicit TLS (port 465 style), tracking DATA like :class:`_SMTP`."""


#: (host, port) -> (monotonic time until which it is not tried, wall-clock time of the timeout)
_PAUSED: dict[tuple[str, int], tuple[float, datetime]] = {}


def forget_unresponsive_servers() -> None:
    """Try every server again (tests: a new local server may reuse a paused port)."""
    _PAUSED.clear()


def _timed_out(exc: BaseException) -> bool:
    """A timeout, also when smtplib wrapped it (SMTPServerDisconnected from a timed-out read)."""
    return any(isinstance(e, TimeoutError) for e in (exc, exc.__cause__, exc.__context__))


def _pause(params: SmtpParams) -> None:
    _PAUSED[(params.host, params.port)] = (time.monotonic() + UNRESPONSIVE_PAUSE_SECONDS, datetime.now(UTC))


def _check_responsive(params: SmtpParams) -> None:
    until, at = _PAUSED.get((params.host, params.port), (0.0, None))
    if time.monotonic() < until:
        raise SmtpUnresponsive(
            f"not attempted: {params.host}:{params.port} did not answer within {SMTP_TIMEOUT_SECONDS:g} s "
            f"at {at:%H:%M:%S} UTC; it is not tried again for {UNRESPONSIVE_PAUSE_SECONDS:g} s"
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
