"""Real SMTP round trips: smtplib -> aiosmtpd (LocalSmtpServer) in this process -> .eml in the outbox."""

from __future__ import annotations

import logging
import socket
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import duckdb
import pytest
from reports_support import RejectingHandler

from flows.config.settings import Settings
from flows.reports.emailer import send_report
from flows.sandbox.smtp_outbox import LocalSmtpServer, OutboxHandler

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # only the magic number matters to the mailer
HTML = '<html><body><p>Hello</p><img src="cid:chart" alt="chart"></body></html>'
SECRET = "s3cr3t-Pa55w0rd!"


def read_eml(path: Path) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())  # type: ignore[return-value]


def log_rows(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "select kind, period_key, recipient, status, message_id, error from ops.email_log order by sent_at"
    ).fetchall()


@pytest.fixture
def conn(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


def settings_for(server: LocalSmtpServer, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        home=tmp_path / "home",
        smtp_host=server.host,
        smtp_port=server.port,
        mail_from="SalesOps <salesops@example.com>",
        **extra,
    )


def send(conn, settings, recipients, **kw):
    args = dict(
        kind="manager_daily",
        period_key="2026-11-28",
        recipients=recipients,
        subject="Attainment 2026-11",
        html=HTML,
        text="Hello (text)",
        inline_images={"chart": PNG},
        retry_delay_seconds=0.01,
    )
    args.update(kw)
    return send_report(conn, settings, **args)


def test_message_arrives_with_parts_and_inline_image(conn, outbox, tmp_path):
    with LocalSmtpServer(outbox) as server:
        assert server.port > 0
        results = send(conn, settings_for(server, tmp_path), ["ann@example.com", "bo@example.com"])

    assert [r.status for r in results] == ["sent", "sent"]
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    assert "ann@example.com" in files[0].name and "bo@example.com" in files[1].name
    msg = read_eml(files[0])
    assert msg["To"] == "ann@example.com"
    assert msg["Subject"] == "Attainment 2026-11"
    assert msg["Message-ID"].strip() == results[0].message_id  # a long id may be folded
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text.get_content().strip() == "Hello (text)"
    assert 'src="cid:chart"' in html.get_content()
    images = [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert len(images) == 1
    assert images[0]["Content-ID"] == "<chart>"
    assert images[0].get_content_type() == "image/png"
    assert images[0].get_content() == PNG
    assert [r[3] for r in log_rows(conn)] == ["sent", "sent"]


def test_no_duplicate_on_second_send_and_resend_forces(conn, outbox, tmp_path):
    with LocalSmtpServer(outbox) as server:
        settings = settings_for(server, tmp_path)
        send(conn, settings, ["ann@example.com"])
        again = send(conn, settings, ["ANN@example.com", "new@example.com"])
        assert [r.status for r in again] == ["skipped_duplicate", "sent"]
        assert len(list(outbox.glob("*.eml"))) == 2
        other_day = send(conn, settings, ["ann@example.com"], period_key="2026-11-29")
        assert other_day[0].status == "sent"
        forced = send(conn, settings, ["ann@example.com"], resend=True)
        assert forced[0].status == "sent"
    assert len(list(outbox.glob("*.eml"))) == 4
    statuses = [(r[1], r[2].lower(), r[3]) for r in log_rows(conn)]
    assert statuses.count(("2026-11-28", "ann@example.com", "sent")) == 2
    assert ("2026-11-28", "ann@example.com", "skipped_duplicate") in statuses


def test_one_rejected_recipient_does_not_block_the_others(conn, outbox, tmp_path):
    with LocalSmtpServer(outbox, handler=RejectingHandler(outbox)) as server:
        results = send(
            conn, settings_for(server, tmp_path), ["ann@example.com", "bounce@example.com", "bo@example.com"]
        )

    by = {r.recipient: r for r in results}
    assert by["ann@example.com"].status == by["bo@example.com"].status == "sent"
    bounced = by["bounce@example.com"]
    assert bounced.status == "failed" and not bounced.ok
    assert bounced.attempts == 1  # a 5xx is permanent: no retry
    assert "550" in bounced.error and "mailbox unavailable" in bounced.error
    assert len(list(outbox.glob("*.eml"))) == 2
    assert ("bounce@example.com", "failed") in [(r[2], r[3]) for r in log_rows(conn)]


class FlakyHandler(OutboxHandler):
    """Answers the first DATA with a temporary failure (4xx), then accepts."""

    def __init__(self, outbox_dir: Path):
        super().__init__(outbox_dir)
        self.failures_left = 1

    async def handle_DATA(self, server, session, envelope):
        if self.failures_left:
            self.failures_left -= 1
            return "451 4.3.0 Temporary local problem, try again"
        return await super().handle_DATA(server, session, envelope)


def test_transient_error_is_retried(conn, outbox, tmp_path):
    with LocalSmtpServer(outbox, handler=FlakyHandler(outbox)) as server:
        results = send(conn, settings_for(server, tmp_path), ["ann@example.com"])
    assert results[0].status == "sent"
    assert results[0].attempts == 2
    assert len(list(outbox.glob("*.eml"))) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_and_password_never_leaks(conn, outbox, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with LocalSmtpServer(outbox, credentials=("salesops", SECRET)) as server:
        good = settings_for(server, tmp_path, smtp_username="salesops", smtp_password=SECRET)
        assert send(conn, good, ["ann@example.com"])[0].status == "sent"

        wrong = settings_for(server, tmp_path, smtp_username="salesops", smtp_password=SECRET + "x")
        failed = send(conn, wrong, ["bo@example.com"])[0]
        unauthenticated = send(conn, settings_for(server, tmp_path), ["cy@example.com"])[0]

    assert failed.status == "failed" and "535" in failed.error
    assert failed.attempts == 1  # a bad login is not retried
    assert unauthenticated.status == "failed"
    assert SECRET not in repr(wrong) and SECRET not in str(wrong.model_dump())
    assert SECRET not in caplog.text
    for row in log_rows(conn):
        assert SECRET not in " ".join(str(v) for v in row)
    assert len(list(outbox.glob("*.eml"))) == 1


def test_unreachable_server_fails_every_recipient_without_raising(conn, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(home=tmp_path / "home", smtp_host="127.0.0.1", smtp_port=port)
    results = send(conn, settings, ["ann@example.com", "bo@example.com"], max_attempts=2)
    assert [r.status for r in results] == ["failed", "failed"]
    assert all(r.attempts == 2 and "ConnectionRefused" in r.error for r in results)


# --- TLS -----------------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway CA-less certificate for localhost / 127.0.0.1, made with `cryptography`."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _server_context(cert: Path, key: Path):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class RecordingHandler(OutboxHandler):
    """Remembers whether each session was encrypted and authenticated when DATA arrived."""

    def __init__(self, outbox_dir: Path):
        super().__init__(outbox_dir)
        self.sessions: list[tuple[bool, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        self.sessions.append((session.ssl is not None, bool(session.authenticated)))
        return await super().handle_DATA(server, session, envelope)


def test_starttls_with_authentication(conn, outbox, tmp_path, monkeypatch, caplog):
    cert, key = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust our test certificate, as a private CA would be
    handler = RecordingHandler(outbox)
    attachment = ("payroll.csv", b"rep,amount\r\nann,1.00\r\n", "text/csv")
    with LocalSmtpServer(
        outbox, handler=handler, credentials=("salesops", SECRET), starttls_context=_server_context(cert, key)
    ) as server:
        tls = settings_for(
            server, tmp_path, smtp_security="starttls", smtp_username="salesops", smtp_password=SECRET
        )
        results = send(conn, tls, ["ann@example.com", "bo@example.com"], attachments=[attachment])
        # without STARTTLS the server refuses to go on (require_starttls): permanent, reported, not raised
        plain = send(
            conn,
            settings_for(server, tmp_path, smtp_username="salesops", smtp_password=SECRET),
            ["cy@example.com"],
        )
    assert [r.status for r in results] == ["sent", "sent"]
    assert handler.sessions and all(encrypted and authed for encrypted, authed in handler.sessions)
    assert plain[0].status == "failed"
    assert SECRET not in caplog.text
    msg = read_eml(sorted(outbox.glob("*.eml"))[0])
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "payroll.csv" and part.get_payload(decode=True) == attachment[1]
    images = [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert images[0]["Content-ID"] == "<chart>" and images[0].get_content() == PNG


def test_starttls_rejects_an_untrusted_certificate(conn, outbox, tmp_path):
    cert, key = _self_signed(tmp_path)  # SSL_CERT_FILE not set: the certificate is not trusted
    with LocalSmtpServer(
        outbox, credentials=("salesops", SECRET), starttls_context=_server_context(cert, key)
    ) as server:
        tls = settings_for(
            server, tmp_path, smtp_security="starttls", smtp_username="salesops", smtp_password=SECRET
        )
        (result,) = send(conn, tls, ["ann@example.com"], max_attempts=1)
    assert result.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert not list(outbox.glob("*.eml"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_from_a_prefect_email_block(conn, outbox, tmp_path, monkeypatch):
    """SALESOPS_SMTP_CREDENTIALS_BLOCK names an EmailServerCredentials block that replaces SMTP_*."""
    from prefect_email import EmailServerCredentials

    from flows.reports import emailer

    with LocalSmtpServer(outbox, credentials=("blockuser", SECRET)) as server:
        block = EmailServerCredentials(
            username="blockuser",
            password=SECRET,
            smtp_server=server.host,
            smtp_type="INSECURE",
            smtp_port=server.port,
        )
        monkeypatch.setattr(EmailServerCredentials, "load", classmethod(lambda cls, name, **kw: block))
        settings = Settings(
            home=tmp_path / "home",
            smtp_host="wrong.invalid",
            smtp_port=1,
            smtp_credentials_block="salesops-smtp",
            mail_from="salesops@example.com",
        )
        params = emailer.smtp_params(settings)
        assert (params.host, params.port, params.security, params.username) == (
            server.host,
            server.port,
            "plain",
            "blockuser",
        )
        results = send(conn, settings, ["ann@example.com"])
    assert results[0].status == "sent"


def test_implicit_ssl_with_authentication(conn, outbox, tmp_path, monkeypatch, caplog):
    """SALESOPS_SMTP_SECURITY=ssl: TLS from the first byte (port 465 style), then AUTH."""
    monkeypatch.setattr(
        "flows.reports.emailer.SMTP_TIMEOUT_SECONDS", 2
    )  # the clear-text attempt waits for a greeting
    cert, key = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    handler = RecordingHandler(outbox)
    with LocalSmtpServer(
        outbox, handler=handler, credentials=("salesops", SECRET), ssl_context=_server_context(cert, key)
    ) as server:
        secure = settings_for(
            server, tmp_path, smtp_security="ssl", smtp_username="salesops", smtp_password=SECRET
        )
        results = send(conn, secure, ["ann@example.com"])
        # the same server spoken to in clear text answers nothing an SMTP client understands
        plain = send(
            conn,
            settings_for(server, tmp_path, smtp_username="salesops", smtp_password=SECRET),
            ["bo@example.com"],
            max_attempts=1,
        )
    assert [r.status for r in results] == ["sent"]
    assert [authed for _encrypted, authed in handler.sessions] == [True]  # aiosmtpd marks only STARTTLS
    assert plain[0].status == "failed"
    assert SECRET not in caplog.text
