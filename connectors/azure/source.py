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
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.azure import polling
from connectors.azure.alerts import (
    SERVICE_HEALTH,
    UnmappableAlert,
    alert_events,
    common_alert,
    monitoring_service,
)
from connectors.azure.api import AzureApi
from connectors.azure.config import AzureInstance, WebhookAuth, parse_instance
from connectors.azure.health import service_health_notice
from connectors.azure.tokens import InvalidToken, KeysUnavailable, SigningKeys, TokenVerifier
from connectors.config_values import parse_section
from connectors.source import (
    PollResult,
    RejectReason,
    SourceConnector,
    SourceSettings,
    SourceUnreachable,
    WebhookHandler,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)

TOKEN_QUERY = "token"


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
        return polling.poll(self.api(instance), instance, since, now)

    def api(self, instance: AzureInstance) -> AzureApi:
        """The instance's API client, whose credential caches its token between polls."""
        with self._lock:
            found = self._apis.get(instance.name)
            if found is None or found.instance != instance:
                found = self._apis[instance.name] = AzureApi(instance)
            return found

    def alert(self, instance: AzureInstance, request: WebhookRequest) -> WebhookResult:
        """One action-group call: authenticated, then mapped (module docstring)."""
        self._authenticate(instance, request)
        try:
            data = common_alert(json.loads(request.body))
            if monitoring_service(data) == SERVICE_HEALTH:
                notice = service_health_notice(instance.name, data, request.received_at)
                return WebhookResult(notices=[notice])
            return WebhookResult(events=alert_events(instance.name, data, request.received_at))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WebhookRejected(
                RejectReason.MALFORMED, "malformed-webhook", f"the body is not JSON: {exc}"
            ) from exc
        except (UnmappableAlert, ValueError) as exc:
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", str(exc)) from exc

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
