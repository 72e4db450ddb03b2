"""Correlate stored source events into alerts and incidents.

Events reach this module after the inbox has committed them (`daemon.inbox`), so
redelivery never gets here. The partial unique indexes (one firing alert per problem,
one open incident per resource and problem) keep two correlators that raced from
producing a second row: the loser's transaction fails and is retried on fresh state.

`correlate` is the fast path: it resolves each resource and each incident scope's
maintenance windows once per call and runs no savepoints, so any error fails the whole
transaction. `correlate_one` is the careful path the correlator falls back to, one
event at a time, so a poisoned event is set aside instead of blocking the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.events import AlertEvent, EventKind, Severity
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
    "accepted",
    "duplicate",
    "created",
    "attached",
    "repeated",
    "resolved",
    "updated",
    "unassigned",
    "orphan",
    "failed",
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


def stored_event(record: AlertEventRecord) -> AlertEvent:
    """The normalised event an inbox row was accepted as."""
    return AlertEvent(
        source=record.source,
        event_key=record.event_key,
        problem_key=record.problem_key,
        kind=EventKind(record.kind),
        detected_at=record.detected_at,
        received_at=record.received_at,
        severity=Severity(record.severity),
        title=record.title,
        resource_ids=dict(record.resource_ids),
        raw=record.raw,
        instance=record.instance,
        detected_at_estimated=record.detected_at_estimated,
    )


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

    def correlate(
        self,
        session: Session,
        records: Sequence[AlertEventRecord],
        now: datetime,
        enough: Callable[[], bool] = lambda: False,
    ) -> list[IngestResult]:
        """Correlate `records` in order, recording each outcome on its row.

        `enough` is asked after each record; when it answers true the rest are left
        pending for a later call.
        """
        lookups = _Lookups(ResourceLookup(session))
        results: list[IngestResult] = []
        for record in records:
            results.append(self._correlate(session, record, now, lookups))
            if enough():
                break
        return results

    def correlate_one(
        self, session: Session, record: AlertEventRecord, now: datetime
    ) -> IngestResult:
        """Correlate one record inside a savepoint of the open transaction."""
        with session.begin_nested():
            return self._correlate(session, record, now, _Lookups(ResourceLookup(session)))

    def _correlate(
        self, session: Session, record: AlertEventRecord, now: datetime, lookups: _Lookups
    ) -> IngestResult:
        event = stored_event(record)
        if event.kind is EventKind.PROBLEM:
            result = self._problem(session, event, record, now, lookups)
        elif event.kind is EventKind.RECOVERY:
            result = self._recovery(session, event, record, now, lookups)
        else:
            result = self._update(session, event, record, now)
        record.outcome = result.status
        record.correlated_at = now
        return result

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
            AlertEventRecord.outcome == "orphan",
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
