"""Zabbix as a `SourceConnector`: the media type's signed webhook, the API poller, write-back.

One `ZabbixClient` per instance, shared by the webhook (detection look-ups) and the
poller, so instants the poller learns answer later webhook look-ups from its cache;
a lock per instance keeps its one API session to one caller at a time. `clients` may be
given a client over another `ApiCaller` (a fake in tests).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.config_values import parse_section
from connectors.source import (
    CheckStep,
    ControlAnswer,
    PollResult,
    RejectReason,
    SignedTest,
    SourceConnector,
    SourceSettings,
    WebhookHandler,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    WriteBack,
)
from connectors.zabbix import setup as zabbix_setup
from connectors.zabbix.api import ZabbixApiError, ZabbixClient
from connectors.zabbix.config import ZabbixInstance, parse_instance
from connectors.zabbix.mapping import problem_key
from connectors.zabbix.webhook import (
    SIGNATURE_HEADER,
    TEST_FIELD,
    MalformedWebhook,
    decode_body,
    parse_webhook,
    sign,
    verify_signature,
)
from connectors.zabbix.windows import maintenance_windows

log = logging.getLogger("slad.sources.zabbix")


class ZabbixSource(SourceConnector[ZabbixInstance]):
    """Every configured Zabbix server (``[zabbix.instances.<name>]``)."""

    name = "zabbix"
    title = "Zabbix"

    def __init__(self) -> None:
        self.clients: dict[str, ZabbixClient] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def parse_config(self, section: Mapping[str, Any] | None) -> SourceSettings[ZabbixInstance]:
        """Validate ``[zabbix]``; an absent table means no Zabbix at all."""
        return parse_section("zabbix", section, parse_instance)

    def routes(self) -> Mapping[str, WebhookHandler[ZabbixInstance]]:
        return {"": self.notification}

    def client(self, instance: ZabbixInstance) -> ZabbixClient:
        """The instance's client, created on first use (connecting lazily)."""
        with self._guard:
            client = self.clients.get(instance.name)
            if client is None:
                client = self.clients[instance.name] = ZabbixClient(instance)
            return client

    def _lock(self, instance: ZabbixInstance) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(instance.name, threading.Lock())

    def notification(self, instance: ZabbixInstance, request: WebhookRequest) -> WebhookResult:
        """One notification of the slad media type, authenticated by its HMAC signature.

        Nothing is parsed or looked up before the signature verifies. The detection
        instant is asked of the API at once; while the instance counts as down, or when
        the look-up fails, the payload's local time (flagged estimated) is used.
        """
        if not verify_signature(
            instance.webhook_secret, request.body, request.headers.get(SIGNATURE_HEADER.lower())
        ):
            raise WebhookRejected(
                RejectReason.BAD_SIGNATURE,
                "bad-signature",
                f"the {SIGNATURE_HEADER} header is missing or does not match the body",
            )
        try:
            body = decode_body(request.body)
        except MalformedWebhook as exc:
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", str(exc)) from exc
        if TEST_FIELD in body:
            return WebhookResult(control=ControlAnswer("signed test webhook (slad source check)"))
        errors: list[str] = []

        def detected_at(event_id: str) -> datetime | None:
            if not request.source_up:
                return None
            try:
                with self._lock(instance):
                    return self.client(instance).event_detected_at(event_id)
            except ZabbixApiError as exc:
                log.warning("detection look-up failed, using the webhook's local time: %s", exc)
                errors.append(str(exc))
                return None

        try:
            event = parse_webhook(instance, body, request.received_at, detected_at)
        except MalformedWebhook as exc:
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", str(exc)) from exc
        return WebhookResult(events=[event], source_errors=errors)

    def poll(self, instance: ZabbixInstance, since: datetime, now: datetime) -> PollResult:
        """Every problem open since `since`, the maintenances, and the hosts they name.

        The next poll overlaps this one by an interval: a problem Zabbix records with a
        clock just before `now` may not be visible to this poll yet.
        """
        client = self.client(instance)
        with self._lock(instance):
            events = client.reconcile(since, now)
            maintenances = client.maintenances()
            hosts = client.host_identifiers()
        return PollResult(
            watermark=now - timedelta(seconds=instance.poll_interval_seconds),
            events=events,
            windows=maintenance_windows(instance, maintenances, hosts),
        )

    def writes_back(self, instance: ZabbixInstance) -> bool:
        return instance.acknowledge

    def write_back(self, instance: ZabbixInstance, step: WriteBack) -> None:
        """Add the step's message to every Zabbix problem of the incident.

        Only a message is added: acknowledging or closing stays a human decision.
        """
        prefix = problem_key(instance.name, "")
        event_ids = sorted(
            {k.removeprefix(prefix) for k in step.problem_keys if k.startswith(prefix)}
        )
        client = self.client(instance)
        with self._lock(instance):
            for event_id in event_ids:
                client.acknowledge(event_id, step.message)

    def setup(self, instance: ZabbixInstance, options: Mapping[str, str]) -> list[str]:
        with self._lock(instance):
            return zabbix_setup.setup(self.client(instance), instance, options)

    def check(self, instance: ZabbixInstance) -> list[CheckStep]:
        with self._lock(instance):
            return zabbix_setup.check(self.client(instance), instance)

    def signed_test(self, instance: ZabbixInstance) -> SignedTest:
        """A body the webhook answers with a control answer: it is never ingested."""
        body = json.dumps({TEST_FIELD: "1", "instance": instance.name}).encode()
        headers = {
            SIGNATURE_HEADER: sign(instance.webhook_secret, body),
            "Content-Type": "application/json",
        }
        return SignedTest("", headers, body)
