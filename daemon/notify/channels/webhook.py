"""A generic JSON webhook, signed so the receiver can trust and deduplicate it.

The body is `{"idempotency_key", "recipient", "subject", "text", "payload"}` in UTF-8
JSON. Headers:

- `X-Slad-Timestamp`: unix seconds at signing, so a captured request cannot be replayed
  after the receiver's tolerance has passed;
- `X-Slad-Signature: v1=<hex>`: HMAC-SHA256 with the shared secret over
  `<timestamp>.<body bytes>`, so the timestamp cannot be swapped either;
- `X-Slad-Idempotency-Key`: the same key on every retry of one message, so the
  receiver can drop a redelivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from daemon.notify.channels.http import post
from daemon.notify.config import WebhookChannelConfig
from daemon.notify.message import Message

SIGNATURE_VERSION = "v1"


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Slad-Signature` value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_webhook_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime,
    tolerance: timedelta = timedelta(minutes=5),
) -> bool:
    """Whether a received request is authentic and fresh; receivers may copy this.

    `timestamp` and `signature` are the raw header values, `body` the raw request bytes
    (not re-serialised JSON). A timestamp further than `tolerance` from `now`, in either
    direction, is rejected. The comparison runs in constant time.
    """
    if not timestamp.isdigit():
        return False
    sent = int(timestamp)
    if abs(now.timestamp() - sent) > tolerance.total_seconds():
        return False
    return hmac.compare_digest(sign_webhook(secret, sent, body), signature)


class WebhookChannel:
    """Posts a signed JSON document to the configured URL."""

    def __init__(self, config: WebhookChannelConfig, clock: Callable[[], datetime]):
        self._config = config
        self._clock = clock

    @property
    def name(self) -> str:
        """The configured channel name."""
        return self._config.name

    def send(self, message: Message, recipient: str) -> datetime:
        """Post the message; `recipient` travels in the body for the receiver to route."""
        document = {
            "idempotency_key": message.idempotency_key,
            "recipient": recipient,
            "subject": message.subject,
            "text": message.body,
            "payload": message.payload,
        }
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Slad-Timestamp": str(timestamp),
            "X-Slad-Signature": sign_webhook(self._config.secret, timestamp, body),
            "X-Slad-Idempotency-Key": message.idempotency_key,
        }
        return post(
            self._config.url,
            body,
            headers,
            timeout=self._config.timeout,
            ca_file=self._config.ca_file,
            verify=self._config.verify,
            clock=self._clock,
        )
