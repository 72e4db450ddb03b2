"""Turn normalised alert events into alerts and incidents, idempotently.

The unique `event_key` makes redelivery a no-op; the partial unique indexes (one firing
alert per problem, one open incident per resource and problem) make concurrent
duplicates collapse into one row instead of a 5xx: a loser of the race simply retries
and finds the winner's row.

Two ways in. `apply_batch` is the fast path of the group commit: it finds the batch's
already-stored event keys with one query, resolves each resource and each incident scope's
maintenance windows once, and runs no savepoints, so any error fails the whole
transaction. `apply` is the careful path the batcher falls back to for each submission
then: every event in its own savepoint, so one bad or racing event never undoes its
neighbours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.events import AlertEvent, EventKind
from daemon.clocks import INCIDENT_CLOCKS, policy_snapshot, refresh_incident
from daemon.registry import ResourceLookup
from daemon.store.models import (
    Alert,
    AlertEventRecord,
    Contract,
    Incident,
    MaintenanceWindow,
    Resource,
)
from daemon.timeline import add_timeline
from daemon.windows import windows_for
from sla_engine.policy import PlanPolicy, clocks_for

Status = Literal[
    "created", "attached", "repeated", "resolved", "updated", "duplicate", "unassigned", "orphan"
]


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one event; `status` tells an API caller what slad did with it."""

    event_key: str
    status: Status
    alert_id: int | None = None
    incident_id: int | None = None


class IngestHooks(Protocol):
    """What the rest of the daemon does in the same transaction as an ingest change.

    Notifications are written to the outbox here, so they commit (or roll back)
    together with the incident that causes them.
    """

    def incident_opened(self, session: Session, incident: Incident, now: datetime) -> None: ...

    def incident_resolved(self, session: Session, incident: Incident, now: datetime) -> None: ...

    def alert_unassigned(self, session: Session, alert: Alert, now: datetime) -> None: ...


WindowScope = tuple[str, str, int, int, int]
KEY_CHUNK = 500  # event keys per existence query, well under every backend's bind limit


@dataclass
class _Lookups:
    """Registry reads that every event of a transaction would otherwise repeat."""

    resources: ResourceLookup
    windows: dict[WindowScope, list[MaintenanceWindow]] = field(default_factory=dict)

    def windows_for(self, session: Session, incident: Incident) -> list[MaintenanceWindow]:
        """The windows that may cover `incident`, read once per scope a window can name."""
        scope = (
            incident.source,
            incident.instance,
            incident.customer_id,
            incident.contract_id,
            incident.resource_id,
        )
        if scope not in self.windows:
            self.windows[scope] = windows_for(session, incident)
        return self.windows[scope]


@dataclass
class Ingestor:
    """Applies events to the store. Stateless apart from configuration."""

    plans: dict[str, PlanPolicy]
    horizon: timedelta
    hooks: IngestHooks | None = None

    def apply_batch(
        self, session: Session, submissions: Sequence[Sequence[AlertEvent]], now: datetime
    ) -> list[list[IngestResult]]:
        """Apply every submission in order, without savepoints: one error fails them all.

        Duplicates are found by one query for the batch's event keys (and a key seen
        earlier in the batch), so redelivery costs no error and no rollback.
        """
        stored = self._stored_keys(session, [e.event_key for s in submissions for e in s])
        lookups = _Lookups(ResourceLookup(session))
        outcomes: list[list[IngestResult]] = []
        for events in submissions:
            results: list[IngestResult] = []
            for event in events:
                if event.event_key in stored:
                    results.append(IngestResult(event.event_key, "duplicate"))
                    continue
                stored.add(event.event_key)
                results.append(self._apply_one(session, event, now, lookups))
            outcomes.append(results)
        return outcomes

    def apply(
        self, session: Session, events: Sequence[AlertEvent], now: datetime
    ) -> list[IngestResult]:
        """Apply `events` in order, each in its own savepoint of the open transaction.

        A stored event key makes the insert fail; only then is the key looked up, so a
        new event costs no duplicate check.
        """
        lookups = _Lookups(ResourceLookup(session))
        results: list[IngestResult] = []
        for event in events:
            for attempt in range(3):
                try:
                    with session.begin_nested():
                        results.append(self._apply_one(session, event, now, lookups))
                    break
                except IntegrityError:
                    if self._already_stored(session, event.event_key):
                        results.append(IngestResult(event.event_key, "duplicate"))
                        break
                    if attempt == 2:
                        raise
        return results

    @staticmethod
    def _stored_keys(session: Session, keys: list[str]) -> set[str]:
        stored: set[str] = set()
        for at in range(0, len(keys), KEY_CHUNK):
            chunk = keys[at : at + KEY_CHUNK]
            stmt = select(AlertEventRecord.event_key).where(AlertEventRecord.event_key.in_(chunk))
            stored.update(session.scalars(stmt))
        return stored

    @staticmethod
    def _already_stored(session: Session, event_key: str) -> bool:
        stmt = select(AlertEventRecord.id).where(AlertEventRecord.event_key == event_key)
        return session.scalar(stmt) is not None

    def _apply_one(
        self, session: Session, event: AlertEvent, now: datetime, lookups: _Lookups
    ) -> IngestResult:
        record = AlertEventRecord(
            event_key=event.event_key,
            problem_key=event.problem_key,
            source=event.source,
            kind=event.kind.value,
            detected_at=event.detected_at,
            received_at=event.received_at,
            raw=event.raw,
        )
        session.add(record)
        session.flush()
        if event.kind is EventKind.PROBLEM:
            return self._problem(session, event, record, now, lookups)
        if event.kind is EventKind.RECOVERY:
            return self._recovery(session, event, record, now, lookups)
        return self._update(session, event, record, now)

    def _firing_alert(self, session: Session, event: AlertEvent) -> Alert | None:
        stmt = select(Alert).where(
            Alert.source == event.source,
            Alert.problem_key == event.problem_key,
            Alert.status == "firing",
        )
        return session.scalar(stmt)

    def _problem(
        self,
        session: Session,
        event: AlertEvent,
        record: AlertEventRecord,
        now: datetime,
        lookups: _Lookups,
    ) -> IngestResult:
        alert = self._firing_alert(session, event)
        if alert is not None:
            record.alert_id = alert.id
            return IngestResult(event.event_key, "repeated", alert.id, alert.incident_id)
        resource = lookups.resources.resolve(event.resource_ids)
        alert = Alert(
            source=event.source,
            instance=event.instance,
            problem_key=event.problem_key,
            status="firing",
            assignment="assigned" if resource else "unassigned",
            title=event.title,
            severity=event.severity.value,
            resource_ids=dict(event.resource_ids),
            detected_at=event.detected_at,
            received_at=event.received_at,
            detected_at_estimated=event.detected_at_estimated,
        )
        session.add(alert)
        session.flush()
        record.alert_id = alert.id
        early_recovery = self._stored_recovery(session, event)
        if early_recovery is not None:
            alert.status = "resolved"
            alert.resolved_at = early_recovery.detected_at
            early_recovery.alert_id = alert.id
        if resource is None:
            if self.hooks is not None:
                self.hooks.alert_unassigned(session, alert, now)
            return IngestResult(event.event_key, "unassigned", alert.id, None)
        incident, created = self._attach(
            session, alert, resource, now, f"source:{event.source}", lookups.windows_for
        )
        if early_recovery is not None:
            self._maybe_resolve(
                session, incident, early_recovery.detected_at, event.source, now, lookups
            )
        return IngestResult(
            event.event_key, "created" if created else "attached", alert.id, incident.id
        )

    @staticmethod
    def _stored_recovery(session: Session, event: AlertEvent) -> AlertEventRecord | None:
        """A recovery that arrived before its problem (out-of-order delivery)."""
        stmt = select(AlertEventRecord).where(
            AlertEventRecord.problem_key == event.problem_key,
            AlertEventRecord.source == event.source,
            AlertEventRecord.kind == EventKind.RECOVERY.value,
            AlertEventRecord.alert_id.is_(None),
        )
        return session.scalars(stmt).first()

    def attach(
        self, session: Session, alert: Alert, resource: Resource, now: datetime, actor: str
    ) -> tuple[Incident, bool]:
        """Attach `alert` to the open incident of its resource and problem, or open one.

        A new incident takes the alert's detection instant and snapshots the clock
        policy in force now, so later policy changes never re-judge it.
        """
        return self._attach(session, alert, resource, now, actor, windows_for)

    def _attach(
        self,
        session: Session,
        alert: Alert,
        resource: Resource,
        now: datetime,
        actor: str,
        windows: Callable[[Session, Incident], list[MaintenanceWindow]],
    ) -> tuple[Incident, bool]:
        stmt = select(Incident).where(
            Incident.resource_id == resource.id,
            Incident.problem_key == alert.problem_key,
            Incident.status == "open",
        )
        incident = session.scalar(stmt)
        created = incident is None
        if incident is None:
            contract = session.get(Contract, resource.contract_id)
            assert contract is not None
            plan = self.plans[contract.plan]
            incident = Incident(
                resource_id=resource.id,
                contract_id=contract.id,
                customer_id=contract.customer_id,
                plan=contract.plan,
                source=alert.source,
                instance=alert.instance,
                problem_key=alert.problem_key,
                title=alert.title,
                severity=alert.severity,
                status="open",
                detected_at=alert.detected_at,
                received_at=alert.received_at,
                detected_at_estimated=alert.detected_at_estimated,
                policy=policy_snapshot(clocks_for(plan, contract.options), INCIDENT_CLOCKS),
                created_at=now,
            )
            session.add(incident)
            session.flush()
            add_timeline(
                session,
                incident,
                alert.detected_at,
                now,
                "detected",
                actor,
                {
                    "alert_id": alert.id,
                    "title": alert.title,
                    "detected_at_estimated": alert.detected_at_estimated,
                },
            )
        else:
            add_timeline(
                session,
                incident,
                alert.detected_at,
                now,
                "alert_attached",
                actor,
                {"alert_id": alert.id, "title": alert.title},
            )
        alert.incident_id = incident.id
        alert.assignment = "assigned"
        session.flush()
        refresh_incident(session, incident, now, self.horizon, windows(session, incident))
        if created and self.hooks is not None:
            self.hooks.incident_opened(session, incident, now)
        return incident, created

    def _recovery(
        self,
        session: Session,
        event: AlertEvent,
        record: AlertEventRecord,
        now: datetime,
        lookups: _Lookups,
    ) -> IngestResult:
        alert = self._firing_alert(session, event)
        if alert is None:
            return IngestResult(event.event_key, "orphan")
        record.alert_id = alert.id
        alert.status = "resolved"
        alert.resolved_at = event.detected_at
        session.flush()
        if alert.incident_id is None:
            return IngestResult(event.event_key, "resolved", alert.id, None)
        incident = session.get(Incident, alert.incident_id)
        assert incident is not None
        add_timeline(
            session,
            incident,
            event.detected_at,
            now,
            "alert_resolved",
            f"source:{event.source}",
            {"alert_id": alert.id},
        )
        self._maybe_resolve(session, incident, event.detected_at, event.source, now, lookups)
        return IngestResult(event.event_key, "resolved", alert.id, incident.id)

    def _maybe_resolve(
        self,
        session: Session,
        incident: Incident,
        at: datetime,
        source: str,
        now: datetime,
        lookups: _Lookups,
    ) -> None:
        firing = select(Alert.id).where(Alert.incident_id == incident.id, Alert.status == "firing")
        if incident.status == "open" and session.scalar(firing) is None:
            incident.status = "resolved"
            incident.resolved_at = at
            add_timeline(
                session,
                incident,
                at,
                now,
                "resolved",
                f"source:{source}",
                {"reason": "all alerts recovered"},
            )
            windows = lookups.windows_for(session, incident)
            refresh_incident(session, incident, now, self.horizon, windows)
            if self.hooks is not None:
                self.hooks.incident_resolved(session, incident, now)

    def _update(
        self, session: Session, event: AlertEvent, record: AlertEventRecord, now: datetime
    ) -> IngestResult:
        stmt = (
            select(Alert)
            .where(Alert.source == event.source, Alert.problem_key == event.problem_key)
            .order_by(Alert.id.desc())
        )
        alert = session.scalars(stmt).first()
        if alert is None:
            return IngestResult(event.event_key, "orphan")
        record.alert_id = alert.id
        if alert.incident_id is not None:
            incident = session.get(Incident, alert.incident_id)
            assert incident is not None
            add_timeline(
                session,
                incident,
                event.detected_at,
                now,
                "source_update",
                f"source:{event.source}",
                {"alert_id": alert.id, "title": event.title, "raw": event.raw},
            )
        return IngestResult(event.event_key, "updated", alert.id, alert.incident_id)
