"""Settings of one Google Cloud instance, read from a TOML table such as ``[gcp.instances.prod]``.

An instance is one set of projects watched through one set of channels:

- the Cloud Monitoring webhook (``/v1/webhooks/gcp/<name>``), authenticated by HTTP basic
  auth (`webhook_auth = "basic"`) or a token in the URL (``"token"``, ``?token=...``);
- Pub/Sub push (``/v1/webhooks/gcp/<name>/pubsub``), authenticated by the OIDC token
  Pub/Sub attaches: Google's signature, issuer, `push_audience` and the
  `push_service_account` it is minted for;
- a Pub/Sub pull subscription (`pubsub_subscription`), consumed by the leader with the
  instance's credentials (`credentials_file`, else the metadata server's);
- the poller (`poll`, on by default): open and recently closed alerts of each of
  `projects` (a missed notification is found), their snoozes as maintenance windows,
  and (`service_health`) the projects' Service Health events as provider notices.

The `*_endpoint` keys point the API clients elsewhere than Google's own hosts (a private
endpoint, or a local server in tests); an ``http://`` one is spoken to in plain text.

Each channel is off until configured, so an instance never accepts what it cannot
authenticate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.config_values import (
    check_instance,
    choice,
    flag,
    parse_instance_tables,
    positive_int,
    secret,
    strings,
    text,
)
from connectors.events import Severity

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
"""Where Google publishes the keys that sign its OIDC tokens (google-auth's default)."""

_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_SUBSCRIPTION = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/subscriptions/[A-Za-z][\w.~+%-]{2,254}$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_AUTH = {"none": "none", "basic": "basic", "token": "token"}
_KEYS = frozenset(
    {
        "projects",
        "webhook_auth",
        "username",
        "password",
        "password_file",
        "token",
        "token_file",
        "push_audience",
        "push_service_account",
        "oidc_certs_url",
        "pubsub_subscription",
        "pubsub_max_messages",
        "credentials_file",
        "poll",
        "monitoring_endpoint",
        "monitoring_grpc_endpoint",
        "service_health",
        "service_health_endpoint",
        "http_timeout_seconds",
        "poll_interval_seconds",
        "severity",
        "failure_threshold",
    }
)


@dataclass(frozen=True, slots=True)
class GcpInstance:
    """One Google Cloud instance (module docstring). Secrets stay out of `repr`."""

    name: str
    projects: tuple[str, ...]
    webhook_auth: str = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    push_audience: str = ""
    push_service_account: str = ""
    oidc_certs_url: str = GOOGLE_CERTS_URL
    pubsub_subscription: str = ""
    pubsub_max_messages: int = 100
    credentials_file: str = ""
    poll: bool = True
    monitoring_endpoint: str = ""
    monitoring_grpc_endpoint: str = ""
    service_health: bool = True
    service_health_endpoint: str = ""
    http_timeout_seconds: int = 30
    severity: Severity = Severity.HIGH
    poll_interval_seconds: int = 300
    failure_threshold: int = 3

    @property
    def pushes(self) -> bool:
        """Whether Pub/Sub push is configured (its route refuses every request otherwise)."""
        return bool(self.push_audience)


def parse_instance(name: str, table: Mapping[str, Any]) -> GcpInstance:
    """Build an instance from its config table, naming the offending key on any error."""
    where = f"gcp.instances.{name}"
    check_instance(where, name, table, _KEYS)
    projects = strings(table, "projects", where)
    if not projects:
        raise ValueError(f"{where}.projects: required, at least one project id")
    for project in projects:
        if not _PROJECT.match(project):
            raise ValueError(f"{where}.projects: {project!r} is not a Google Cloud project id")
    auth = choice(table, "webhook_auth", _AUTH, "none", where)
    username = password = token = ""
    if auth == "basic":
        username = text(table, "username", where)
        if ":" in username:
            raise ValueError(f"{where}.username: must not contain ':'")
        password = secret(table, "password", where)
    elif auth == "token":
        token = secret(table, "token", where)
        if len(token) < 16:
            raise ValueError(f"{where}.token: must be at least 16 characters")
    for key in ("username", "password", "password_file", "token", "token_file"):
        if key in table and not _used(auth, key):
            raise ValueError(f"{where}.{key}: only read with webhook_auth = {_auth_of(key)!r}")
    audience, account = _push(table, where)
    subscription = str(table.get("pubsub_subscription", "")).strip()
    if "pubsub_subscription" in table and not _SUBSCRIPTION.match(subscription):
        raise ValueError(
            f"{where}.pubsub_subscription: must be projects/<project>/subscriptions/<name>"
        )
    return GcpInstance(
        name=name,
        projects=tuple(projects),
        webhook_auth=auth,
        username=username,
        password=password,
        token=token,
        push_audience=audience,
        push_service_account=account,
        oidc_certs_url=_url(table, "oidc_certs_url", where) or GOOGLE_CERTS_URL,
        pubsub_subscription=subscription,
        pubsub_max_messages=_max_messages(table, where),
        credentials_file=_file(table, "credentials_file", where),
        poll=flag(table, "poll", True, where),
        monitoring_endpoint=_url(table, "monitoring_endpoint", where),
        monitoring_grpc_endpoint=_url(table, "monitoring_grpc_endpoint", where),
        service_health=flag(table, "service_health", True, where),
        service_health_endpoint=_url(table, "service_health_endpoint", where),
        http_timeout_seconds=positive_int(table, "http_timeout_seconds", 30, where),
        poll_interval_seconds=positive_int(table, "poll_interval_seconds", 300, where),
        severity=choice(
            table, "severity", {s.value: s for s in Severity}, Severity.HIGH.value, where
        ),
        failure_threshold=positive_int(table, "failure_threshold", 3, where),
    )


def parse_instances(tables: Mapping[str, Any]) -> dict[str, GcpInstance]:
    """Parse the whole ``[gcp.instances]`` table: one sub-table per instance."""
    return parse_instance_tables("gcp", tables, parse_instance)


def _used(auth: str, key: str) -> bool:
    return _auth_of(key) == auth


def _auth_of(key: str) -> str:
    return "token" if key.startswith("token") else "basic"


def _push(table: Mapping[str, Any], where: str) -> tuple[str, str]:
    """`push_audience` and `push_service_account` come together or not at all: a token
    minted for any service account would otherwise be accepted."""
    if "push_audience" not in table and "push_service_account" not in table:
        return "", ""
    audience = text(table, "push_audience", where)
    account = text(table, "push_service_account", where)
    if not _EMAIL.match(account):
        raise ValueError(f"{where}.push_service_account: must be a service account's e-mail")
    return audience, account


def _max_messages(table: Mapping[str, Any], where: str) -> int:
    value = positive_int(table, "pubsub_max_messages", 100, where)
    if value > 1000:
        raise ValueError(f"{where}.pubsub_max_messages: at most 1000 (Pub/Sub's limit)")
    return value


def _file(table: Mapping[str, Any], key: str, where: str) -> str:
    """A path that must be readable now, so `check-config` finds a wrong one."""
    if key not in table:
        return ""
    path = Path(text(table, key, where))
    if not path.is_file():
        raise ValueError(f"{where}.{key}: {path} is not a readable file")
    return str(path)


def _url(table: Mapping[str, Any], key: str, where: str) -> str:
    if key not in table:
        return ""
    value = text(table, key, where)
    if not re.match(r"^https?://[^/@\s]+(/\S*)?$", value):
        raise ValueError(f"{where}.{key}: must be an http(s) URL")
    return value.rstrip("/")
