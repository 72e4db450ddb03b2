"""The one runner every source instance is driven by: its poller, health and webhooks.

`InstanceRunner.poll` asks the connector for everything since the instance's **stored**
watermark (the first poll ever reaches back to the later of the last event stored for the
instance and `lookback` before now, so an upgrade from a slad that stored none loses
nothing), commits the events to the inbox, hands over provider notices, syncs the
source's own maintenances as windows, runs write-back, and only then stores the next
watermark: a restart, however long after, re-reads exactly the gap. Reach is bounded by
the window horizon.

Health: every failure to reach the source (a `SourceUnreachable`, or any error of the
connector) counts; `failure_threshold` in a row open a monitoring fault for the instance
(scope `source`, ``<source>:<instance>``) from the first failure, closed when it answers
again. The count is stored, so a new leader carries on where the old one stopped.
Scheduled polls (`tick`) back off exponentially while the instance fails: the n-th
failure in a row waits ``interval * 2**(n-1)`` (at most `BACKOFF_CAP`, never less than
the interval) before the next attempt.
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

from connectors.source import (
    FaultChange,
    RejectReason,
    SourceConnector,
    SourceInstance,
    SourceUnreachable,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from daemon.config import ConfigError
from daemon.faults import close_fault, open_fault, open_instance_fault
from daemon.inbox import InboxWriter
from daemon.notices import record_notices
from daemon.sources.registry import CONNECTORS
from daemon.sources.state import instance_state
from daemon.sources.windows import sync_windows
from daemon.sources.writeback import write_back
from daemon.store.models import AlertEventRecord

log = logging.getLogger("slad.sources")

BACKOFF_CAP = timedelta(minutes=15)
JITTER_SHARE = 0.1  # scheduled polls spread over +/- a tenth of the interval
MAX_JITTER = timedelta(seconds=30)

HealthHook = Callable[[str, str, bool], None]
"""(source, instance, up): called after every attempt to reach an instance."""
FailureHook = Callable[[str, str], None]
"""(source, instance): called for every failed attempt to reach an instance."""


def _no_health(_source: str, _instance: str, _up: bool) -> None:
    return None


def _no_failure(_source: str, _instance: str) -> None:
    return None


@dataclass
class InstanceRunner:
    """One configured instance of one source, as the daemon runs it (module docstring)."""

    connector: SourceConnector[Any]
    instance: SourceInstance
    lookback: timedelta
    sessions: sessionmaker[Session]
    inbox: InboxWriter
    horizon: timedelta
    on_health: HealthHook = _no_health
    on_failure: FailureHook = _no_failure
    failures: int = 0
    retry_at: datetime | None = None
    name: str = field(init=False)
    interval: timedelta = field(init=False)
    jitter: timedelta = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.name = f"{self.connector.name}:{self.instance.name}"
        self.interval = timedelta(seconds=self.instance.poll_interval_seconds)
        self.jitter = min(self.interval * JITTER_SHARE, MAX_JITTER)

    @property
    def fault_source(self) -> str:
        """The `source` of this instance's monitoring faults (``<source>:<instance>``)."""
        return self.name

    @property
    def up(self) -> bool:
        """False once `failure_threshold` polls in a row failed, until one succeeds."""
        return self.failures < self.instance.failure_threshold

    def polls(self) -> bool:
        return self.connector.polls(self.instance)

    def tick(self, now: datetime) -> None:
        """A scheduled poll: skipped while backing off after failures."""
        if self.retry_at is not None and now < self.retry_at - self.interval / 2:
            return
        self.poll(now)

    def poll(self, now: datetime) -> None:
        """One poll now, whatever the back-off says."""
        with self._lock:
            self._poll(now)

    def _poll(self, now: datetime) -> None:
        since = self._since(now)
        try:
            result = self.connector.poll(self.instance, since, now)
        except Exception as exc:
            self._failed(now, exc)
            return
        self._answered(now)
        if result.events:
            self.inbox.submit(result.events).result()
        with self.sessions.begin() as session:
            if result.notices:
                record_notices(session, result.notices, now)
            if result.windows is not None:
                sync_windows(
                    session,
                    self.connector.name,
                    self.connector.title,
                    self.instance.name,
                    result.windows,
                    now,
                    self.horizon,
                )
        if self.connector.writes_back(self.instance):
            write_back(self.sessions, self.connector, self.instance, now - self.lookback, now)
        with self.sessions.begin() as session:
            state = instance_state(session, self.connector.name, self.instance.name)
            state.watermark = result.watermark
            state.last_poll_at = state.last_poll_ok_at = now
            state.last_poll_ok = True
            state.last_poll_error = None
            if result.findings is not None:
                state.findings = [line[:500] for line in result.findings]

    def _since(self, now: datetime) -> datetime:
        floor = now - self.horizon
        with self.sessions() as session:
            state = instance_state(session, self.connector.name, self.instance.name, create=False)
            if state is not None and state.watermark is not None:
                return max(state.watermark, floor)
            last = session.scalar(
                select(func.max(AlertEventRecord.received_at)).where(
                    AlertEventRecord.source == self.connector.name,
                    AlertEventRecord.instance == self.instance.name,
                )
            )
        since = now - self.lookback
        if last is not None:
            since = min(since, last - self.interval)
        return max(since, floor)

    def _failed(self, now: datetime, exc: Exception) -> None:
        error = str(exc) or exc.__class__.__name__
        if isinstance(exc, SourceUnreachable):
            log.warning("%s unreachable: %s", self.name, error)
        else:
            log.exception("%s poll failed", self.name)
        self.on_failure(self.connector.name, self.instance.name)
        self.on_health(self.connector.name, self.instance.name, False)
        with self.sessions.begin() as session:
            state = instance_state(session, self.connector.name, self.instance.name)
            state.failures = (state.failures or 0) + 1
            state.first_failure_at = state.first_failure_at or now
            state.last_poll_at = now
            state.last_poll_ok = False
            state.last_poll_error = error[:2000]
            self.failures = state.failures
            if state.failures >= self.instance.failure_threshold:
                open_fault(
                    session,
                    self.fault_source,
                    state.first_failure_at,
                    state.failures,
                    error,
                    now,
                    self.horizon,
                )
        wait = min(self.interval * 2 ** min(self.failures - 1, 16), BACKOFF_CAP)
        self.retry_at = now + max(wait, self.interval)

    def _answered(self, now: datetime) -> None:
        self.failures = 0
        self.retry_at = None
        self.on_health(self.connector.name, self.instance.name, True)
        with self.sessions.begin() as session:
            state = instance_state(session, self.connector.name, self.instance.name)
            if state.first_failure_at is not None:  # else any open fault is a webhook's
                close_fault(session, self.fault_source, now, self.horizon)
            state.failures = 0
            state.first_failure_at = None

    def webhook_fault(self, change: FaultChange, now: datetime) -> None:
        """Open or close the instance's fault as a verified webhook asked (`FaultChange`)."""
        with self.sessions.begin() as session:
            state = instance_state(session, self.connector.name, self.instance.name)
            if change.open:
                log.warning("%s: monitoring fault: %s", self.name, change.reason)
                open_instance_fault(
                    session,
                    self.fault_source,
                    min(change.since or now, now),
                    description=f"{self.name}: {change.reason}",
                    why=change.reason,
                    now=now,
                    horizon=self.horizon,
                )
            elif state.first_failure_at is None and close_fault(
                session, self.fault_source, now, self.horizon, why=change.reason
            ):
                log.info("%s: monitoring fault closed: %s", self.name, change.reason)

    def handle(self, subpath: str, request: WebhookRequest) -> WebhookResult:
        """Run the connector's handler of `subpath`; raises `WebhookRejected`."""
        handler = self.connector.routes().get(subpath)
        if handler is None:
            raise WebhookRejected(
                RejectReason.UNKNOWN_ROUTE, "unknown-route", f"no webhook route {subpath!r}"
            )
        result = handler(self.instance, request)
        for _error in result.source_errors:
            self.on_failure(self.connector.name, self.instance.name)
        return result


@dataclass
class SourceRuntime:
    """Every registered connector and the runners of its configured instances."""

    connectors: Mapping[str, SourceConnector[Any]]
    runners: dict[tuple[str, str], InstanceRunner]

    def runner(self, source: str, instance: str) -> InstanceRunner | None:
        return self.runners.get((source, instance))


def build_sources(
    sections: Mapping[str, Any],
    sessions: sessionmaker[Session],
    inbox: InboxWriter,
    horizon: timedelta,
    on_health: HealthHook = _no_health,
    on_failure: FailureHook = _no_failure,
) -> SourceRuntime:
    """Every registered connector, and a runner per instance its config section names."""
    connectors = {c.name: c for c in (factory() for factory in CONNECTORS)}
    runners: dict[tuple[str, str], InstanceRunner] = {}
    for name, connector in connectors.items():
        try:
            settings = connector.parse_config(sections.get(name))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        for instance in settings.instances.values():
            runners[(name, instance.name)] = InstanceRunner(
                connector,
                instance,
                settings.lookback,
                sessions,
                inbox,
                horizon,
                on_health=on_health,
                on_failure=on_failure,
            )
    return SourceRuntime(connectors, runners)
