"""Prometheus metrics: in-process instruments, and store figures read at scrape time.

Each `Metrics` owns its own `CollectorRegistry`, so several apps in one process (tests,
benchmarks) never share or collide on series. Two kinds of series live in it:

- instruments the daemon updates as things happen (scheduler lag, leadership,
  deliveries, ingest latency, connector health), which only this process can know;
- figures derived from the store (open incidents, clock outcomes and durations,
  compliance, ingested alerts, the unassigned queue, the outbox), queried when
  Prometheus scrapes. Reading them from the database rather than counting in memory
  keeps every replica's answer identical and survives restarts.

Labels are bounded by construction: plans, clock names, states, outcomes, sources,
connector instances, channels, route templates and notice kinds; never an incident,
alert, notice or customer id.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from daemon.notices.metrics import NoticeCollector
from daemon.owed import Due, clock_due, owing_sql
from daemon.reports import ClockFacts, summarise
from daemon.store.models import Alert, AlertEventRecord, Clock, Incident, OutboxMessage

log = logging.getLogger("slad.metrics")

SCHEDULER_LAG_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    900.0,
    3600.0,
)
"""From timer jitter up to catch-up after an hour's downtime, when breaches that fell
due while the daemon was down are recorded late."""

INGEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Ingest answers after the group commit, so a slow disk shows as a shift to the right."""

DURATION_BUCKETS = (
    60.0,
    300.0,
    600.0,
    900.0,
    1200.0,
    1800.0,
    2700.0,
    3600.0,
    5400.0,
    7200.0,
    10800.0,
    21600.0,
)
"""Bounds that fall on the contact (30/60 min) and report (60/180 min) targets, so the
share within a target reads straight off one bucket."""

DURATION_CLOCKS = {
    "contact": "slad_time_to_contact_seconds",
    "report": "slad_time_to_report_seconds",
}
INGEST_ROUTE_PREFIXES = ("/v1/events", "/v1/webhooks/")
DELIVERY_RESULTS = frozenset({"sent", "failed"})
COMPLIANCE_WINDOW = timedelta(days=30)


class _StoreFamilies:
    """One scrape's store-derived families; left empty, they double as `describe()`."""

    def __init__(self) -> None:
        self.open_clocks = GaugeMetricFamily(
            "slad_open_incidents",
            "Clocks of open incidents by state; sum one clock name to count incidents.",
            labels=["plan", "clock", "state"],
        )
        self.owed = GaugeMetricFamily(
            "slad_owed_clocks",
            "Clocks that still owe the customer a contact, report or reply, whatever the"
            " incident's status, by where they stand now: within_slo, slo_breached,"
            " sla_breached, or paused (a window with no end yet, no due instant).",
            labels=["plan", "clock", "state"],
        )
        self.due_within = GaugeMetricFamily(
            "slad_owed_clocks_due_within",
            "Owed clocks whose next due (SLO, else SLA) falls within the next `seconds`;"
            " clocks past their SLA are not counted (see slad_owed_clocks).",
            labels=["seconds"],
        )
        self.next_due = GaugeMetricFamily(
            "slad_next_due_seconds",
            "Seconds until the soonest next due of any owed clock; absent when none is ahead.",
        )
        self.outcomes = CounterMetricFamily(
            "slad_clock_outcomes",
            "Stopped clocks by outcome, from the stored judgement (a window changed after the"
            " fact can re-judge a clock, which reads as a counter reset).",
            labels=["plan", "clock", "outcome"],
        )
        self.durations = {
            name: HistogramMetricFamily(
                metric,
                f"Countable seconds of stopped {name} clocks (excluded time not counted).",
                labels=["plan"],
            )
            for name, metric in DURATION_CLOCKS.items()
        }
        self.compliance = GaugeMetricFamily(
            "slad_compliance_ratio",
            "Share of decided clocks started in the last 30 days that met the target; a running"
            " clock past a due instant counts as breached. Absent when no clock is decided.",
            labels=["plan", "clock", "target"],
        )
        self.ingested = CounterMetricFamily(
            "slad_alerts_ingested",
            "Source events accepted and stored, by source; redeliveries are not counted.",
            labels=["source"],
        )
        self.backlog = GaugeMetricFamily(
            "slad_ingest_backlog",
            "Accepted events waiting in the inbox to be correlated into incidents.",
        )
        self.backlog_age = GaugeMetricFamily(
            "slad_ingest_backlog_age_seconds",
            "How long the oldest event waiting for correlation has waited; 0 when none.",
        )
        self.correlation_failed = GaugeMetricFamily(
            "slad_ingest_failed_events",
            "Accepted events the correlator could not turn into alerts (kept, with the error).",
        )
        self.unassigned = GaugeMetricFamily(
            "slad_unassigned_alerts",
            "Alerts in the unassigned queue (mapped to no resource), firing or resolved.",
        )
        self.outbox_pending = GaugeMetricFamily(
            "slad_outbox_pending", "Notifications waiting in the outbox to be delivered."
        )
        self.outbox_failed = GaugeMetricFamily(
            "slad_outbox_failed", "Notifications that gave up delivery and need attention."
        )

    def all(self) -> Iterator[Metric]:
        yield self.open_clocks
        yield self.owed
        yield self.due_within
        yield self.next_due
        yield self.outcomes
        yield from self.durations.values()
        yield self.compliance
        yield self.ingested
        yield self.backlog
        yield self.backlog_age
        yield self.correlation_failed
        yield self.unassigned
        yield self.outbox_pending
        yield self.outbox_failed


def _store_up(up: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "slad_store_up",
        "1 when the last scrape could read the store, 0 when it failed.",
        value=1 if up else 0,
    )


class StoreCollector(Collector):
    """Reads the store at scrape time; a failing database yields `slad_store_up 0`.

    A scrape must not fail because the database does, or Prometheus loses the
    in-process series exactly when they matter; the error is logged instead.
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        """Names for the registry's collision check, without touching the database."""
        yield from _StoreFamilies().all()
        yield _store_up(True)

    def collect(self) -> Iterable[Metric]:
        families = _StoreFamilies()
        try:
            with self._sessions() as session:
                self._fill(session, families, self._clock())
        except SQLAlchemyError:
            log.exception("metrics scrape could not read the store")
            return [_store_up(False)]
        return [*families.all(), _store_up(True)]

    def _fill(self, session: Session, families: _StoreFamilies, now: datetime) -> None:
        open_rows = session.execute(
            select(Clock.plan, Clock.name, Clock.state, func.count())
            .join(Incident, Clock.incident_id == Incident.id)
            .where(Incident.status == "open")
            .group_by(Clock.plan, Clock.name, Clock.state)
        )
        for plan, name, state, count in open_rows:
            families.open_clocks.add_metric([plan, name, state], count)

        fill_owed(session, families, now)

        outcome_rows = session.execute(
            select(Clock.plan, Clock.name, Clock.outcome, func.count())
            .where(Clock.state == "stopped", Clock.outcome.is_not(None))
            .group_by(Clock.plan, Clock.name, Clock.outcome)
        )
        for plan, name, outcome, count in outcome_rows:
            families.outcomes.add_metric([plan, name, str(outcome)], count)

        self._fill_durations(session, families.durations)
        self._fill_compliance(session, families.compliance, now)

        for source, count in session.execute(
            select(AlertEventRecord.source, func.count()).group_by(AlertEventRecord.source)
        ):
            families.ingested.add_metric([source], count)
        self._fill_inbox(session, families, now)

        families.unassigned.add_metric(
            [],
            session.scalar(
                select(func.count()).select_from(Alert).where(Alert.assignment == "unassigned")
            )
            or 0,
        )

        outbox = {
            status: count
            for status, count in session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.status.in_(("pending", "failed")))
                .group_by(OutboxMessage.status)
            )
        }
        families.outbox_pending.add_metric([], outbox.get("pending", 0))
        families.outbox_failed.add_metric([], outbox.get("failed", 0))

    @staticmethod
    def _fill_inbox(session: Session, families: _StoreFamilies, now: datetime) -> None:
        pending = AlertEventRecord.outcome.is_(None)
        count, oldest = session.execute(
            select(func.count(), func.min(AlertEventRecord.received_at)).where(pending)
        ).one()
        families.backlog.add_metric([], count)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        families.backlog_age.add_metric([], max(age, 0.0))
        failed = select(func.count()).where(AlertEventRecord.outcome == "failed")
        families.correlation_failed.add_metric([], session.scalar(failed) or 0)

    @staticmethod
    def _fill_durations(session: Session, durations: dict[str, HistogramMetricFamily]) -> None:
        """Cumulative bucket counts computed by the database: one grouped query."""
        seconds = Clock.counted_seconds
        rows = session.execute(
            select(
                Clock.plan,
                Clock.name,
                func.count(),
                func.sum(seconds),
                *(func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS),
            )
            .where(
                Clock.state == "stopped",
                Clock.name.in_(DURATION_CLOCKS),
                seconds.is_not(None),
            )
            .group_by(Clock.plan, Clock.name)
        )
        for plan, name, count, total, *cumulative in rows:
            buckets = [
                (str(bound), float(n))
                for bound, n in zip(DURATION_BUCKETS, cumulative, strict=True)
            ]
            buckets.append(("+Inf", float(count)))
            durations[name].add_metric([plan], buckets, float(total))

    @staticmethod
    def _fill_compliance(session: Session, family: GaugeMetricFamily, now: datetime) -> None:
        """Judged by `daemon.reports`, so the gauge and the monthly report never disagree."""
        rows = session.execute(
            select(
                Clock.plan,
                Clock.name,
                Clock.stop_at,
                Clock.slo_due_at,
                Clock.sla_due_at,
                Clock.counted_seconds,
                Clock.outcome,
            ).where(Clock.start_at >= now - COMPLIANCE_WINDOW, Clock.start_at <= now)
        )
        for row in summarise((ClockFacts(*r) for r in rows), now):
            for target in ("slo", "sla"):
                ratio = row[f"{target}_compliance"]
                if isinstance(ratio, float):
                    family.add_metric([str(row["plan"]), str(row["clock"]), target], ratio)


DUE_WITHIN_SECONDS = (300, 900, 3600)
"""The horizons a wall board asks about: the next 5 minutes, 15 minutes, hour."""


def owed_state(due: Due | None, now: datetime) -> str:
    """Where an owed clock stands at `now` (the `state` label of slad_owed_clocks)."""
    if due is None:
        return "paused"
    if due.target == "slo":
        return "within_slo"
    return "slo_breached" if now <= due.at else "sla_breached"


def fill_owed(session: Session, families: _StoreFamilies, now: datetime) -> None:
    """The owed-work families, judged at `now` from the stored due instants."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    ahead: list[float] = []
    rows = session.execute(
        select(Clock.plan, Clock.name, Clock.state, Clock.slo_due_at, Clock.sla_due_at).where(
            owing_sql()
        )
    )
    for plan, name, state, slo_due, sla_due in rows:
        due = clock_due(name, state, slo_due, sla_due, now)
        counts[(plan, name, owed_state(due, now))] += 1
        if due is not None and due.at >= now:
            ahead.append(due.seconds_left(now))
    for labels, count in sorted(counts.items()):
        families.owed.add_metric(list(labels), count)
    for horizon in DUE_WITHIN_SECONDS:
        families.due_within.add_metric([str(horizon)], sum(1 for s in ahead if s <= horizon))
    if ahead:
        families.next_due.add_metric([], min(ahead))


class Metrics:
    """The daemon's metrics and the registry they are exposed from."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.timer = timer
        self.registry = CollectorRegistry()
        self._scheduler_lag = Histogram(
            "slad_scheduler_lag_seconds",
            "Delay from a clock's due instant to the scheduler recording it.",
            buckets=SCHEDULER_LAG_BUCKETS,
            registry=self.registry,
        )
        self._leader = Gauge(
            "slad_leader",
            "1 while this process holds the leader lock and runs the scheduler and pollers.",
            registry=self.registry,
        )
        self._notifications = Counter(
            "slad_notifications",
            "Notification delivery attempts by channel and result (sent or failed).",
            ["channel", "result"],
            registry=self.registry,
        )
        self._ingest = Histogram(
            "slad_ingest_request_duration_seconds",
            "Time to answer an ingest request, including the commit it waits for.",
            ["route"],
            buckets=INGEST_BUCKETS,
            registry=self.registry,
        )
        self._connector_up = Gauge(
            "slad_connector_up",
            "1 when the connector's last call to its source succeeded, else 0.",
            ["source", "instance"],
            registry=self.registry,
        )
        self._connector_failures = Counter(
            "slad_connector_failures",
            "Failed calls from a connector to its source.",
            ["source", "instance"],
            registry=self.registry,
        )
        self._webhook_rejected = Counter(
            "slad_webhook_rejected",
            "Webhooks refused before anything was stored, by source and reason.",
            ["source", "reason"],
            registry=self.registry,
        )
        self.registry.register(StoreCollector(sessions, clock))
        self.registry.register(NoticeCollector(sessions))

    def observe_scheduler_lag(self, seconds: float) -> None:
        self._scheduler_lag.observe(seconds)

    def set_leader(self, leading: bool) -> None:
        self._leader.set(1 if leading else 0)

    def observe_delivery(self, channel: str, result: str) -> None:
        """Count one delivery; `result` is `sent` or `failed` so the label stays bounded."""
        if result not in DELIVERY_RESULTS:
            raise ValueError(f"delivery result must be sent or failed, got {result!r}")
        self._notifications.labels(channel=channel, result=result).inc()

    def observe_ingest(self, route: str, seconds: float) -> None:
        """`route` is the route template (`/v1/webhooks/zabbix/{instance}`), never a URL."""
        self._ingest.labels(route=route).observe(seconds)

    def set_connector_up(self, source: str, instance: str, up: bool) -> None:
        self._connector_up.labels(source=source, instance=instance).set(1 if up else 0)

    def count_connector_failure(self, source: str, instance: str) -> None:
        self._connector_failures.labels(source=source, instance=instance).inc()

    def count_webhook_rejected(self, source: str, reason: str) -> None:
        """`reason` is a `connectors.source.RejectReason` value, so the label stays bounded."""
        self._webhook_rejected.labels(source=source, reason=reason).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def metrics_router(metrics: Metrics) -> APIRouter:
    """`GET /metrics`, unauthenticated as Prometheus scrapes expect.

    The handler is synchronous so the store queries run in the thread pool, not on the
    event loop that serves ingest.
    """
    router = APIRouter(tags=["metrics"])

    @router.get("/metrics", response_class=Response)
    def scrape() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


class IngestTimer:
    """ASGI middleware timing ingest requests, labelled by the matched route template.

    The template is read from `scope["route"]` after the app ran, since routing happens
    inside; requests no route matched are not timed, which keeps the label bounded
    whatever paths clients try. Durations come from `metrics.timer` (injectable).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.metrics.timer()
        try:
            await self.app(scope, receive, send)
        finally:
            path = getattr(scope.get("route"), "path", None)
            if isinstance(path, str) and path.startswith(INGEST_ROUTE_PREFIXES):
                self.metrics.observe_ingest(path, self.metrics.timer() - started)
