# ruff: noqa: RUF001  (full-width brackets are correct in Japanese text)
from __future__ import annotations

import json

import pytest

from daemon.notify.channels.slack import SlackChannel
from daemon.notify.config import SlackChannelConfig
from daemon.notify.message import DeliveryError, Message
from tests.daemon.notify.conftest import NOW, Certificate, Clock, HttpReceiver, free_port

MESSAGE = Message(
    subject="[障害発生] 株式会社サンプル / web01: CPU > 90%",
    body="内容：CPU > 90% & load <high>\n",
    payload={"event": "incident_opened"},
    idempotency_key="incident-42.opened",
)


def _channel(url: str, clock: Clock, certificate: Certificate) -> SlackChannel:
    return SlackChannel(
        SlackChannelConfig(name="ops-slack", url=url, ca_file=certificate.cert), clock
    )


def test_posts_escaped_text(http_receiver: HttpReceiver, certificate: Certificate) -> None:
    clock = Clock(lambda: len(http_receiver.requests))
    channel = _channel(http_receiver.url, clock, certificate)

    assert channel.send(MESSAGE, "#ops") == NOW

    assert clock.arrivals_seen[-1] == 1
    (request,) = http_receiver.requests
    assert json.loads(request.body) == {
        "text": "*[障害発生] 株式会社サンプル / web01: CPU &gt; 90%*\n"
        "内容：CPU &gt; 90% &amp; load &lt;high&gt;\n"
    }


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (400, False), (403, False)])
def test_slack_errors_are_classified(
    http_receiver: HttpReceiver, certificate: Certificate, status: int, retryable: bool
) -> None:
    http_receiver.status = status
    http_receiver.reply = b"invalid_payload"
    channel = _channel(http_receiver.url, Clock(lambda: 0), certificate)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "#ops")
    assert caught.value.retryable is retryable
    assert "invalid_payload" in caught.value.reason


def test_connection_refused_is_retryable(certificate: Certificate) -> None:
    channel = _channel(f"https://127.0.0.1:{free_port()}/x", Clock(lambda: 0), certificate)
    with pytest.raises(DeliveryError) as caught:
        channel.send(MESSAGE, "#ops")
    assert caught.value.retryable
