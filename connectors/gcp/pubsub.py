"""Pub/Sub messages of a Cloud Monitoring Pub/Sub channel.

The channel publishes the same notification JSON the webhook channel posts, as each
message's ``data``. A push subscription wraps one message in an envelope
(``{"message": {"data": <base64>, "messageId": ...}, "subscription": ...}``); a pull
subscription hands the message itself. Either way the incident's id and state make the
event key, so a message delivered twice (Pub/Sub delivers at least once) is one event.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.gcp.incidents import UnmappableIncident, decode


@dataclass(frozen=True, slots=True)
class PushedMessage:
    """One message as a push subscription posts it."""

    message_id: str
    subscription: str
    data: bytes


def parse_push(body: bytes) -> PushedMessage:
    """The message a push request carries; `UnmappableIncident` when it carries none."""
    envelope = decode(body)
    message = envelope.get("message")
    if not isinstance(message, Mapping):
        raise UnmappableIncident("field 'message' is required, a Pub/Sub message")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise UnmappableIncident("field 'message.messageId' is required, a string")
    return PushedMessage(
        message_id=message_id,
        subscription=str(envelope.get("subscription") or ""),
        data=_data(message),
    )


def _data(message: Mapping[str, Any]) -> bytes:
    data = message.get("data")
    if not isinstance(data, str) or not data:
        raise UnmappableIncident("field 'message.data' is required, base64 of a notification")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnmappableIncident("field 'message.data' is not base64") from exc
