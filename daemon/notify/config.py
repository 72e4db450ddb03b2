"""The `[notify]` configuration: channels, routes, templates folder, provider contact.

Parsed from the plain dict of the TOML table into frozen values. Every mistake is a
ValueError naming the dotted key, so `slad check-config` can point at the line to fix.
Secrets (SMTP password, Slack URL, webhook secret) may be given inline or as
`<key>_file`; they are kept out of `repr` so they never reach a log line.

Routing: an event goes to the channels listed for it in the contract's override, else in
its plan's table, else in `default`; an event listed nowhere is not notified. Overrides
replace the list for the events they name and leave the others alone. An empty list
silences an event for that plan or contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, cast

from daemon.notify.events import NotifyEvent
from daemon.notify.tables import TableReader

SmtpSecurity = Literal["starttls", "implicit", "none"]
_DEFAULT_SMTP_PORTS: Mapping[str, int] = {"starttls": 587, "implicit": 465, "none": 25}
_DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class EmailChannelConfig:
    """An SMTP relay. `to` lists fixed recipients (e.g. the NOC); a customer's address
    comes from the registry instead. `tls = "none"` is for lab relays only."""

    name: str
    host: str
    port: int
    tls: SmtpSecurity
    from_address: str
    message_id_domain: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    to: tuple[str, ...] = ()
    ca_file: Path | None = None
    verify: bool = True
    timeout: float = _DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class SlackChannelConfig:
    """A Slack incoming webhook; its URL is a credential, hence hidden from `repr`."""

    name: str
    url: str = field(repr=False)
    ca_file: Path | None = None
    verify: bool = True
    timeout: float = _DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class WebhookChannelConfig:
    """A JSON webhook signed with HMAC-SHA256 over the body."""

    name: str
    url: str
    secret: str = field(repr=False)
    ca_file: Path | None = None
    verify: bool = True
    timeout: float = _DEFAULT_TIMEOUT


ChannelConfig = EmailChannelConfig | SlackChannelConfig | WebhookChannelConfig
EventRoutes = Mapping[NotifyEvent, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Routes:
    """Channel names per event: the default, per plan key, and per contract id."""

    default: EventRoutes
    plans: Mapping[str, EventRoutes] = field(default_factory=dict)
    contracts: Mapping[str, EventRoutes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderContact:
    """Where a customer reaches the provider about an incident (SPEC §8), as quoted in
    the customer's first notice."""

    name: str
    url: str
    email: str
    phone: str

    def variables(self) -> dict[str, str]:
        """The `provider_*` template variables."""
        return {
            "provider_name": self.name,
            "provider_url": self.url,
            "provider_email": self.email,
            "provider_phone": self.phone,
        }


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """The whole `[notify]` section."""

    channels: Mapping[str, ChannelConfig]
    routes: Routes
    provider: ProviderContact | None = None
    templates_dir: Path | None = None


def channels_for(
    routes: Routes, event: NotifyEvent, plan: str | None, contract_id: str | None
) -> tuple[str, ...]:
    """The channel names `event` goes to for a contract on `plan` (either may be None,
    e.g. for an unassigned alert): the most specific table that lists the event wins."""
    candidates = (
        routes.contracts.get(contract_id) if contract_id is not None else None,
        routes.plans.get(plan) if plan is not None else None,
    )
    for table in candidates:
        if table is not None and event in table:
            return table[event]
    return routes.default.get(event, ())


def parse_notify_config(table: Mapping[str, Any], *, base_dir: Path | None = None) -> NotifyConfig:
    """Parse the `[notify]` table; relative paths are taken from `base_dir` when given
    (the configuration file's folder), else from the working directory."""
    notify = TableReader(table, "notify", base_dir)
    channels = {name: _channel(name, reader) for name, reader in notify.tables("channels").items()}
    routes = _routes(notify.table("routes"), frozenset(channels))
    provider = _provider(notify.table("provider")) if notify.has("provider") else None
    if provider is None and _routes_event(routes, NotifyEvent.CUSTOMER_FIRST_NOTICE):
        raise ValueError("notify.provider: required when customer_first_notice is routed")
    config = NotifyConfig(
        channels=channels,
        routes=routes,
        provider=provider,
        templates_dir=notify.path("templates_dir"),
    )
    notify.finish()
    return config


def _channel(name: str, reader: TableReader) -> ChannelConfig:
    kind = reader.choice("type", ("email", "slack", "webhook"))
    channel: ChannelConfig
    if kind == "email":
        channel = _email(name, reader)
    elif kind == "slack":
        channel = SlackChannelConfig(
            name=name,
            url=_http_url(reader, reader.secret("url", required=True)),
            ca_file=reader.path("ca_file"),
            verify=reader.boolean("verify", True),
            timeout=reader.seconds("timeout", _DEFAULT_TIMEOUT),
        )
    else:
        secret = reader.secret("secret", required=True)
        assert secret is not None
        channel = WebhookChannelConfig(
            name=name,
            url=_http_url(reader, reader.text("url")),
            secret=secret,
            ca_file=reader.path("ca_file"),
            verify=reader.boolean("verify", True),
            timeout=reader.seconds("timeout", _DEFAULT_TIMEOUT),
        )
    reader.finish()
    return channel


def _email(name: str, reader: TableReader) -> EmailChannelConfig:
    tls = cast(SmtpSecurity, reader.choice("tls", ("starttls", "implicit", "none"), "starttls"))
    from_address = reader.text("from")
    local, at, domain = parseaddr(from_address)[1].rpartition("@")
    if not (local and at and domain):
        raise ValueError(f"{reader.key('from')}: expected an e-mail address, got {from_address!r}")
    username = reader.optional_text("username")
    password = reader.secret("password", required=username is not None)
    if password is not None and username is None:
        raise ValueError(f"{reader.key('username')}: missing (a password is given)")
    if password is not None and not password.isascii():
        raise ValueError(f"{reader.key('password')}: must be ASCII (SMTP AUTH sends it as such)")
    if username is not None and tls == "none":
        raise ValueError(f"{reader.key('tls')}: refusing to send credentials without TLS")
    return EmailChannelConfig(
        name=name,
        host=reader.text("host"),
        port=reader.integer("port", _DEFAULT_SMTP_PORTS[tls], 1, 65535),
        tls=tls,
        from_address=from_address,
        message_id_domain=reader.text("message_id_domain", domain),
        username=username,
        password=password,
        to=reader.strings("to"),
        ca_file=reader.path("ca_file"),
        verify=reader.boolean("verify", True),
        timeout=reader.seconds("timeout", _DEFAULT_TIMEOUT),
    )


def _http_url(reader: TableReader, url: str | None) -> str:
    if url is None or not url.startswith(("https://", "http://")):
        raise ValueError(f"{reader.key('url')}: expected an http(s) URL")
    return url


def _provider(reader: TableReader) -> ProviderContact:
    provider = ProviderContact(
        name=reader.text("name"),
        url=reader.text("url"),
        email=reader.text("email"),
        phone=reader.text("phone"),
    )
    reader.finish()
    return provider


def _routes(reader: TableReader, known: frozenset[str]) -> Routes:
    routes = Routes(
        default=_event_routes(reader.table("default"), known),
        plans={k: _event_routes(t, known) for k, t in reader.tables("plans").items()},
        contracts={k: _event_routes(t, known) for k, t in reader.tables("contracts").items()},
    )
    reader.finish()
    return routes


def _event_routes(reader: TableReader, known: frozenset[str]) -> EventRoutes:
    events = {str(event) for event in NotifyEvent}
    routes: dict[NotifyEvent, tuple[str, ...]] = {}
    for key in reader.names():
        if key not in events:
            known_events = ", ".join(sorted(events))
            raise ValueError(f"{reader.key(key)}: unknown event (known: {known_events})")
        names = reader.strings(key)
        for channel in names:
            if channel not in known:
                raise ValueError(f"{reader.key(key)}: unknown channel {channel!r}")
        routes[NotifyEvent(key)] = names
    return routes


def _routes_event(routes: Routes, event: NotifyEvent) -> bool:
    tables = [routes.default, *routes.plans.values(), *routes.contracts.values()]
    return any(table.get(event) for table in tables)
