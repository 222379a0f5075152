"""SMTP handlers for the e-mail tests: an aiosmtpd outbox that refuses one mailbox for good."""

from __future__ import annotations

from flows.sandbox.smtp_outbox import OutboxHandler


class RejectingHandler(OutboxHandler):
    """Refuses one mailbox for good (5xx), like a server with an unknown user."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 <bounce@example.com>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"
