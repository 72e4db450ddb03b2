"""Settings of one Azure instance, read from a TOML table such as ``[azure.instances.prod]``.

An instance is one Entra ID tenant: the webhook its action groups call
(``/v1/webhooks/azure/<name>``) and, when `subscriptions` are listed, the subscriptions
whose alerts and Resource Health events are reconciled by polling.

The webhook is authenticated one of two ways, as the action group's receiver is set up:
``secure`` (Azure's *secure webhook*: an Entra ID access token issued to Azure Monitor's
own application for `audiences`, carrying `app_role`) or ``secret`` (a plain webhook whose
URL carries ``?token=<webhook_secret>``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from connectors.config_values import (
    check_instance,
    choice,
    parse_instance_tables,
    positive_int,
    secret,
    strings,
    text,
)

# Azure Monitor's "AzNS AAD Webhook" application: the client every secure webhook
# token is issued to (Microsoft's action-group documentation: "Required. Do not change.").
AZURE_MONITOR_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"
DEFAULT_APP_ROLE = "ActionGroupsSecureWebhook"
LOGIN_HOST = "https://login.microsoftonline.com"
MANAGEMENT_URL = "https://management.azure.com"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_KEYS = frozenset(
    {
        "tenant_id",
        "webhook_auth",
        "webhook_secret",
        "webhook_secret_file",
        "audiences",
        "app_role",
        "webhook_app_id",
        "keys_url",
        "subscriptions",
        "credential",
        "client_id",
        "client_secret",
        "client_secret_file",
        "certificate_file",
        "authority_host",
        "management_url",
        "ca_file",
        "action_group_id",
        "app_object_id",
        "http_timeout_seconds",
        "poll_interval_seconds",
        "failure_threshold",
    }
)


class WebhookAuth(StrEnum):
    """How the instance's webhook proves it comes from the tenant's action groups."""

    SECURE = "secure"
    SECRET = "secret"


class CredentialKind(StrEnum):
    """How slad signs in to Azure Resource Manager for polling, setup and check."""

    CLIENT_SECRET = "client_secret"
    CERTIFICATE = "certificate"
    MANAGED_IDENTITY = "managed_identity"


@dataclass(frozen=True, slots=True)
class AzureInstance:
    """One tenant slad listens to and, with `subscriptions`, polls.

    `audiences` are the values a secure webhook token's ``aud`` may carry: the app
    registration's identifier URI (v1 tokens) and its client id (v2 tokens).
    `authority_host`, `management_url` and `ca_file` point the SDK clients elsewhere
    than Azure's public cloud (a sovereign cloud, or a private CA in front of them).
    Secrets are kept out of `repr` so they never reach a log line.
    """

    name: str
    tenant_id: str
    webhook_auth: WebhookAuth
    webhook_secret: str = field(default="", repr=False)
    audiences: tuple[str, ...] = ()
    app_role: str = DEFAULT_APP_ROLE
    webhook_app_id: str = AZURE_MONITOR_APP_ID
    keys_url: str = ""
    subscriptions: tuple[str, ...] = ()
    credential: CredentialKind = CredentialKind.CLIENT_SECRET
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    certificate_file: str = ""
    authority_host: str = LOGIN_HOST
    management_url: str = MANAGEMENT_URL
    ca_file: str = ""
    http_timeout_seconds: int = 10
    poll_interval_seconds: int = 300
    failure_threshold: int = 3
    action_group_id: str = ""
    app_object_id: str = ""

    @property
    def signing_keys_url(self) -> str:
        """Where the tenant publishes the keys its tokens are signed with."""
        return self.keys_url or f"{LOGIN_HOST}/{self.tenant_id}/discovery/v2.0/keys"

    @property
    def issuers(self) -> frozenset[str]:
        """The tenant's issuers: v1 tokens (the default) and v2 tokens."""
        return frozenset(
            {
                f"https://sts.windows.net/{self.tenant_id}/",
                f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
            }
        )

    @property
    def verify(self) -> str | bool:
        """What TLS connections to Azure trust: a CA file, or the system's store."""
        return self.ca_file or True


def parse_instance(name: str, table: Mapping[str, Any]) -> AzureInstance:
    """Build an instance from its config table, naming the offending key on any error."""
    where = f"azure.instances.{name}"
    check_instance(where, name, table, _KEYS)
    tenant = _guid(text(table, "tenant_id", where), f"{where}.tenant_id")
    auth = choice(table, "webhook_auth", {a.value: a for a in WebhookAuth}, "secure", where)
    audiences = tuple(strings(table, "audiences", where))
    webhook_secret = ""
    if auth is WebhookAuth.SECRET:
        webhook_secret = secret(table, "webhook_secret", where)
        if len(webhook_secret) < 16:
            raise ValueError(f"{where}.webhook_secret: at least 16 characters")
    elif not audiences:
        raise ValueError(
            f"{where}.audiences: required for webhook_auth = 'secure' (the app registration's "
            "identifier URI and client id)"
        )
    subscriptions = tuple(
        _guid(s, f"{where}.subscriptions") for s in strings(table, "subscriptions", where)
    )
    kind = choice(table, "credential", {c.value: c for c in CredentialKind}, "client_secret", where)
    client_id, client_secret, certificate = "", "", ""
    if subscriptions or "client_id" in table:
        client_id, client_secret, certificate = _credential(table, kind, where)
    return AzureInstance(
        name=name,
        tenant_id=tenant,
        webhook_auth=auth,
        webhook_secret=webhook_secret,
        audiences=audiences,
        app_role=text(table, "app_role", where) if "app_role" in table else DEFAULT_APP_ROLE,
        webhook_app_id=_guid(
            str(table.get("webhook_app_id", AZURE_MONITOR_APP_ID)), f"{where}.webhook_app_id"
        ),
        keys_url=_url(table, "keys_url", where),
        subscriptions=subscriptions,
        credential=kind,
        client_id=client_id,
        client_secret=client_secret,
        certificate_file=certificate,
        authority_host=_url(table, "authority_host", where) or LOGIN_HOST,
        management_url=_url(table, "management_url", where) or MANAGEMENT_URL,
        ca_file=_file(table, "ca_file", where),
        http_timeout_seconds=positive_int(table, "http_timeout_seconds", 10, where),
        poll_interval_seconds=positive_int(table, "poll_interval_seconds", 300, where),
        failure_threshold=positive_int(table, "failure_threshold", 3, where),
        action_group_id=text(table, "action_group_id", where) if "action_group_id" in table else "",
        app_object_id=_guid(text(table, "app_object_id", where), f"{where}.app_object_id")
        if "app_object_id" in table
        else "",
    )


def parse_instances(tables: Mapping[str, Any]) -> dict[str, AzureInstance]:
    """Parse the whole ``[azure.instances]`` table: one sub-table per instance."""
    return parse_instance_tables("azure", tables, parse_instance)


def _credential(table: Mapping[str, Any], kind: CredentialKind, where: str) -> tuple[str, str, str]:
    """(client id, client secret, certificate file) for the chosen credential."""
    if kind is CredentialKind.MANAGED_IDENTITY:
        # A user-assigned identity is named by its client id; none means system-assigned.
        client = text(table, "client_id", where) if "client_id" in table else ""
        return client, "", ""
    client = _guid(text(table, "client_id", where), f"{where}.client_id")
    if kind is CredentialKind.CERTIFICATE:
        return client, "", _file(table, "certificate_file", where, required=True)
    return client, secret(table, "client_secret", where), ""


def _guid(value: str, where: str) -> str:
    if not _GUID.match(value):
        raise ValueError(f"{where}: {value[:64]!r} is not a GUID")
    return value.lower()


def _url(table: Mapping[str, Any], key: str, where: str) -> str:
    if key not in table:
        return ""
    value = text(table, key, where).rstrip("/")
    if not value.startswith("https://"):
        raise ValueError(f"{where}.{key}: must be an https URL")
    return value


def _file(table: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    if key not in table and not required:
        return ""
    path = Path(text(table, key, where))
    if not path.is_file():
        raise ValueError(f"{where}.{key}: no file {path}")
    return str(path)
