"""E-mail over SMTP, with STARTTLS by default.

The accepted instant is read right after the server answers 250 to the message data:
from then on the relay, not slad, is responsible for it, which is what "the mail server
accepted it" means for the recorded customer contact.

`Message-ID` is derived from the idempotency key, so a message sent twice (a crash
between acceptance and recording) carries the same id and mail clients and archives
can recognise the duplicate. Bodies are UTF-8 in base64, so they pass any relay
without 8BITMIME; subjects and display names are RFC 2047 encoded. Every current
Japanese mail client reads both.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from daemon.notify.channels.tls import is_certificate_error, tls_context
from daemon.notify.config import EmailChannelConfig
from daemon.notify.message import DeliveryError, Message

# A key made of these characters is a valid Message-ID left part as it stands.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_+=-]+(?:\.[A-Za-z0-9_+=-]+)*")
_MAX_PLAIN_ID = 128


def message_id(idempotency_key: str, domain: str) -> str:
    """A `Message-ID` that is the same for every delivery of one message.

    A key that is not a valid id by itself is replaced by its SHA-256, which keeps the
    id deterministic; the key is also sent verbatim in `X-Slad-Idempotency-Key`.
    """
    left = idempotency_key
    if len(left) > _MAX_PLAIN_ID or not _PLAIN_ID.fullmatch(left):
        left = "slad." + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
    return f"<{left}@{domain}>"


def build_mail(
    config: EmailChannelConfig, message: Message, recipient: str, date: datetime
) -> EmailMessage:
    """The MIME message for `recipient`. `Auto-Submitted` (RFC 3834) keeps vacation
    responders from answering a monitoring system."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = config.from_address
    mail["To"] = recipient
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = message_id(message.idempotency_key, config.message_id_domain)
    mail["X-Slad-Idempotency-Key"] = message.idempotency_key
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body, charset="utf-8", cte="base64")
    return mail


class EmailChannel:
    """Delivers each message in its own SMTP session (notifications are rare, and a
    fresh session never fails on a connection the server has silently dropped)."""

    def __init__(self, config: EmailChannelConfig, clock: Callable[[], datetime]):
        self._config = config
        self._clock = clock

    @property
    def name(self) -> str:
        """The configured channel name."""
        return self._config.name

    def send(self, message: Message, recipient: str) -> datetime:
        """Send to one address (`addr@example.jp` or `名前 <addr@example.jp>`)."""
        address = parseaddr(recipient)[1]
        if "@" not in address or "\n" in recipient or "\r" in recipient:
            raise DeliveryError(retryable=False, reason=f"not an e-mail address: {recipient!r}")
        mail = build_mail(self._config, message, recipient, self._clock())
        try:
            with self._session() as smtp:
                smtp.send_message(mail, to_addrs=[address])
                return self._clock()
        except (smtplib.SMTPException, OSError) as error:
            raise _delivery_error(error) from error

    @contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        config = self._config
        context = tls_context(config.ca_file, config.verify)
        smtp: smtplib.SMTP
        if config.tls == "implicit":
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            if config.tls == "starttls":
                smtp.starttls(context=context)
            if config.username is not None and config.password is not None:
                smtp.login(config.username, config.password)
            yield smtp
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _delivery_error(error: smtplib.SMTPException | OSError) -> DeliveryError:
    """Classify an SMTP failure: 4xx replies and network faults are worth retrying;
    5xx replies, missing server features and certificate failures need a human."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        reason = "; ".join(
            f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in error.recipients.items()
        )
        return DeliveryError(retryable=all(400 <= c < 500 for c in codes), reason=reason)
    if isinstance(error, smtplib.SMTPResponseException):
        reason = f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
        return DeliveryError(retryable=400 <= error.smtp_code < 500, reason=reason)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return DeliveryError(retryable=True, reason=f"server disconnected: {error}")
    if isinstance(error, smtplib.SMTPException):
        return DeliveryError(retryable=False, reason=f"SMTP: {error}")
    if is_certificate_error(error):
        return DeliveryError(retryable=False, reason=f"TLS: {error}")
    return DeliveryError(retryable=True, reason=f"{type(error).__name__}: {error}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
