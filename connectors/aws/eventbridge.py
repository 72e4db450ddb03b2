"""EventBridge events posted by an API destination to ``/v1/webhooks/aws/<instance>/events``.

An API destination authenticates through its connection: an API-key header or basic
auth (OAuth needs a token endpoint slad does not serve). The instance's configured
credentials are compared in constant time, and an instance with none configured refuses
the route altogether, so a forgotten setting never leaves it open. What is accepted: a
``CloudWatch Alarm State Change`` (the same event as its SNS copy), an ``aws.health``
event (a provider notice), and the test event ``slad source check`` sends.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

from connectors.aws.alarms import ALARM_STATE_CHANGE
from connectors.aws.config import AwsInstance, EventsAuth
from connectors.json_body import NotJsonObject, json_object
from connectors.source import RejectReason, WebhookRejected, WebhookRequest

HEALTH_SOURCE = "aws.health"
TEST_SOURCE = "slad.check"
TEST_DETAIL_TYPE = "slad test event"
ACCEPTED = (
    f"aws.cloudwatch {ALARM_STATE_CHANGE!r}, {HEALTH_SOURCE} events, "
    f"or the {TEST_SOURCE} {TEST_DETAIL_TYPE!r}"
)


def authenticate(instance: AwsInstance, request: WebhookRequest) -> None:
    """Raise `WebhookRejected` unless the request carries the instance's credentials."""
    auth = instance.events
    if auth is None:
        raise WebhookRejected(
            RejectReason.UNKNOWN_ROUTE,
            "events-not-configured",
            f"AWS instance {instance.name!r} takes no EventBridge events: configure "
            "events_api_key_header or events_basic_user for it",
        )
    if auth.header is not None:
        given = request.headers.get(auth.header)
        if given is None or not _same(given, auth.value or ""):
            raise WebhookRejected(
                RejectReason.UNAUTHORIZED,
                "unauthorized",
                f"header {auth.header} is missing or does not match",
            )
        return
    if not _basic_matches(request.headers.get("authorization", ""), auth):
        raise WebhookRejected(
            RejectReason.UNAUTHORIZED,
            "unauthorized",
            "basic authorization is missing or does not match",
        )


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _basic_matches(header: str, auth: EventsAuth) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, colon, password = (
            base64.b64decode(token.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    # both compared whatever the first says, so the time taken tells nothing
    user_ok = _same(user, auth.user or "")
    password_ok = _same(password, auth.password or "")
    return bool(colon) and user_ok and password_ok


def parse_event(body: bytes) -> Mapping[str, Any]:
    """The event as EventBridge posts it (the whole event, not only its detail)."""
    try:
        event = json_object(body)
    except NotJsonObject as exc:
        raise _malformed(f"{exc}: an EventBridge event") from exc
    for key in ("source", "detail-type"):
        if not isinstance(event.get(key), str):
            raise _malformed(f"field {key!r} is required: the whole event must be posted")
    return event


def refuse(event: Mapping[str, Any], why: str = "") -> WebhookRejected:
    """The 422 for an event of a kind this route does not take."""
    what = f"{str(event.get('source'))[:64]!r} / {str(event.get('detail-type'))[:64]!r}"
    return _malformed(f"EventBridge event {what} {why or 'is not accepted'}; accepted: {ACCEPTED}")


def _malformed(detail: str) -> WebhookRejected:
    return WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", detail)


def check_event(instance: AwsInstance) -> dict[str, Any]:
    """The event ``slad source check`` posts: answered, never stored."""
    return {
        "version": "0",
        "id": f"slad-check-{instance.name}",
        "source": TEST_SOURCE,
        "detail-type": TEST_DETAIL_TYPE,
        "resources": [],
        "detail": {"instance": instance.name},
    }


def connection_headers(auth: EventsAuth) -> dict[str, str]:
    """The headers an API destination's connection adds, for the test event."""
    if auth.header is not None:
        return {auth.header: auth.value or ""}
    token = base64.b64encode(f"{auth.user}:{auth.password}".encode()).decode()
    return {"authorization": f"Basic {token}"}
