# ruff: noqa: RUF001  (full-width brackets are correct in Japanese text)
from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from daemon.notify.channels.email import EmailChannel, message_id
from daemon.notify.config import EmailChannelConfig
from daemon.notify.message import DeliveryError, Message
from tests.daemon.notify.conftest import (
    NOW,
    SMTP_PASSWORD,
    SMTP_USER,
    Certificate,
    Clock,
    SmtpServer,
    free_port,
)

MESSAGE = Message(
    subject="【障害発生のご連絡】web01（受付番号 INC-42）",
    body="株式会社サンプル 御中\n\n障害を検知いたしましたので、ご連絡申し上げます。\n",
    payload={"event": "customer_first_notice", "incident_id": "INC-42"},
    idempotency_key="incident-42.first-notice",
)


def _config(server: SmtpServer, ca_file: Path | None, **changes: object) -> EmailChannelConfig:
    values: dict[str, object] = {
        "name": "customer-mail",
        "host": server.host,
        "port": server.port,
        "tls": "starttls",
        "from_address": "監視センター <noc@msp.example.jp>",
        "message_id_domain": "msp.example.jp",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "ca_file": ca_file,
    }
    values.update(changes)
    return EmailChannelConfig(**values)  # type: ignore[arg-type]


def _received(server: SmtpServer) -> EmailMessage:
    content = server.envelopes[0].original_content
    assert isinstance(content, bytes)
    parsed = message_from_bytes(content, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_delivers_japanese_mail_over_starttls_with_auth(
    smtp_server: SmtpServer, certificate: Certificate
) -> None:
    clock = Clock(lambda: len(smtp_server.envelopes))
    channel = EmailChannel(_config(smtp_server, certificate.cert), clock)

    accepted = channel.send(MESSAGE, "担当者 <ops@customer.example.com>")

    assert accepted == NOW
    assert clock.arrivals_seen[-1] == 1, "accepted instant read after the server accepted"
    assert channel.name == "customer-mail"
    assert smtp_server.logins, "the client authenticated"
    envelope = smtp_server.envelopes[0]
    assert envelope.mail_from == "noc@msp.example.jp"
    assert envelope.rcpt_tos == ["ops@customer.example.com"]
    mail = _received(smtp_server)
    assert mail["Subject"] == MESSAGE.subject
    assert mail["From"] == "監視センター <noc@msp.example.jp>"
    assert mail["To"] == "担当者 <ops@customer.example.com>"
    assert mail["Message-ID"] == "<incident-42.first-notice@msp.example.jp>"
    assert mail["X-Slad-Idempotency-Key"] == "incident-42.first-notice"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"].datetime == NOW
    assert mail.get_content_charset() == "utf-8"
    # MIME canonical text uses CRLF line breaks inside the base64
    assert mail.get_content().replace("\r\n", "\n") == MESSAGE.body
    raw = smtp_server.envelopes[0].original_content
    assert isinstance(raw, bytes)
    assert "障害".encode() not in raw, "non-ASCII text is transfer-encoded"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls(smtps_server: SmtpServer, certificate: Certificate) -> None:
    clock = Clock(lambda: len(smtps_server.envelopes))
    channel = EmailChannel(_config(smtps_server, certificate.cert, tls="implicit"), clock)

    assert channel.send(MESSAGE, "ops@customer.example.com") == NOW
    assert _received(smtps_server)["Subject"] == MESSAGE.subject


def test_verify_off_accepts_an_untrusted_certificate(
    smtp_server: SmtpServer, other_certificate: Certificate
) -> None:
    config = _config(smtp_server, other_certificate.cert, verify=False)
    EmailChannel(config, Clock(lambda: 0)).send(MESSAGE, "ops@customer.example.com")
    assert len(smtp_server.envelopes) == 1


def test_untrusted_certificate_is_not_retryable(
    smtp_server: SmtpServer, other_certificate: Certificate
) -> None:
    channel = EmailChannel(_config(smtp_server, other_certificate.cert), Clock(lambda: 0))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@customer.example.com")
    assert not caught.value.retryable
    assert "TLS" in caught.value.reason


def test_wrong_password_is_not_retryable(smtp_server: SmtpServer, certificate: Certificate) -> None:
    channel = EmailChannel(
        _config(smtp_server, certificate.cert, password="wrong"), Clock(lambda: 0)
    )
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@customer.example.com")
    assert not caught.value.retryable
    assert "535" in caught.value.reason
    assert smtp_server.envelopes == []


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 try again later", True), ("554 5.7.1 rejected as spam", False)],
)
def test_data_rejection_is_classified_by_reply_code(
    smtp_server: SmtpServer, certificate: Certificate, reply: str, retryable: bool
) -> None:
    smtp_server.data_reply = reply
    channel = EmailChannel(_config(smtp_server, certificate.cert), Clock(lambda: 0))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@customer.example.com")
    assert caught.value.retryable is retryable
    assert reply[:3] in caught.value.reason


def test_connection_refused_is_retryable(certificate: Certificate) -> None:
    server = SmtpServer(host="127.0.0.1", port=free_port())
    channel = EmailChannel(_config(server, certificate.cert), Clock(lambda: 0))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@customer.example.com")
    assert caught.value.retryable


@pytest.mark.parametrize("recipient", ["", "not-an-address", "a@b.example\r\nBcc: x@y.example"])
def test_bad_recipient_is_not_retryable(recipient: str, certificate: Certificate) -> None:
    server = SmtpServer(host="127.0.0.1", port=free_port())
    channel = EmailChannel(_config(server, certificate.cert), Clock(lambda: 0))
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, recipient)
    assert not caught.value.retryable


def test_message_id_is_deterministic_and_valid_for_any_key() -> None:
    assert message_id("incident-42.contact", "x.example") == "<incident-42.contact@x.example>"
    odd = message_id("incident:42/contact#1", "x.example")
    assert odd == message_id("incident:42/contact#1", "x.example")
    assert odd.startswith("<slad.") and odd.endswith("@x.example>")
    assert odd.isascii() and " " not in odd
