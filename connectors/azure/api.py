"""Azure Resource Manager, as slad reads it: alerts, Service Health events, action groups.

One `AzureApi` per instance holds its credential (azure-identity: a client secret, a
certificate, or a managed identity) and makes the SDK clients per subscription. Every
failure to get an answer (sign-in refused, throttling, a network error, a server error)
is raised as `SourceUnreachable` with Azure's own error code, so the runner counts it
against the instance's health and ``GET /v1/sources`` shows why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.identity import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.alertsmanagement import AlertsManagementClient
from azure.mgmt.resourcehealth import ResourceHealthMgmtClient

from connectors.azure.config import LOGIN_HOST, AzureInstance, CredentialKind
from connectors.source import SourceUnreachable

MANAGEMENT_SCOPE = "/.default"
RETRIES = 2  # azure-core retries throttling and server errors itself; a poll is retried anyway
PAGE = 250  # the most alerts one page may hold without their context

T = TypeVar("T")

# The SDKs log every request and response, headers included, at INFO: one poll would
# fill the log. Their warnings and errors still show.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
logging.getLogger("azure.identity").setLevel(logging.WARNING)


def credential(instance: AzureInstance) -> TokenCredential:
    """The instance's Entra ID credential, pointed at its authority and trusted CA."""
    options: dict[str, Any] = {"authority": instance.authority_host}
    if instance.authority_host != LOGIN_HOST:
        options["disable_instance_discovery"] = True  # a sovereign cloud or a test authority
    if instance.ca_file:
        options["connection_verify"] = instance.ca_file
    if instance.credential is CredentialKind.MANAGED_IDENTITY:
        return ManagedIdentityCredential(client_id=instance.client_id or None)
    if instance.credential is CredentialKind.CERTIFICATE:
        return CertificateCredential(
            instance.tenant_id,
            instance.client_id,
            certificate_path=instance.certificate_file,
            **options,
        )
    return ClientSecretCredential(
        instance.tenant_id, instance.client_id, instance.client_secret, **options
    )


class AzureApi:
    """The Azure Resource Manager calls of one instance."""

    def __init__(self, instance: AzureInstance) -> None:
        self.instance = instance
        self.credential = credential(instance)

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "base_url": self.instance.management_url,
            "retry_total": RETRIES,
            "connection_timeout": self.instance.http_timeout_seconds,
            "read_timeout": self.instance.http_timeout_seconds,
            "credential_scopes": [self.instance.management_url + MANAGEMENT_SCOPE],
        }
        if self.instance.ca_file:
            options["connection_verify"] = self.instance.ca_file
        return options

    def alerts(self, subscription: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every alert of `subscription` in [start, end], fired or resolved, in the REST
        shape (``properties.essentials.monitorCondition``, ...)."""
        client = AlertsManagementClient(self.credential, subscription, **self.client_options())
        window = f"{_iso(start)}/{_iso(end)}"
        with azure_errors(f"alerts of subscription {subscription}"):
            return [
                dict(alert.serialize(keep_readonly=True))
                for alert in client.alerts.get_all(custom_time_range=window, page_count=PAGE)
            ]

    def health_events(self, subscription: str, since: datetime) -> list[dict[str, Any]]:
        """Service Health events of `subscription` updated since `since` (REST shape)."""
        client = ResourceHealthMgmtClient(self.credential, subscription, **self.client_options())
        with azure_errors(f"Service Health events of subscription {subscription}"):
            return [
                event.as_dict()
                for event in client.events.list_by_subscription_id(
                    query_start_time=since.astimezone(UTC).strftime("%m/%d/%Y")
                )
            ]

    def token(self) -> None:
        """Sign in once: proves the credential (for ``slad source check``)."""
        with azure_errors("sign-in"):
            self.credential.get_token(self.instance.management_url + MANAGEMENT_SCOPE)

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one SDK call, its failures raised as `SourceUnreachable`."""
        with azure_errors(what):
            return action()


@contextmanager
def azure_errors(what: str) -> Iterator[None]:
    """Azure's failures as `SourceUnreachable`, naming Azure's error code."""
    try:
        yield
    except HttpResponseError as exc:
        code = (exc.error.code if exc.error is not None else None) or exc.reason or "error"
        message = exc.error.message if exc.error is not None else exc.message
        status = f"HTTP {exc.status_code} " if exc.status_code else ""
        raise SourceUnreachable(f"{what}: {status}{code}: {_short(message)}") from exc
    except AzureError as exc:
        raise SourceUnreachable(f"{what}: {type(exc).__name__}: {_short(str(exc))}") from exc


def _short(text: Any) -> str:
    return " ".join(str(text or "").split())[:300]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
