"""Each configured Zabbix instance as the daemon runs it: a link and a leader-only poller.

The webhook is fast but can be lost, so every `poll_interval_seconds` the poller asks the
API for every problem open since its watermark (ingest de-duplicates by event key), takes
over the instance's maintenances as windows, writes contact and report back to the
problems, and keeps the instance's health: `failure_threshold` consecutive failures open
a monitoring fault for the instance, which closes when it answers again.

No watermark is stored. The first poll of a process reaches back to the later of the
last event stored for the instance and `lookback_seconds` before now (whichever is
earlier), bounded by the window horizon, so a restart re-reads the gap it was down for;
later polls continue from the previous successful poll, overlapping by one interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.events import Source
from connectors.zabbix import ZabbixApiError, ZabbixClient, ZabbixInstance, parse_instances
from daemon.config import ConfigError
from daemon.inbox import InboxWriter
from daemon.sources.zabbix_ack import write_back
from daemon.sources.zabbix_windows import close_fault, open_fault, sync_maintenances
from daemon.store.models import AlertEventRecord

log = logging.getLogger("slad.sources.zabbix")

HealthHook = Callable[[str, str, bool], None]
"""(source, instance, up): called after every attempt to reach an instance."""
FailureHook = Callable[[str, str], None]
"""(source, instance): called for every failed attempt to reach an instance."""

_SECTION_KEYS = frozenset({"instances", "lookback_seconds"})
_DEFAULT_LOOKBACK = timedelta(days=1)


def _no_health(_source: str, _instance: str, _up: bool) -> None:
    return None


def _no_failure(_source: str, _instance: str) -> None:
    return None


@dataclass(frozen=True)
class ZabbixSettings:
    """The ``[zabbix]`` table: the instances and how far a fresh process looks back."""

    instances: Mapping[str, ZabbixInstance]
    lookback: timedelta = _DEFAULT_LOOKBACK


def parse_settings(section: Mapping[str, Any] | None) -> ZabbixSettings:
    """Validate ``[zabbix]``; an absent table means no Zabbix at all."""
    if section is None:
        return ZabbixSettings(instances={})
    unknown = sorted(set(section) - _SECTION_KEYS)
    if unknown:
        raise ConfigError(f"zabbix: unknown key(s) {', '.join(unknown)}")
    lookback = section.get("lookback_seconds", int(_DEFAULT_LOOKBACK.total_seconds()))
    if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback <= 0:
        raise ConfigError("zabbix.lookback_seconds: must be a positive integer")
    instances = section.get("instances", {})
    if not isinstance(instances, Mapping):
        raise ConfigError("zabbix.instances: must be a table")
    try:
        parsed = parse_instances(instances)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return ZabbixSettings(instances=parsed, lookback=timedelta(seconds=lookback))


@dataclass
class Health:
    """Consecutive failures to reach an instance, and when the current run of them began."""

    failures: int = 0
    first_failure_at: datetime | None = None


@dataclass
class ZabbixLink:
    """One instance: its settings, its API client (one session, used under `lock`), health.

    The webhook route and the poller share the client, so detection instants the poller
    learns answer later webhook look-ups from the cache. `client` may be replaced by one
    over another `ApiCaller` (a fake in tests).
    """

    instance: ZabbixInstance
    client: ZabbixClient
    health: Health = field(default_factory=Health)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_failure: FailureHook = _no_failure

    @property
    def scope_ref(self) -> str:
        """The source scope of this instance's monitoring faults and incidents."""
        return f"{Source.ZABBIX.value}:{self.instance.name}"

    def detected_at(self, event_id: str) -> datetime | None:
        """The webhook's detection look-up: the API's clock, or None to fall back.

        While the instance counts as down the webhook does not wait on it: its local time
        (flagged as estimated) is the best there is.
        """
        if self.health.failures >= self.instance.failure_threshold:
            return None
        try:
            with self.lock:
                return self.client.event_detected_at(event_id)
        except ZabbixApiError as exc:
            log.warning("detection look-up failed, using the webhook's local time: %s", exc)
            self.on_failure(Source.ZABBIX.value, self.instance.name)
            return None


@dataclass
class ZabbixPoller:
    """The leader-only reconciliation of one instance (see the module docstring)."""

    link: ZabbixLink
    sessions: sessionmaker[Session]
    inbox: InboxWriter
    horizon: timedelta
    lookback: timedelta
    on_health: HealthHook = _no_health
    last_success: datetime | None = None
    name: str = field(init=False)
    interval: timedelta = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.link.scope_ref
        self.interval = timedelta(seconds=self.link.instance.poll_interval_seconds)

    def poll(self, now: datetime) -> None:
        since = self._since(now)
        client = self.link.client
        try:
            with self.link.lock:
                events = client.reconcile(since, now)
                maintenances = client.maintenances()
                hosts = client.host_identifiers()
        except ZabbixApiError as exc:
            self._failed(now, exc)
            return
        self._answered(now)
        if events:
            self.inbox.submit(events).result()
        with self.sessions.begin() as session:
            sync_maintenances(session, self.link.instance, maintenances, hosts, now, self.horizon)
        if self.link.instance.acknowledge:
            with self.link.lock:
                write_back(self.sessions, self.link.instance, client, now - self.lookback, now)
        self.last_success = now

    def _since(self, now: datetime) -> datetime:
        if self.last_success is not None:
            return self.last_success - self.interval
        since = now - self.lookback
        prefix = f"{self.link.scope_ref}:"
        with self.sessions() as session:
            last = session.scalar(
                select(func.max(AlertEventRecord.received_at)).where(
                    AlertEventRecord.source == Source.ZABBIX.value,
                    AlertEventRecord.event_key.startswith(prefix, autoescape=True),
                )
            )
        if last is not None:
            since = min(since, last - self.interval)
        return max(since, now - self.horizon)

    def _failed(self, now: datetime, exc: ZabbixApiError) -> None:
        health = self.link.health
        health.failures += 1
        health.first_failure_at = health.first_failure_at or now
        log.warning(
            "zabbix %s unreachable (%d in a row): %s", self.link.instance.name, health.failures, exc
        )
        self.link.on_failure(Source.ZABBIX.value, self.link.instance.name)
        self.on_health(Source.ZABBIX.value, self.link.instance.name, False)
        if health.failures >= self.link.instance.failure_threshold:
            with self.sessions.begin() as session:
                open_fault(
                    session,
                    self.link.scope_ref,
                    health.first_failure_at,
                    health.failures,
                    str(exc),
                    now,
                    self.horizon,
                )

    def _answered(self, now: datetime) -> None:
        self.link.health = Health()
        self.on_health(Source.ZABBIX.value, self.link.instance.name, True)
        with self.sessions.begin() as session:
            close_fault(session, self.link.scope_ref, now, self.horizon)


def zabbix_pollers(
    section: Mapping[str, Any] | None,
    sessions: sessionmaker[Session],
    inbox: InboxWriter,
    horizon: timedelta,
    on_health: HealthHook = _no_health,
    on_failure: FailureHook = _no_failure,
) -> list[ZabbixPoller]:
    """One poller per configured instance; each carries the link the webhook route uses."""
    settings = parse_settings(section)
    return [
        ZabbixPoller(
            link=ZabbixLink(instance, ZabbixClient(instance), on_failure=on_failure),
            sessions=sessions,
            inbox=inbox,
            horizon=horizon,
            lookback=settings.lookback,
            on_health=on_health,
        )
        for instance in settings.instances.values()
    ]
