"""AWS as a `SourceConnector`: CloudWatch alarms pushed through an SNS HTTP(S) subscription.

Every message is checked in the order that fetches nothing for a stranger: the envelope
is parsed, its topic must be one of the instance's, and only then is the signing
certificate fetched (from a checked URL, cached) and the signature verified. What SNS
sends beside notifications is answered as a control message: a `SubscriptionConfirmation`
is confirmed by visiting its checked `SubscribeURL` after the answer (unless
`confirm_subscriptions` is off); an `UnsubscribeConfirmation` is recorded and logged,
never visited (visiting it would not re-subscribe, and only an operator should), and
opens the instance's monitoring fault: SNS no longer delivers its alarms. The next
verified notification (an alarm, or the test message ``slad source check`` publishes)
closes it. EventBridge events come by an API destination to the ``events`` route
(`connectors.aws.eventbridge`).

An instance with `regions` is also polled (leader only, by the runner): CloudWatch is
asked for what the pushes missed (`connectors.aws.poll`), and the alarms whose
recoveries are never pushed are reported as findings.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.aws import eventbridge, health, sns
from connectors.aws.alarms import ALARM_STATE_CHANGE, UnmappableMessage, alarm_event
from connectors.aws.config import AwsInstance, parse_instance
from connectors.config_values import parse_section
from connectors.json_body import NotJsonObject, json_object
from connectors.source import (
    CheckStep,
    ControlAnswer,
    FaultChange,
    PollResult,
    RejectReason,
    SignedTest,
    SourceConnector,
    SourceSettings,
    WebhookHandler,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)

if TYPE_CHECKING:
    from connectors.aws.api import AwsApi

log = logging.getLogger("slad.sources.aws")

MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"
TEST_MESSAGE_FIELD = "slad_test"


class AwsSource(SourceConnector[AwsInstance]):
    """Every configured SNS endpoint (``[aws.instances.<name>]``)."""

    name = "aws"
    title = "AWS"

    def __init__(self) -> None:
        self.certificates = sns.CertificateCache()
        self._apis: dict[AwsInstance, AwsApi] = {}
        self._apis_lock = threading.Lock()

    def api(self, instance: AwsInstance) -> AwsApi:
        """The instance's AWS clients, made on first use and kept."""
        from connectors.aws.api import AwsApi  # boto3 is slow to import: only polls need it

        with self._apis_lock:
            if instance not in self._apis:
                self._apis[instance] = AwsApi(instance, instance.api_max_attempts)
            return self._apis[instance]

    def parse_config(self, section: Mapping[str, Any] | None) -> SourceSettings[AwsInstance]:
        """Validate ``[aws]``; an absent table means no AWS at all."""
        return parse_section("aws", section, parse_instance)

    def routes(self) -> Mapping[str, WebhookHandler[AwsInstance]]:
        return {"": self.sns_message, "events": self.eventbridge_event}

    def polls(self, instance: AwsInstance) -> bool:
        """Polled when `regions` are configured; otherwise push only."""
        return instance.polled

    def poll(self, instance: AwsInstance, since: datetime, now: datetime) -> PollResult:
        """The alarm changes the pushes missed since `since`, the AWS Health events updated
        since then, and the findings (alarms that never push a recovery, no Health API).

        The next poll overlaps this one by an interval: CloudWatch may write a history
        item stamped just before `now` after this poll read the history.
        """
        from connectors.aws.poll import health_notices, reconcile

        api = self.api(instance)
        alarms = reconcile(instance, api, since, now)
        notices, health_findings = (
            health_notices(api, since, now) if instance.health_api else ([], [])
        )
        overlap = timedelta(seconds=instance.poll_interval_seconds)
        return PollResult(
            watermark=max(since, now - overlap),
            events=alarms.events,
            notices=notices,
            findings=alarms.findings + health_findings,
        )

    def setup(self, instance: AwsInstance, options: Mapping[str, str]) -> list[str]:
        from connectors.aws import setup  # boto3 is slow to import: only the CLI needs it

        return setup.setup(instance, options)

    def check(self, instance: AwsInstance) -> list[CheckStep]:
        from connectors.aws import setup

        return setup.check(instance)

    def signed_test(self, instance: AwsInstance) -> SignedTest | None:
        """The EventBridge test event with the connection's credentials (if configured);
        the SNS path is proven by `check`, which publishes a test message to each topic."""
        if instance.events is None:
            return None
        headers = {**eventbridge.connection_headers(instance.events)}
        headers["content-type"] = "application/json"
        return SignedTest("events", headers, json.dumps(eventbridge.check_event(instance)).encode())

    def sns_message(self, instance: AwsInstance, request: WebhookRequest) -> WebhookResult:
        """One SNS message: verified, then mapped or answered as a control message."""
        envelope = self._verified(instance, request)
        if envelope.type == sns.SUBSCRIPTION_CONFIRMATION:
            return WebhookResult(control=self._confirm(instance, envelope))
        if envelope.type == sns.UNSUBSCRIBE_CONFIRMATION:
            log.warning(
                "aws:%s: subscription to %s removed; SNS no longer delivers its alarms here",
                instance.name,
                envelope.topic_arn,
            )
            note = f"subscription removed: {envelope.topic_arn} no longer delivers here"
            return WebhookResult(
                control=ControlAnswer(note=note),
                fault=FaultChange(True, note, _instant(envelope.timestamp)),
            )
        delivering = FaultChange(False, f"SNS delivers from {envelope.topic_arn} again")
        try:
            payload = json_object(envelope.message, "the SNS Message")
            if TEST_MESSAGE_FIELD in payload:
                nonce = str(payload[TEST_MESSAGE_FIELD])[:64]
                note = f"test message {nonce} from {envelope.topic_arn}"
                return WebhookResult(control=ControlAnswer(note=note), fault=delivering)
            if health.is_health_event(payload):
                notice = health.eventbridge_notice(instance, payload)
                return WebhookResult(notices=[notice], fault=delivering)
            event = alarm_event(instance, payload, request.received_at)
        except (NotJsonObject, UnmappableMessage) as exc:
            detail = f"SNS message {envelope.message_id}: {exc}"
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", detail) from exc
        return WebhookResult(events=[event], fault=delivering)

    def eventbridge_event(self, instance: AwsInstance, request: WebhookRequest) -> WebhookResult:
        """One EventBridge event from an API destination: authenticated, then mapped."""
        eventbridge.authenticate(instance, request)
        event = eventbridge.parse_event(request.body)
        source, kind = event["source"], event["detail-type"]
        if source == "aws.cloudwatch" and kind == ALARM_STATE_CHANGE:
            try:
                return WebhookResult(events=[alarm_event(instance, event, request.received_at)])
            except UnmappableMessage as exc:
                raise eventbridge.refuse(event, f"cannot be read: {exc}") from exc
        if source == eventbridge.HEALTH_SOURCE:
            try:
                return WebhookResult(notices=[health.eventbridge_notice(instance, event)])
            except UnmappableMessage as exc:
                raise eventbridge.refuse(event, f"cannot be read: {exc}") from exc
        if source == eventbridge.TEST_SOURCE and kind == eventbridge.TEST_DETAIL_TYPE:
            return WebhookResult(control=ControlAnswer(note="test event accepted"))
        raise eventbridge.refuse(event)

    def _verified(self, instance: AwsInstance, request: WebhookRequest) -> sns.Envelope:
        try:
            envelope = sns.parse_envelope(request.body)
        except sns.InvalidEnvelope as exc:
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", str(exc)) from exc
        header = request.headers.get(MESSAGE_TYPE_HEADER)
        if header is not None and header != envelope.type:
            raise WebhookRejected(
                RejectReason.MALFORMED,
                "malformed-webhook",
                f"header {MESSAGE_TYPE_HEADER} says {header!r}, the body {envelope.type!r}",
            )
        if envelope.topic_arn not in instance.topic_arns:
            raise WebhookRejected(
                RejectReason.UNAUTHORIZED,
                "foreign-topic",
                f"topic {envelope.topic_arn[:256]!r} is not in this instance's topic_arns",
            )
        try:
            sns.verify(
                envelope,
                self.certificates,
                instance.trusted_url_prefixes,
                instance.http_timeout_seconds,
                instance.certificate_base_url or "",
            )
        except sns.UntrustedMessage as exc:
            raise WebhookRejected(RejectReason.BAD_SIGNATURE, "bad-signature", str(exc)) from exc
        return envelope

    def _confirm(self, instance: AwsInstance, envelope: sns.Envelope) -> ControlAnswer:
        url = envelope.subscribe_url
        if not sns.trusted_url(url, instance.trusted_url_prefixes):
            raise WebhookRejected(
                RejectReason.UNAUTHORIZED,
                "untrusted-subscribe-url",
                "SubscribeURL is not an https URL on an sns.<region>.amazonaws.com host",
            )
        if not instance.confirm_subscriptions:
            log.warning(
                "aws:%s: subscription to %s awaits confirmation (confirm_subscriptions is "
                "off); confirm it in the SNS console or by visiting %s",
                instance.name,
                envelope.topic_arn,
                url,
            )
            return ControlAnswer(
                note=f"subscription to {envelope.topic_arn} awaits manual confirmation"
            )

        def visit() -> None:
            sns.http_get(url, instance.http_timeout_seconds)
            log.info("aws:%s: subscription to %s confirmed", instance.name, envelope.topic_arn)

        return ControlAnswer(
            note=f"subscription to {envelope.topic_arn} confirmed by visiting its SubscribeURL",
            follow_up=visit,
        )


def _instant(text: str) -> datetime | None:
    """An SNS ``Timestamp`` (ISO 8601, ``Z``), or None if it is not one."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None
