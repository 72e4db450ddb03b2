"""Azure as a `SourceConnector`: Azure Monitor alerts pushed by action groups.

Every request is authenticated before its body is read, as the instance says: a secure
webhook's Entra ID bearer token (`connectors.azure.tokens`), or the secret in a plain
webhook's URL (``?token=``, compared in constant time). When the tenant's signing keys
cannot be fetched, the call is answered 503 (Azure retries 503) rather than refused.
Then the body must be the common alert schema; any other shape is refused with a 422
naming the action-group setting that turns it on. Service Health alerts become provider
notices; every other alert (metric, log search, activity log, Resource Health) becomes
alert events.

An instance with `subscriptions` is also polled (`connectors.azure.polling`), on the
leader only, through the runner: alerts the push missed, their resolutions, and
Service Health events.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from connectors.azure.alerts import (
    COMMON_SCHEMA,
    SERVICE_HEALTH,
    UnmappableAlert,
    alert_events,
    common_alert,
    monitoring_service,
)
from connectors.azure.config import AzureInstance, WebhookAuth, parse_instance
from connectors.azure.health import service_health_notice
from connectors.azure.tokens import InvalidToken, KeysUnavailable, SigningKeys, TokenVerifier
from connectors.config_values import parse_section
from connectors.json_body import json_object
from connectors.source import (
    CheckStep,
    ControlAnswer,
    PollResult,
    RejectReason,
    SignedTest,
    SourceConnector,
    SourceSettings,
    SourceUnreachable,
    WebhookHandler,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)

if TYPE_CHECKING:
    from connectors.azure.api import AzureApi

TOKEN_QUERY = "token"
CHECK_RULE = "slad source check"
CHECK_NOTE = "check payload accepted; nothing stored"
CHECK_REACH = timedelta(days=1)


def check_payload(instance: AzureInstance) -> dict[str, Any]:
    """The common-schema body ``slad source check`` sends: answered, never stored."""
    return {
        "schemaId": COMMON_SCHEMA,
        "data": {
            "essentials": {
                "alertId": f"/subscriptions/{instance.tenant_id}/providers/"
                "Microsoft.AlertsManagement/alerts/slad-check",
                "alertRule": CHECK_RULE,
                "monitorCondition": "Fired",
                "monitoringService": "Platform",
                "alertTargetIDs": [],
            },
            "customProperties": {"slad": "check"},
        },
    }


def is_check_payload(data: Mapping[str, Any]) -> bool:
    custom = data.get("customProperties")
    return (
        data["essentials"].get("alertRule") == CHECK_RULE
        and isinstance(custom, Mapping)
        and custom.get("slad") == "check"
    )


class AzureSource(SourceConnector[AzureInstance]):
    """Every configured tenant (``[azure.instances.<name>]``)."""

    name = "azure"
    title = "Azure"

    def __init__(self) -> None:
        self._verifiers: dict[str, TokenVerifier] = {}
        self._apis: dict[str, AzureApi] = {}
        self._lock = threading.Lock()

    def parse_config(self, section: Mapping[str, Any] | None) -> SourceSettings[AzureInstance]:
        """Validate ``[azure]``; an absent table means no Azure at all."""
        return parse_section("azure", section, parse_instance)

    def routes(self) -> Mapping[str, WebhookHandler[AzureInstance]]:
        return {"": self.alert}

    def polls(self, instance: AzureInstance) -> bool:
        """Only an instance with `subscriptions` (and a credential) is reconciled."""
        return bool(instance.subscriptions)

    def poll(self, instance: AzureInstance, since: datetime, now: datetime) -> PollResult:
        """Alerts the push missed, resolutions, and Service Health events since `since`."""
        from connectors.azure import polling

        return polling.poll(self.api(instance), instance, since, now)

    def api(self, instance: AzureInstance) -> AzureApi:
        """The instance's API client, whose credential caches its token between polls.

        The Azure management SDKs cost most of a second to import: they are imported
        when an instance first polls or is set up, not by every daemon start."""
        from connectors.azure.api import AzureApi

        with self._lock:
            found = self._apis.get(instance.name)
            if found is None or found.instance != instance:
                found = self._apis[instance.name] = AzureApi(instance)
            return found

    def alert(self, instance: AzureInstance, request: WebhookRequest) -> WebhookResult:
        """One action-group call: authenticated, then mapped (module docstring)."""
        self._authenticate(instance, request)
        try:
            data = common_alert(json_object(request.body))
            if is_check_payload(data):
                return WebhookResult(control=ControlAnswer(note=CHECK_NOTE))
            if monitoring_service(data) == SERVICE_HEALTH:
                notice = service_health_notice(instance.name, data, request.received_at)
                return WebhookResult(notices=[notice])
            return WebhookResult(events=alert_events(instance.name, data, request.received_at))
        except (UnmappableAlert, ValueError) as exc:
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", str(exc)) from exc

    def setup(self, instance: AzureInstance, options: Mapping[str, str]) -> list[str]:
        """slad's receiver on the instance's action group; rules that do not use it."""
        from connectors.azure.setup import setup as configure_action_group

        return configure_action_group(self.api(instance), instance, options["url"])

    def check(self, instance: AzureInstance) -> list[CheckStep]:
        """Sign-in and reads of every subscription, and the tenant's signing keys; the
        CLI then sends `signed_test` (plain webhooks) through slad's own route."""
        steps = []
        if instance.webhook_auth is WebhookAuth.SECURE:
            try:
                self.verifier(instance).keys.refresh()
                steps.append(
                    CheckStep("the tenant's signing keys readable", True, instance.signing_keys_url)
                )
            except InvalidToken as exc:
                steps.append(CheckStep("the tenant's signing keys readable", False, str(exc)))
        if not instance.subscriptions:
            steps.append(CheckStep("polling", True, "no subscriptions listed: push only"))
            return steps
        api = self.api(instance)
        try:
            api.token()
        except SourceUnreachable as exc:
            return [*steps, CheckStep("sign-in to Entra ID", False, str(exc))]
        who = instance.client_id or "the managed identity"
        steps.append(
            CheckStep("sign-in to Entra ID", True, f"{who} in tenant {instance.tenant_id}")
        )
        now = datetime.now(UTC)
        for subscription in instance.subscriptions:
            reads: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
                ("alerts", partial(api.alerts, subscription, now - CHECK_REACH, now)),
                ("Service Health events", partial(api.health_events, subscription, now)),
            ]
            for name, read in reads:
                step = f"{name} of {subscription} readable"
                try:
                    steps.append(CheckStep(step, True, f"{len(read())} in the last day"))
                except SourceUnreachable as exc:
                    steps.append(CheckStep(step, False, str(exc)))
        return steps

    def signed_test(self, instance: AzureInstance) -> SignedTest | None:
        """A check payload with the URL secret; a secure webhook's token can only come
        from Azure Monitor (use the action group's *Test* button for that path)."""
        if instance.webhook_auth is not WebhookAuth.SECRET:
            return None
        return SignedTest(
            "",
            {"Content-Type": "application/json"},
            json.dumps(check_payload(instance)).encode(),
            {TOKEN_QUERY: instance.webhook_secret},
        )

    def verifier(self, instance: AzureInstance) -> TokenVerifier:
        """The instance's token verifier, whose signing keys are kept between requests."""
        with self._lock:
            found = self._verifiers.get(instance.name)
            if found is None or found.instance != instance:
                keys = SigningKeys(
                    instance.signing_keys_url, instance.verify, instance.http_timeout_seconds
                )
                found = self._verifiers[instance.name] = TokenVerifier(instance, keys)
            return found

    def _authenticate(self, instance: AzureInstance, request: WebhookRequest) -> None:
        if instance.webhook_auth is WebhookAuth.SECRET:
            given = request.query.get(TOKEN_QUERY, "")
            if not hmac.compare_digest(given.encode(), instance.webhook_secret.encode()):
                raise WebhookRejected(
                    RejectReason.UNAUTHORIZED,
                    "bad-token",
                    f"the URL's ?{TOKEN_QUERY}= is missing or not this instance's webhook secret",
                )
            return
        try:
            self.verifier(instance).verify(
                request.headers.get("authorization"), request.received_at
            )
        except KeysUnavailable as exc:
            raise SourceUnreachable(str(exc)) from exc  # 503: Azure retries it
        except InvalidToken as exc:
            raise WebhookRejected(RejectReason.UNAUTHORIZED, "invalid-token", str(exc)) from exc
