"""The message a channel delivers, the channel contract, and how delivery fails.

A message is rendered once and stored in the outbox, so it carries everything a channel
needs (subject, text, structured payload) and the idempotency key that lets a receiver
recognise a redelivery after a crash between "accepted" and "recorded".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered notification.

    `payload` is JSON-able (strings, numbers, booleans, lists, dicts; instants as RFC 3339
    strings) so the outbox can store it and the webhook channel can post it unchanged.
    `idempotency_key` travels in mail and HTTP headers, so it must be printable ASCII
    without spaces; that is checked here rather than failing inside a channel later.
    """

    subject: str
    body: str
    payload: dict[str, Any] = field(hash=False)
    idempotency_key: str

    def __post_init__(self) -> None:
        key = self.idempotency_key
        if not key or not key.isascii() or not key.isprintable() or " " in key:
            raise ValueError(f"idempotency key must be printable ASCII without spaces: {key!r}")

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able form the outbox stores."""
        return {
            "subject": self.subject,
            "body": self.body,
            "payload": self.payload,
            "idempotency_key": self.idempotency_key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Rebuild a message from `as_dict` output."""
        return cls(
            subject=data["subject"],
            body=data["body"],
            payload=data["payload"],
            idempotency_key=data["idempotency_key"],
        )


class DeliveryError(Exception):
    """Delivery failed; `retryable` tells the outbox whether trying again can help.

    Transient faults (connection refused, timeouts, 5xx, 429, SMTP 4xx) are retryable;
    faults that only a configuration change fixes (bad credentials, rejected address,
    other 4xx) are not. `retry_after` is the receiver's own hint, when it gave one.
    """

    def __init__(self, *, retryable: bool, reason: str, retry_after: timedelta | None = None):
        super().__init__(reason)
        self.retryable = retryable
        self.reason = reason
        self.retry_after = retry_after


class Channel(Protocol):
    """One configured way of delivering messages."""

    @property
    def name(self) -> str:
        """The channel's name in `[notify.channels]`, as routes refer to it."""
        ...

    def send(self, message: Message, recipient: str) -> datetime:
        """Deliver `message` and return the instant the receiving server accepted it.

        The instant is read from the injected clock right after acceptance; for the
        automatic customer contact it becomes the recorded contact time. Raises
        `DeliveryError` on failure.
        """
        ...
