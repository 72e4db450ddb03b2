"""Record what fell due: warnings and breaches, stamped with the instant they happened.

Each clock row carries `due_at`, the earliest of its warning and breach instants not yet
recorded (an indexed column), so one query finds the work and the daemon wakes exactly
then instead of polling every incident. Processing is idempotent: a mark is recorded
once per clock (`clocks.recorded`), so catching up after downtime, or two wake-ups for
the same instant, never duplicate an entry or a notification.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from daemon.clocks import (
    pending_marks,
    rearm,
    refresh_incident,
    refresh_support_request,
)
from daemon.faults import record_fault
from daemon.notifier import Notifier
from daemon.store.models import (
    Clock,
    Contract,
    Customer,
    Heartbeat,
    Incident,
    MaintenanceWindow,
    Resource,
    SupportRequest,
)
from daemon.timeline import add_timeline
from daemon.windows import ScopedWindows, window_scope
from sla_engine.calendar import BusinessCalendar
from sla_engine.evaluation import ClockEvaluation

log = logging.getLogger("slad.scheduler")

LagObserver = Callable[[float], None]
HEARTBEAT = "daemon"


@dataclass
class DueProcessor:
    """Finds clocks whose `due_at` has come and records their marks.

    `readers` (read-only sessions) answer "what is due next" and "is anything due",
    so a wake-up with nothing to do never takes the store's write lock.
    """

    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    notifier: Notifier
    calendar: BusinessCalendar
    horizon: timedelta
    observe_lag: LagObserver | None = None
    batch: int = 500

    def next_due(self) -> datetime | None:
        with self.readers() as session:
            return session.scalar(select(func.min(Clock.due_at)))

    def run_due(self, now: datetime, stopping: Callable[[], bool] = lambda: False) -> int:
        """Record every mark due at or before `now`, a batch at a time; returns how many
        were recorded. Between batches it gives way to `stopping()`: after a long
        downtime the marks of every open incident may be due at once, and a daemon
        asked to stop should not wait for all of them (the rest are recorded, at their
        own instants, when it runs again)."""
        nxt = self.next_due()
        if nxt is None or nxt > now:
            return 0
        total = 0
        while True:
            with self.sessions.begin() as session:
                clocks = list(
                    session.scalars(
                        select(Clock)
                        .where(Clock.due_at <= now)
                        .order_by(Clock.due_at)
                        .limit(self.batch)
                    )
                )
                batch = _Batch.read(session, clocks)
                # Nothing a mark writes is read back by a later mark of the batch, so the
                # batch is flushed once, at its commit, not before each look-up.
                with session.no_autoflush:
                    recorded = sum(self._process(session, clock, now, batch) for clock in clocks)
            total += recorded
            if len(clocks) < self.batch or stopping():
                return total

    def _refresh(
        self, session: Session, clock: Clock, now: datetime, batch: _Batch
    ) -> ClockEvaluation | None:
        """Re-derive and store the clock from current facts, once per wake-up."""
        if clock.incident_id is not None:
            incident = session.get(Incident, clock.incident_id)
            assert incident is not None
            windows = batch.windows.of(session, incident)
            return refresh_incident(session, incident, now, self.horizon, windows).get(clock.name)
        request = session.get(SupportRequest, clock.support_request_id)
        assert request is not None
        contract = session.get(Contract, request.contract_id)
        assert contract is not None
        return refresh_support_request(request, self.calendar, now, contract.plan)

    def _process(self, session: Session, clock: Clock, now: datetime, batch: _Batch) -> int:
        evaluation = self._refresh(session, clock, now, batch)
        if evaluation is None:
            clock.due_at = None
            return 0
        fired = [(name, at) for name, at in pending_marks(clock, evaluation) if at <= now]
        fractions = {f"warning:{w.fraction:g}": w.fraction for w in evaluation.warnings}
        for name, at in fired:
            kind = "warning" if name in fractions else name
            detail = {
                "clock": clock.name,
                "mark": name,
                "slo_due": evaluation.slo_due.isoformat() if evaluation.slo_due else None,
                "sla_due": evaluation.sla_due.isoformat() if evaluation.sla_due else None,
            }
            if clock.incident_id is not None:
                incident = session.get(Incident, clock.incident_id)
                assert incident is not None
                add_timeline(session, incident, at, now, kind, "slad:scheduler", detail)
            self.notifier.clock_mark(session, clock, name, at, fractions.get(name), now)
            if self.observe_lag is not None:
                self.observe_lag(max((now - at).total_seconds(), 0.0))
            log_mark(clock, name, at)
        clock.recorded = [*(clock.recorded or ()), *(name for name, _ in fired)]
        rearm(clock, evaluation)
        return len(fired)


@dataclass
class _Batch:
    """What the clocks of one batch need, read with a few queries instead of a few per
    clock: their incidents (with every clock), the customers and resources a
    notification names, and the windows of each scope, read once per scope. The rows
    are held here, so `session.get` finds them in the session without SQL."""

    held: list[object]
    windows: ScopedWindows

    @classmethod
    def read(cls, session: Session, clocks: list[Clock]) -> _Batch:
        ids = sorted({c.incident_id for c in clocks if c.incident_id is not None})
        windows = ScopedWindows()
        if not ids:
            return cls([], windows)
        incidents = list(
            session.scalars(
                select(Incident).where(Incident.id.in_(ids)).options(selectinload(Incident.clocks))
            )
        )
        customers = {i.customer_id for i in incidents}
        resources = {i.resource_id for i in incidents}
        held: list[object] = [*incidents]
        held += session.scalars(select(Customer).where(Customer.id.in_(customers)))
        held += session.scalars(select(Resource).where(Resource.id.in_(resources)))
        windows.preload(session, {window_scope(i) for i in incidents})
        return cls(held, windows)


BREACHES = frozenset({"slo_breached", "sla_breached"})


def log_mark(clock: Clock, mark: str, at: datetime) -> None:
    """Log a recorded mark; a breach at WARNING, naming its incident or request in the
    message itself, so the plain text format shows it as well as the JSON fields do."""
    owner = (
        f"incident {clock.incident_id}"
        if clock.incident_id is not None
        else f"support request {clock.support_request_id}"
    )
    log.log(
        logging.WARNING if mark in BREACHES else logging.INFO,
        "%s: clock %s %s at %s",
        owner,
        clock.name,
        mark,
        at.isoformat(),
        extra={
            "incident_id": clock.incident_id,
            "support_request_id": clock.support_request_id,
            "clock": clock.name,
            "mark": mark,
            "due": at.isoformat(),
        },
    )


@dataclass
class DowntimeRecorder:
    """Keeps the daemon's heartbeat and turns a gap in it into a monitoring fault.

    While it runs, the leader writes `seen_at` every few seconds. On taking over, a gap
    longer than `threshold` means nobody observed anything: that span becomes a
    `monitoring_fault` window for all sources (SPEC section 4), audited and open to an
    administrator's review over REST, and the clocks it touches are recomputed.
    """

    sessions: sessionmaker[Session]
    horizon: timedelta
    holder: str
    threshold: timedelta = timedelta(seconds=60)

    def beat(self, now: datetime) -> None:
        with self.sessions.begin() as session:
            row = session.get(Heartbeat, HEARTBEAT)
            if row is None:
                session.add(
                    Heartbeat(name=HEARTBEAT, holder=self.holder, started_at=now, seen_at=now)
                )
            else:
                row.holder, row.seen_at = self.holder, now

    def record_gap(self, now: datetime) -> MaintenanceWindow | None:
        """Called when this process becomes the leader, before catching up."""
        with self.sessions.begin() as session:
            row = session.get(Heartbeat, HEARTBEAT)
            if row is None or now - row.seen_at <= self.threshold:
                return None
            window = record_fault(
                session,
                source=None,
                start=row.seen_at,
                end=now,
                description=f"slad was not running between heartbeats (last seen by {row.holder})",
                why="daemon downtime detected from its heartbeat",
                action="downtime.recorded",
                now=now,
                horizon=self.horizon,
            )
            row.holder, row.seen_at = self.holder, now
            log.warning(
                "recorded downtime as a monitoring fault",
                extra={"window_id": window.id, "start": window.start_at.isoformat()},
            )
            return window
