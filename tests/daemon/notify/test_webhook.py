from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.notify.channels.webhook import (
    WebhookChannel,
    sign_webhook,
    verify_webhook_signature,
)
from daemon.notify.config import WebhookChannelConfig
from daemon.notify.message import DeliveryError, Message
from tests.daemon.notify.conftest import NOW, Certificate, Clock, HttpReceiver, free_port

SECRET = "whsec-テスト-0123"
MESSAGE = Message(
    subject="[SLA 違反] 障害発生連絡: 株式会社サンプル / INC-42",
    body="障害発生連絡が SLA 期限を過ぎました。\n",
    payload={"event": "sla_breached", "case_id": "INC-42", "sla_due": "2026-01-05T01:30:00Z"},
    idempotency_key="incident-42.contact.sla_breached",
)


def _channel(url: str, clock: Clock, ca_file: Path | None) -> WebhookChannel:
    return WebhookChannel(
        WebhookChannelConfig(name="acme-hook", url=url, secret=SECRET, ca_file=ca_file), clock
    )


def test_posts_signed_json(http_receiver: HttpReceiver, certificate: Certificate) -> None:
    clock = Clock(lambda: len(http_receiver.requests))
    channel = _channel(http_receiver.url, clock, certificate.cert)

    accepted = channel.send(MESSAGE, "ops@acme.example")

    assert accepted == NOW
    assert clock.arrivals_seen[-1] == 1, "accepted instant read after the receiver answered"
    (request,) = http_receiver.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.headers["X-Slad-Idempotency-Key"] == MESSAGE.idempotency_key
    assert request.headers["X-Slad-Timestamp"] == str(int(NOW.timestamp()))
    assert json.loads(request.body) == {
        "idempotency_key": MESSAGE.idempotency_key,
        "recipient": "ops@acme.example",
        "subject": MESSAGE.subject,
        "text": MESSAGE.body,
        "payload": MESSAGE.payload,
    }
    assert verify_webhook_signature(
        SECRET,
        request.headers["X-Slad-Timestamp"],
        request.body,
        request.headers["X-Slad-Signature"],
        now=NOW + timedelta(seconds=3),
    )


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (503, True),
        (429, True),
        (408, True),
        (400, False),
        (401, False),
        (404, False),
        (301, False),
    ],
)
def test_http_status_classification(
    http_receiver: HttpReceiver, certificate: Certificate, status: int, retryable: bool
) -> None:
    http_receiver.status = status
    http_receiver.reply = b"receiver says no"
    channel = _channel(http_receiver.url, Clock(lambda: 0), certificate.cert)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@acme.example")
    assert caught.value.retryable is retryable
    assert f"HTTP {status}: receiver says no" == caught.value.reason


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", timedelta(minutes=2)), ("Mon, 05 Jan 2026 01:31:15 GMT", timedelta(minutes=1))],
)
def test_retry_after_is_passed_on(
    http_receiver: HttpReceiver, certificate: Certificate, header: str, expected: timedelta
) -> None:
    http_receiver.status = 429
    http_receiver.reply_headers = {"Retry-After": header}
    channel = _channel(http_receiver.url, Clock(lambda: 0), certificate.cert)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@acme.example")
    assert caught.value.retry_after == expected


def test_connection_refused_is_retryable() -> None:
    channel = _channel(f"http://127.0.0.1:{free_port()}/hook", Clock(lambda: 0), None)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@acme.example")
    assert caught.value.retryable


def test_untrusted_certificate_is_not_retryable(
    https_receiver: HttpReceiver, other_certificate: Certificate
) -> None:
    channel = _channel(https_receiver.url, Clock(lambda: 0), other_certificate.cert)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "ops@acme.example")
    assert not caught.value.retryable
    assert https_receiver.requests == []


def test_verify_off_accepts_an_untrusted_certificate(
    https_receiver: HttpReceiver, other_certificate: Certificate
) -> None:
    config = WebhookChannelConfig(
        name="lab",
        url=https_receiver.url,
        secret=SECRET,
        ca_file=other_certificate.cert,
        verify=False,
    )
    assert WebhookChannel(config, Clock(lambda: 0)).send(MESSAGE, "x") == NOW


def test_signature_verification_rejects_tampering_and_staleness() -> None:
    body = b'{"a":1}'
    timestamp = int(NOW.timestamp())
    signature = sign_webhook(SECRET, timestamp, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64

    def verify(**changes: object) -> bool:
        values: dict[str, object] = {
            "secret": SECRET,
            "timestamp": str(timestamp),
            "body": body,
            "signature": signature,
            "now": NOW,
        }
        values.update(changes)
        return verify_webhook_signature(**values)  # type: ignore[arg-type]

    assert verify()
    assert verify(now=NOW - timedelta(minutes=5))
    assert not verify(body=b'{"a":2}')
    assert not verify(secret="other")
    assert not verify(timestamp=str(timestamp + 1))
    assert not verify(timestamp="not-a-number")
    assert not verify(signature="v1=" + "0" * 64)
    assert not verify(now=NOW + timedelta(minutes=5, seconds=1))
    assert not verify(now=NOW + timedelta(minutes=10), tolerance=timedelta(minutes=9))
