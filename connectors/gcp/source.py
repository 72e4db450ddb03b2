"""Google Cloud as a `SourceConnector`: Cloud Monitoring incidents, by every path Google offers.

- ``/v1/webhooks/gcp/<instance>``: the webhook channel (basic auth or URL token);
- ``/v1/webhooks/gcp/<instance>/pubsub``: a Pub/Sub push subscription (OIDC token);
- a Pub/Sub pull subscription, read by the leader (`receive`), acknowledged only once
  its events are committed;
- the poller (`poll`, leader only): open alerts and those closed since the watermark,
  per project, the projects' snoozes as maintenance windows, and their Service Health
  events as provider notices.

Each request is authenticated before its body is read. The console's test notification
(``version`` "test") is answered 200 and recorded as "test received"; it creates nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from connectors.config_values import parse_section
from connectors.events import AlertEvent
from connectors.gcp import auth, pubsub
from connectors.gcp.config import GcpInstance, parse_instance
from connectors.gcp.incidents import (
    ConsoleTest,
    UnmappableIncident,
    alert_events,
    decode,
    notification_event,
)
from connectors.gcp.snoozes import snooze_window
from connectors.notices import ProviderNotice
from connectors.source import (
    CheckStep,
    ControlAnswer,
    PollResult,
    RejectReason,
    SignedTest,
    SourceConnector,
    SourceSettings,
    SourceUnreachable,
    SourceWindow,
    StreamCommit,
    WebhookHandler,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)

if TYPE_CHECKING:
    from connectors.gcp.api import GoogleApis
    from connectors.gcp.service_health import HealthClients
    from connectors.gcp.subscriber import Subscribers

log = logging.getLogger("slad.sources.gcp")

PUBSUB_ROUTE = "pubsub"
WATERMARK_OVERLAP = timedelta(minutes=5)
"""The next poll re-reads the last minutes: an alert closed just before `now` may be
listed only a little later. Re-read alerts are duplicates."""


class GcpSource(SourceConnector[GcpInstance]):
    """Every configured Google Cloud instance (``[gcp.instances.<name>]``)."""

    name = "gcp"
    title = "Google Cloud"

    def __init__(self) -> None:
        self.keys = auth.GoogleKeys()

    # The Google API clients (gRPC, Pub/Sub, discovery) cost most of a second to import:
    # they are imported when an instance first needs them, not by every daemon start.

    @cached_property
    def subscribers(self) -> Subscribers:
        from connectors.gcp.subscriber import Subscribers

        return Subscribers()

    @cached_property
    def apis(self) -> GoogleApis:
        from connectors.gcp.api import GoogleApis

        return GoogleApis()

    @cached_property
    def health(self) -> HealthClients:
        from connectors.gcp.service_health import HealthClients

        return HealthClients()

    def parse_config(self, section: Mapping[str, Any] | None) -> SourceSettings[GcpInstance]:
        """Validate ``[gcp]``; an absent table means no Google Cloud at all."""
        return parse_section("gcp", section, parse_instance)

    def routes(self) -> Mapping[str, WebhookHandler[GcpInstance]]:
        return {"": self.notification, PUBSUB_ROUTE: self.pushed}

    def polls(self, instance: GcpInstance) -> bool:
        return instance.poll

    def poll(self, instance: GcpInstance, since: datetime, now: datetime) -> PollResult:
        """Alerts open or closed since `since` and every snooze, per project."""
        events: list[AlertEvent] = []
        windows: list[SourceWindow] = []
        notices: list[ProviderNotice] = []
        for project in instance.projects:
            found, snoozed = self._project(instance, project, since, now)
            events += found
            windows += snoozed
            if instance.service_health:
                from connectors.gcp import service_health

                listed = service_health.list_events(self.health, instance, project, since)
                notices += service_health.event_notices(instance, project, listed)
        return PollResult(
            watermark=now - WATERMARK_OVERLAP, events=events, windows=windows, notices=notices
        )

    def _project(
        self, instance: GcpInstance, project: str, since: datetime, now: datetime
    ) -> tuple[list[AlertEvent], list[SourceWindow]]:
        from connectors.gcp import api

        snoozes = api.list_snoozes(self.apis, instance, project)
        reach = since
        for snooze in snoozes:
            start, end = snooze.interval.start_time, snooze.interval.end_time
            if isinstance(start, datetime) and isinstance(end, datetime) and end > since:
                reach = min(reach, start)  # alerts of a snooze still syncing stay in view
        alerts: dict[str, Mapping[str, Any]] = {}
        for query in ('state = "OPEN"', f'close_time >= "{api.rfc3339(reach)}"'):
            for alert in api.list_alerts(self.apis, instance, project, query):
                alerts[str(alert.get("name"))] = alert
        events: list[AlertEvent] = []
        policies: dict[str, str] = {}
        for alert in alerts.values():
            try:
                events += alert_events(instance, alert, now)
            except UnmappableIncident as exc:
                log.warning("gcp:%s: alert %s skipped: %s", instance.name, alert.get("name"), exc)
            policy = alert.get("policy")
            if isinstance(policy, Mapping) and policy.get("name") and policy.get("displayName"):
                policies[str(policy["name"])] = str(policy["displayName"])
        listed = list(alerts.values())
        windows = [
            w
            for w in (snooze_window(instance, project, s, listed, policies, now) for s in snoozes)
            if w is not None
        ]
        return events, windows

    def streams(self, instance: GcpInstance) -> bool:
        return bool(instance.pubsub_subscription)

    def receive(
        self, instance: GcpInstance, commit: StreamCommit, clock: Callable[[], datetime]
    ) -> int:
        """One pull of the instance's subscription, acknowledged after `commit`."""
        from connectors.gcp import subscriber

        return subscriber.receive(self.subscribers, instance, commit, clock)

    def setup(self, instance: GcpInstance, options: Mapping[str, str]) -> list[str]:
        """Channels for the instance, and the policies that do not notify them yet."""
        from connectors.gcp import setup

        return setup.Setup(instance).setup(options)

    def check(self, instance: GcpInstance) -> list[CheckStep]:
        from connectors.gcp import setup

        return setup.Setup(instance).check()

    def signed_test(self, instance: GcpInstance) -> SignedTest | None:
        from connectors.gcp import setup

        return setup.signed_test(instance)

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
