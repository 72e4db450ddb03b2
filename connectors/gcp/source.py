"""Google Cloud as a `SourceConnector`: Cloud Monitoring incidents, by every path Google offers.

- ``/v1/webhooks/gcp/<instance>``: the webhook channel (basic auth or URL token);
- ``/v1/webhooks/gcp/<instance>/pubsub``: a Pub/Sub push subscription (OIDC token);
- a Pub/Sub pull subscription, read by the leader (`receive`), acknowledged only once
  its events are committed.

Each request is authenticated before its body is read. The console's test notification
(``version`` "test") is answered 200 and recorded as "test received"; it creates nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from connectors.config_values import parse_section
from connectors.gcp import auth, pubsub, subscriber
from connectors.gcp.config import GcpInstance, parse_instance
from connectors.gcp.incidents import (
    ConsoleTest,
    UnmappableIncident,
    decode,
    notification_event,
)
from connectors.source import (
    ControlAnswer,
    PollResult,
    RejectReason,
    SourceConnector,
    SourceSettings,
    SourceUnreachable,
    StreamCommit,
    WebhookHandler,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)

log = logging.getLogger("slad.sources.gcp")

PUBSUB_ROUTE = "pubsub"


class GcpSource(SourceConnector[GcpInstance]):
    """Every configured Google Cloud instance (``[gcp.instances.<name>]``)."""

    name = "gcp"
    title = "Google Cloud"

    def __init__(self) -> None:
        self.keys = auth.GoogleKeys()
        self.subscribers = subscriber.Subscribers()

    def parse_config(self, section: Mapping[str, Any] | None) -> SourceSettings[GcpInstance]:
        """Validate ``[gcp]``; an absent table means no Google Cloud at all."""
        return parse_section("gcp", section, parse_instance)

    def routes(self) -> Mapping[str, WebhookHandler[GcpInstance]]:
        return {"": self.notification, PUBSUB_ROUTE: self.pushed}

    def polls(self, instance: GcpInstance) -> bool:
        return False

    def poll(self, instance: GcpInstance, since: datetime, now: datetime) -> PollResult:
        """Never scheduled (`polls` is False): this version receives pushes only."""
        return PollResult(watermark=now)

    def streams(self, instance: GcpInstance) -> bool:
        return bool(instance.pubsub_subscription)

    def receive(
        self, instance: GcpInstance, commit: StreamCommit, clock: Callable[[], datetime]
    ) -> int:
        """One pull of the instance's subscription, acknowledged after `commit`."""
        return subscriber.receive(self.subscribers, instance, commit, clock)

    def notification(self, instance: GcpInstance, request: WebhookRequest) -> WebhookResult:
        """One notification of a webhook channel, once its credentials check out."""
        try:
            auth.check_notification(instance, request.headers, request.query)
        except auth.Unauthenticated as exc:
            raise WebhookRejected(RejectReason.UNAUTHORIZED, "unauthorized", str(exc)) from exc
        return self._mapped(instance, request.body, request, "notification")

    def pushed(self, instance: GcpInstance, request: WebhookRequest) -> WebhookResult:
        """One message of a push subscription, once its OIDC token checks out."""
        try:
            auth.verify_push_token(instance, self.keys, request.headers)
        except auth.Unauthenticated as exc:
            raise WebhookRejected(RejectReason.UNAUTHORIZED, "unauthorized", str(exc)) from exc
        except auth.KeysUnavailable as exc:
            raise SourceUnreachable(str(exc)) from exc
        try:
            message = pubsub.parse_push(request.body)
        except UnmappableIncident as exc:
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", str(exc)) from exc
        return self._mapped(
            instance, message.data, request, f"Pub/Sub message {message.message_id}"
        )

    def _mapped(
        self, instance: GcpInstance, data: bytes, request: WebhookRequest, what: str
    ) -> WebhookResult:
        try:
            mapped = notification_event(instance, decode(data), request.received_at)
        except UnmappableIncident as exc:
            detail = f"{what}: {exc}"
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", detail) from exc
        if isinstance(mapped, ConsoleTest):
            log.info("gcp:%s: test notification received (%s)", instance.name, what)
            project = f" from {mapped.project}" if mapped.project else ""
            return WebhookResult(control=ControlAnswer(note=f"test received{project}"))
        return WebhookResult(events=[mapped])
