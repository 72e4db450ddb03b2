"""Correlate stored source events into alerts and incidents.

Events reach this module after the inbox has committed them (`daemon.inbox`), so
redelivery never gets here. The partial unique indexes (one firing alert per problem,
one open incident per resource and group key) keep two correlators that raced from
producing a second row: the loser's transaction fails and is retried on fresh state.

Which incident an alert joins is its plan's `group_by` (`sla_engine.policy.GroupBy`):
by resource (the default), the open incident of its resource whatever the problem, or
the resource's incident resolved less than `reopen_minutes` before the alert's
detection, re-opened with its first detection, recorded contact and report and policy
snapshot; by problem, the open incident of its resource and problem. A detection
instant later than its receipt by more than `max_skew` is not trusted: the alert, and
an incident it opens, start at receipt, marked `detected_at_estimated`, and the
timeline keeps the source's claim.

`correlate` is the fast path: it reads what all its records need with a few queries up
front (`_Lookups`), correlates them in memory, and writes the whole batch at its end:
one flush, in which the unit of work inserts each table's new rows (incidents, alerts,
clocks) with one multi-row statement, then the timeline with one more. Nothing that
needs a row's id (timeline entries, outcomes, notifications) is built before that
flush. It runs no savepoints, so any error fails the whole transaction.
`correlate_one` is the careful path the correlator falls back to, the same code one
event at a time in a savepoint, so a poisoned event is set aside instead of blocking
the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Table,
    bindparam,
    func,
    literal,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from connectors.events import AlertEvent, EventKind, Severity
from daemon.clocks import INCIDENT_CLOCKS, policy_snapshot, refresh_incident
from daemon.registry import ResourceLookup
from daemon.store.models import (
    Alert,
    AlertEventRecord,
    Clock,
    Contract,
    Incident,
    Resource,
    TimelineEntry,
)
from daemon.timeline import insert_timeline, timeline_row
from daemon.windows import ScopedWindows, WindowScope
from sla_engine.faults import FaultExclusion
from sla_engine.policy import GroupBy, PlanPolicy, clocks_for

Status = Literal[
    "accepted",
    "duplicate",
    "created",
    "attached",
    "reopened",
    "repeated",
    "resolved",
    "updated",
    "unassigned",
    "orphan",
    "failed",
]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What became of one event, read into an `IngestResult` once the batch is
    flushed and its new rows have ids."""

    status: Status
    alert: Alert | None = None
    incident: Incident | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    """A timeline entry waiting for the batch's flush: its `alert` (if any) is named
    in the detail by the id it then has."""

    incident: Incident
    at: datetime
    kind: str
    actor: str
    detail: dict[str, object]
    alert: Alert | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        detail = self.detail if self.alert is None else {"alert_id": self.alert.id, **self.detail}
        return timeline_row(self.incident, self.at, now, self.kind, self.actor, detail)


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


def group_key(plan: PlanPolicy, problem_key: str) -> str:
    """The `Incident.group_key` of the incident an alert of `problem_key` joins."""
    return problem_key if plan.group_by is GroupBy.PROBLEM else ""


def reopens(plan: PlanPolicy, incident: Incident, detected_at: datetime) -> bool:
    """Whether an alert detected at `detected_at` re-opens the resolved `incident`:
    grouping by resource, and less than `reopen_minutes` after its resolution."""
    return (
        plan.group_by is GroupBy.RESOURCE
        and incident.status == "resolved"
        and incident.resolved_at is not None
        and detected_at - incident.resolved_at < timedelta(minutes=plan.reopen_minutes)
    )


def skew_detail(record: AlertEventRecord, event: AlertEvent) -> dict[str, object]:
    """What a timeline entry says when the event's detection instant was not trusted
    (`Ingestor.trusted_event`); nothing when it was."""
    if event.detected_at == record.detected_at:
        return {}
    ahead = (record.detected_at - record.received_at).total_seconds()
    return {
        "source_detected_at": record.detected_at.isoformat(),
        "estimated_because": (
            f"the source's detection instant is {ahead:.0f} s after receipt, beyond "
            "max_clock_skew_seconds: the clock starts at receipt"
        ),
    }


def number_rows(session: Session, rows: Sequence[Incident | Alert]) -> None:
    """Give the new `rows`, and the clocks of the new incidents among them, ids in the
    order given, taken as the store would hand them out: the next values of each
    table's sequence on PostgreSQL, the ones after its highest id on SQLite (which the
    writer's lock keeps to one transaction at a time)."""
    incidents: list[Incident] = []
    alerts: list[Alert] = []
    for row in rows:
        if row.id is None:
            if isinstance(row, Incident):
                incidents.append(row)
            else:
                alerts.append(row)
    clocks = [clock for incident in incidents for clock in incident.clocks if clock.id is None]
    with session.no_autoflush:
        _number(session, incidents)
        _number(session, alerts)
        _number(session, clocks)


_Row = TypeVar("_Row", Incident, Alert, Clock)


def _number(session: Session, rows: Sequence[_Row]) -> None:
    if not rows:
        return
    model = type(rows[0])
    if session.get_bind().dialect.name == "postgresql":
        stmt = text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
        )
        ids = list(session.scalars(stmt, {"table": model.__tablename__, "n": len(rows)}))
    else:
        highest = session.scalar(select(func.max(model.id))) or 0
        ids = list(range(highest + 1, highest + 1 + len(rows)))
    for row, ident in zip(rows, ids, strict=True):
        row.id = ident


def _new_alert(event: AlertEvent, resource: Resource | None) -> Alert:
    """A firing alert for a problem event, not yet in the session."""
    return Alert(
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


@dataclass
class _Members:
    """The alerts of one incident that a batch holds: those firing in memory, and those
    it resolved (whose stored rows may say firing until the batch's flush)."""

    firing: set[int] = field(default_factory=set)  # id() of each alert
    resolved: list[Alert] = field(default_factory=list)


@dataclass
class _Lookups:
    """What the events of one `correlate` call read, fetched once for all of them.

    What each event would query (its resource, windows, the alert firing for its
    problem, the open incident it joins, a recovery that came first) is read for the
    whole batch with a handful of queries, and then kept current in memory as the
    events create and resolve rows: correlating an event issues no query and no flush.
    What needs ids waits for the batch's flush: timeline `entries`, the recoveries to
    `link` to the alerts they resolved, and `later`, the hooks to call (`drain`).
    Holding the rows also keeps them in the session's (weak) identity map, so
    `session.get` of them costs no SQL.

    An event only touches rows of its own problem key, and only correlators (taking
    turns) write them, bar an operator's edit through the API: that now goes unseen for
    the rest of a pass instead of the rest of an event, with the partial unique indexes
    still refusing a second firing alert or open incident.
    """

    session: Session
    resources: ResourceLookup
    touched: _Touched
    windows: ScopedWindows = field(default_factory=ScopedWindows)
    firing: dict[str, dict[str, Alert]] = field(default_factory=dict)
    orphans: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    incidents: dict[tuple[int, str], Incident] = field(default_factory=dict)  # open ones
    recent: dict[tuple[int, str], Incident] = field(default_factory=dict)  # last resolved
    held: list[Incident] = field(default_factory=list)  # read, whether open or not
    latest: dict[tuple[str, str], Alert] = field(default_factory=dict)  # new this batch
    new: list[Incident | Alert] = field(default_factory=list)  # in the order made
    entries: list[_Entry] = field(default_factory=list)  # written by `_settle`
    links: list[tuple[AlertEventRecord, Alert]] = field(default_factory=list)
    later: list[Callable[[], None]] = field(default_factory=list)
    refreshed: dict[int, Incident] = field(default_factory=dict)  # by id(), held alive
    members: dict[int, _Members] = field(default_factory=dict)  # by id() of the incident
    loaded: bool = False  # whether the touched alerts and incidents have been read

    @classmethod
    def read(
        cls,
        session: Session,
        records: Sequence[AlertEventRecord],
        plans: dict[str, PlanPolicy],
    ) -> _Lookups:
        """The lookups for `records`: their resources, the ids of the rows their
        problem keys touch, and the windows of the incidents their problems may open."""
        resources = ResourceLookup(session)
        problems = [r for r in records if r.kind == EventKind.PROBLEM.value]
        resources.preload(r.resource_ids for r in problems)
        opened_by = _opened_by(resources, problems, plans)
        reopen = max((plan.reopen_minutes for plan in plans.values()), default=0)
        # A detection is never trusted later than its receipt plus the skew allowed, so
        # the earlier of the two bounds how far back a problem may re-open.
        since = min((min(r.detected_at, r.received_at) for r in problems), default=None)
        touched = _Touched.read(
            session,
            records,
            problems,
            opened_by,
            None if since is None else since - timedelta(minutes=reopen),
        )
        lookups = cls(session, resources, touched, orphans=touched.waiting)
        lookups.windows.preload(session, opened_by.values())
        return lookups

    def _load(self) -> None:
        """Read the touched alerts and incidents, once, when an event first needs one:
        most of a batch's events open new problems, and a pass often ends before it
        reaches one that needs them. Until then no event can have changed them."""
        if self.loaded:
            return
        self.loaded = True
        for alert in self.touched.firing_alerts(self.session):
            self.fired(alert)
            if alert.incident is not None:
                self.hold(alert.incident)
                self.firing_in(alert, alert.incident)
        for incident in self.touched.group_incidents(self.session, self.held):
            self.hold(incident)

    def firing_alert(self, event: AlertEvent) -> Alert | None:
        """The alert firing for `event`'s source and problem, if any."""
        if (event.source, event.problem_key) in self.touched.firing:
            self._load()
        return self.firing.get(event.problem_key, {}).get(event.source)

    def fired(self, alert: Alert) -> None:
        self.firing.setdefault(alert.problem_key, {})[alert.source] = alert

    def recovered(self, alert: Alert) -> None:
        del self.firing[alert.problem_key][alert.source]

    def orphaned(self, recovery: AlertEventRecord) -> None:
        self.orphans.setdefault((recovery.source, recovery.problem_key), []).append(recovery.id)

    def take_orphan(self, event: AlertEvent) -> AlertEventRecord | None:
        """The oldest recovery of `event`'s problem that arrived before any problem
        (out-of-order delivery) and is detected at or after it, no longer an orphan once
        taken. Only its id was read: recoveries can wait long and pile up, but a problem
        takes one at a time.

        A recovery detected before the problem ends an earlier firing slad never saw:
        taking it would resolve this problem at once, before it was even detected, and
        drop its incident from what is owed. It stays an orphan."""
        waiting = self.orphans.get((event.source, event.problem_key), [])
        for position, record_id in enumerate(waiting):
            record = self.session.get(AlertEventRecord, record_id)
            if record is not None and record.detected_at >= event.detected_at:
                del waiting[position]
                return record
        return None

    def firing_in(self, alert: Alert, incident: Incident) -> None:
        """`alert`, firing, is one of `incident`'s alerts."""
        self._members(incident).firing.add(id(alert))

    def resolved_in(self, alert: Alert, incident: Incident) -> None:
        """`alert` of `incident` no longer fires."""
        members = self._members(incident)
        members.firing.discard(id(alert))
        members.resolved.append(alert)

    def _members(self, incident: Incident) -> _Members:
        return self.members.setdefault(id(incident), _Members())

    def still_firing(self, incident: Incident) -> bool:
        """Whether an alert of `incident` still fires: one the batch holds, or a stored
        one it does not hold. The incident's alerts are never loaded for this: an
        incident of a resource gathers every alert of the resource's failure, thousands
        in a storm, and a recovery would read them all."""
        members = self.members.get(id(incident), _Members())
        if members.firing:
            return True
        if incident.id is None:  # new this batch: it has no stored alerts
            return False
        resolved = [alert.id for alert in members.resolved if alert.id is not None]
        params = {"incident": incident.id, "resolved": resolved}
        return self.session.scalar(_FIRING_OF, params) is not None

    def hold(self, incident: Incident) -> None:
        self.held.append(incident)
        if incident.status == "open":
            self.opened(incident)
        elif incident.status == "resolved":
            self.closed(incident)

    def open_incident(self, resource: Resource, key: str) -> Incident | None:
        """The open incident of `resource` and group `key`, if any."""
        if self.touched.open:
            self._load()
        return self.incidents.get((resource.id, key))

    def resolved_incident(self, resource: Resource, key: str) -> Incident | None:
        """The incident of `resource` and group `key` resolved last, among those that
        may still re-open."""
        if self.touched.recent:
            self._load()
        return self.recent.get((resource.id, key))

    def opened(self, incident: Incident) -> None:
        group = (incident.resource_id, incident.group_key)
        self.incidents[group] = incident
        if self.recent.get(group) is incident:
            del self.recent[group]

    def closed(self, incident: Incident) -> None:
        group = (incident.resource_id, incident.group_key)
        if self.incidents.get(group) is incident:
            del self.incidents[group]
        last = self.recent.get(group)
        assert incident.resolved_at is not None
        if last is None or (last.resolved_at or incident.resolved_at) <= incident.resolved_at:
            self.recent[group] = incident

    def drain(self) -> None:
        """Flush the batch so far, then call the hooks waiting for its ids, in order.

        The new rows get their ids first, in the order they were made (as one event at
        a time would have them), so the flush writes each table's new rows with one
        multi-row statement instead of one statement a row to learn its id.
        """
        added = [row for row in self.new if row in self.session]
        self.new = [row for row in self.new if row not in self.session]
        number_rows(self.session, added)
        self.session.flush()
        waiting, self.later = self.later, []
        for call in waiting:
            call()

    def refresh(self, incident: Incident, now: datetime, horizon: timedelta) -> None:
        """Re-judge `incident`'s clocks, once a batch: its clocks follow from its
        detection, contact, report and windows, which correlation never changes, and
        the batch has one `now`, so a second judgement would find the same."""
        if id(incident) in self.refreshed:
            return
        self.refreshed[id(incident)] = incident
        refresh_incident(
            self.session, incident, now, horizon, self.windows.of(self.session, incident)
        )


def _opened_by(
    resources: ResourceLookup, problems: Sequence[AlertEventRecord], plans: dict[str, PlanPolicy]
) -> dict[tuple[int, str], WindowScope]:
    """The resources and group keys of the incidents `problems` may open, join or
    re-open, each with the window scope such an incident has."""
    opened_by: dict[tuple[int, str], WindowScope] = {}
    for record in problems:
        resource = resources.resolve(record.resource_ids)
        if resource is not None:
            contract = resource.contract
            scope = (record.source, record.instance, contract.customer_id, contract.id)
            key = group_key(plans[contract.plan], record.problem_key)
            opened_by[(resource.id, key)] = (*scope, resource.id)
    return opened_by


def _in(name: str) -> BindParameter[Any]:
    return bindparam(name, expanding=True)


# Statements are built once: the per-call cost of building one adds up on this path.
_TOUCHED: CompoundSelect[str, int, str, str, bool] = union_all(
    select(literal("firing"), Alert.id, Alert.source, Alert.problem_key, true()).where(
        Alert.status == "firing",
        Alert.source.in_(_in("sources")),
        Alert.problem_key.in_(_in("keys")),
    ),
    select(literal("open"), Incident.id, Incident.source, Incident.problem_key, true()).where(
        Incident.status == "open",
        Incident.resource_id.in_(_in("resources")),
        Incident.group_key.in_(_in("open_keys")),
    ),
    # Incidents resolved recently enough to re-open; only by-resource groups re-open.
    select(literal("recent"), Incident.id, Incident.source, Incident.problem_key, true()).where(
        Incident.status == "resolved",
        Incident.resource_id.in_(_in("resources")),
        Incident.group_key == "",
        Incident.resolved_at >= bindparam("since"),
    ),
    # `alert_id IS NULL` is selected, not a condition: SQLite would then read the index
    # of `alert_id`, where a backlog of pending events sits.
    select(
        literal("orphan"),
        AlertEventRecord.id,
        AlertEventRecord.source,
        AlertEventRecord.problem_key,
        AlertEventRecord.alert_id.is_(None),
    ).where(
        AlertEventRecord.problem_key.in_(_in("orphan_keys")),
        AlertEventRecord.source.in_(_in("orphan_sources")),
        AlertEventRecord.kind == EventKind.RECOVERY.value,
        AlertEventRecord.outcome == "orphan",
    ),
)
_ALERTS = (
    select(Alert)
    .where(Alert.id.in_(_in("ids")))
    .options(joinedload(Alert.incident).joinedload(Incident.clocks))
)
_INCIDENTS = (
    select(Incident).where(Incident.id.in_(_in("ids"))).options(joinedload(Incident.clocks))
)
_FIRING_OF = (
    select(Alert.id)
    .where(
        Alert.incident_id == bindparam("incident"),
        Alert.status == "firing",
        Alert.id.not_in(_in("resolved")),
    )
    .limit(1)
)


@dataclass
class _Touched:
    """The ids of the rows a batch of records may touch, found with one query (index
    lookups all, with superset matches where sources and keys are matched apart): the
    alerts firing for their sources and problems, the open incidents their problems
    may join and the recoveries still waiting for their problem. Rows are then loaded
    only for the kinds that turned up."""

    firing: dict[tuple[str, str], int] = field(default_factory=dict)
    open: list[int] = field(default_factory=list)
    recent: list[int] = field(default_factory=list)
    waiting: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        session: Session,
        records: Sequence[AlertEventRecord],
        problems: Sequence[AlertEventRecord],
        opened_by: Collection[tuple[int, str]],
        since: datetime | None,
    ) -> _Touched:
        """What `records` may touch; `opened_by` holds the resources and group keys of
        the incidents their problems would open or join, `since` the earliest
        resolution a problem of theirs may re-open (None: they have no problem)."""
        params: dict[str, object] = {
            "sources": sorted({r.source for r in records}),
            "keys": sorted({r.problem_key for r in records}),
            "resources": sorted({resource for resource, _ in opened_by}),
            "open_keys": sorted({key for _, key in opened_by}),
            "orphan_sources": sorted({r.source for r in problems}),
            "orphan_keys": sorted({r.problem_key for r in problems}),
            "since": since or datetime.max.replace(tzinfo=UTC),
        }
        touched = cls()
        for kind, row_id, source, problem_key, unlinked in session.execute(_TOUCHED, params):
            if kind == "firing":
                touched.firing[(source, problem_key)] = row_id
            elif kind == "open":
                touched.open.append(row_id)
            elif kind == "recent":
                touched.recent.append(row_id)
            elif unlinked:
                touched.waiting.setdefault((source, problem_key), []).append(row_id)
        for waiting in touched.waiting.values():
            waiting.sort()
        return touched

    def firing_alerts(self, session: Session) -> list[Alert]:
        """The firing alerts, each with its incident and the incident's clocks."""
        if not self.firing:
            return []
        return list(session.scalars(_ALERTS, {"ids": sorted(self.firing.values())}).unique())

    def group_incidents(self, session: Session, held: Sequence[Incident]) -> list[Incident]:
        """The open and recently resolved incidents, with their clocks, bar those
        already `held`."""
        ids = set(self.open) | set(self.recent)
        ids -= {incident.id for incident in held}
        if not ids:
            return []
        return list(session.scalars(_INCIDENTS, {"ids": sorted(ids)}).unique())


@dataclass(frozen=True, slots=True)
class _Joined:
    """The incident a new alert went to, and how: `created`, `attached` or
    `reopened` (then `resolved_at` is when it had been resolved)."""

    incident: Incident
    how: Literal["created", "attached", "reopened"]
    resolved_at: datetime | None = None


@dataclass
class Ingestor:
    """Applies events to the store. Stateless apart from configuration.

    `max_skew` is how far after its receipt a source may place a detection before it
    is no longer trusted (`[ingest] max_clock_skew_seconds`).
    """

    plans: dict[str, PlanPolicy]
    horizon: timedelta
    hooks: IngestHooks | None = None
    fault_exclusion: FaultExclusion = FaultExclusion.HIDDEN
    max_skew: timedelta = timedelta(seconds=300)

    def trusted_event(self, record: AlertEventRecord) -> AlertEvent:
        """The event of `record`; a problem's detection too far after its receipt is
        replaced by the receipt and marked estimated. (A recovery's or update's instant
        starts no clock, so it stays the source's.)"""
        event = stored_event(record)
        late = event.detected_at - event.received_at > self.max_skew
        if late and event.kind is EventKind.PROBLEM:
            return replace(event, detected_at=event.received_at, detected_at_estimated=True)
        return event

    def correlate(
        self,
        session: Session,
        records: Sequence[AlertEventRecord],
        now: datetime,
        started: Callable[[], None] = lambda: None,
    ) -> list[IngestResult]:
        """Correlate `records` in order, recording each outcome on its row.

        `started` is called once what the batch touches has been read: what follows
        is the work each event adds (`daemon.correlator.BatchSize` measures it).
        """
        if not records:
            return []
        lookups = _Lookups.read(session, records, self.plans)
        started()
        done: list[tuple[AlertEventRecord, _Outcome]] = []
        with session.no_autoflush:
            for record in records:
                event = self.trusted_event(record)
                done.append((record, self._correlate(session, event, record, now, lookups)))
        return _settle(session, lookups, done, now)

    def correlate_one(
        self, session: Session, record: AlertEventRecord, now: datetime
    ) -> IngestResult:
        """Correlate one record inside a savepoint of the open transaction."""
        with session.begin_nested():
            event = self.trusted_event(record)  # first: a row it cannot read fails as always
            lookups = _Lookups.read(session, [record], self.plans)
            with session.no_autoflush:
                done = [(record, self._correlate(session, event, record, now, lookups))]
            return _settle(session, lookups, done, now)[0]

    def _correlate(
        self,
        session: Session,
        event: AlertEvent,
        record: AlertEventRecord,
        now: datetime,
        lookups: _Lookups,
    ) -> _Outcome:
        if event.kind is EventKind.PROBLEM:
            return self._problem(session, event, record, now, lookups)
        if event.kind is EventKind.RECOVERY:
            return self._recovery(session, event, record, now, lookups)
        return self._update(session, event, now, lookups)

    def _problem(
        self,
        session: Session,
        event: AlertEvent,
        record: AlertEventRecord,
        now: datetime,
        lookups: _Lookups,
    ) -> _Outcome:
        alert = lookups.firing_alert(event)
        if alert is not None:
            return _Outcome("repeated", alert, alert.incident)
        resource = lookups.resources.resolve(event.resource_ids)
        alert = _new_alert(event, resource)
        lookups.latest[(alert.source, alert.problem_key)] = alert
        lookups.new.append(alert)
        early_recovery = lookups.take_orphan(event)
        recovered_at = None
        if early_recovery is not None:
            recovered_at = early_recovery.detected_at
            alert.status = "resolved"
            alert.resolved_at = recovered_at
        else:
            lookups.fired(alert)
        joined = None
        if resource is not None:  # the incident goes out in the flush that writes the alert
            joined = self._incident_for(session, alert, resource, now, lookups)
            if early_recovery is None:
                lookups.firing_in(alert, joined.incident)
        session.add(alert)
        if early_recovery is not None:
            lookups.links.append((early_recovery, alert))
        if joined is None:
            if self.hooks is not None:
                lookups.later.append(partial(self.hooks.alert_unassigned, session, alert, now))
            return _Outcome("unassigned", alert)
        actor = f"source:{event.source}"
        self._joined(session, joined, alert, now, actor, lookups, skew_detail(record, event))
        if recovered_at is not None:
            self._maybe_resolve(session, joined.incident, recovered_at, event.source, now, lookups)
        return _Outcome(joined.how, alert, joined.incident)

    def _incident_for(
        self, session: Session, alert: Alert, resource: Resource, now: datetime, lookups: _Lookups
    ) -> _Joined:
        """The incident the new (still unsaved) `alert` joins: the open one of its
        group, the group's last one re-opened, or a new one.

        The alert joins through the relationship, which leaves the incident's alerts
        unloaded (`_Lookups.still_firing` needs none). A new incident's clocks are judged at
        once: its facts and windows are known, and its clock rows then go out in the
        flush that writes it and the alert.
        """
        plan = self.plans[resource.contract.plan]
        key = group_key(plan, alert.problem_key)
        incident = lookups.open_incident(resource, key)
        if incident is not None:
            alert.incident = incident
            return _Joined(incident, "attached")
        incident = lookups.resolved_incident(resource, key)
        if incident is not None and reopens(plan, incident, alert.detected_at):
            if lookups.later:  # hooks waiting to see it resolved see it so
                lookups.drain()
            resolved_at = incident.resolved_at
            _reopen(incident)
            alert.incident = incident
            lookups.opened(incident)
            return _Joined(incident, "reopened", resolved_at)
        incident = self._new_incident(session, alert, resource, key, now)
        lookups.new.append(incident)
        alert.incident = incident
        lookups.opened(incident)
        lookups.refresh(incident, now, self.horizon)
        return _Joined(incident, "created")

    def attach(
        self, session: Session, alert: Alert, resource: Resource, now: datetime, actor: str
    ) -> tuple[Incident, bool]:
        """Attach `alert` to the incident its group on `resource` has open (or re-opens
        as `_incident_for` does), or open one; whether one was opened.

        A new incident takes the alert's detection instant and snapshots the clock
        policy in force now, so later policy changes never re-judge it.
        """
        plan = self.plans[resource.contract.plan]
        key = group_key(plan, alert.problem_key)
        group = select(Incident).where(
            Incident.resource_id == resource.id, Incident.group_key == key
        )
        incident = session.scalar(group.where(Incident.status == "open"))
        joined = None if incident is None else _Joined(incident, "attached")
        if joined is None:
            last = session.scalar(
                group.where(Incident.status == "resolved").order_by(Incident.resolved_at.desc())
            )
            if last is not None and reopens(plan, last, alert.detected_at):
                joined = _Joined(last, "reopened", last.resolved_at)
                _reopen(last)
        if joined is None:
            joined = _Joined(self._new_incident(session, alert, resource, key, now), "created")
            session.flush()
        for entry in _joined_entries(joined, alert, actor, {}):
            session.add(TimelineEntry(**entry.row(now)))
        alert.incident_id = joined.incident.id
        alert.assignment = "assigned"
        session.flush()
        refresh_incident(session, joined.incident, now, self.horizon)
        if joined.how == "created" and self.hooks is not None:
            self.hooks.incident_opened(session, joined.incident, now)
        return joined.incident, joined.how == "created"

    def _new_incident(
        self, session: Session, alert: Alert, resource: Resource, key: str, now: datetime
    ) -> Incident:
        """An open incident for `alert` on `resource` in group `key`, added to the
        session.

        Its clocks start as an empty collection, so the first refresh creates them
        without asking the store for clocks a new incident cannot have.
        """
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
            group_key=key,
            title=alert.title,
            severity=alert.severity,
            status="open",
            detected_at=alert.detected_at,
            received_at=alert.received_at,
            detected_at_estimated=alert.detected_at_estimated,
            policy=policy_snapshot(clocks_for(plan, contract.options), INCIDENT_CLOCKS),
            fault_exclusion=self.fault_exclusion.value,
            created_at=now,
            clocks=[],
        )
        session.add(incident)
        return incident

    def _joined(
        self,
        session: Session,
        joined: _Joined,
        alert: Alert,
        now: datetime,
        actor: str,
        lookups: _Lookups,
        skew: dict[str, object],
    ) -> None:
        """Record the flushed `alert` joining its incident; an incident it joined late
        has its clocks re-judged now, one it opened announced."""
        lookups.entries.extend(_joined_entries(joined, alert, actor, skew))
        if joined.how != "created":
            lookups.refresh(joined.incident, now, self.horizon)
        elif self.hooks is not None:
            lookups.later.append(partial(self.hooks.incident_opened, session, joined.incident, now))

    def _recovery(
        self,
        session: Session,
        event: AlertEvent,
        record: AlertEventRecord,
        now: datetime,
        lookups: _Lookups,
    ) -> _Outcome:
        alert = lookups.firing_alert(event)
        if alert is None:
            lookups.orphaned(record)
            return _Outcome("orphan")
        alert.status = "resolved"
        alert.resolved_at = event.detected_at
        lookups.recovered(alert)
        incident = alert.incident
        if incident is None:
            return _Outcome("resolved", alert)
        lookups.resolved_in(alert, incident)
        actor = f"source:{event.source}"
        lookups.entries.append(
            _Entry(incident, event.detected_at, "alert_resolved", actor, {}, alert)
        )
        self._maybe_resolve(session, incident, event.detected_at, event.source, now, lookups)
        return _Outcome("resolved", alert, incident)

    def _maybe_resolve(
        self,
        session: Session,
        incident: Incident,
        at: datetime,
        source: str,
        now: datetime,
        lookups: _Lookups,
    ) -> None:
        if incident.status == "open" and not lookups.still_firing(incident):
            incident.status = "resolved"
            incident.resolved_at = at
            lookups.closed(incident)
            reason: dict[str, object] = {"reason": "all alerts recovered"}
            lookups.entries.append(_Entry(incident, at, "resolved", f"source:{source}", reason))
            lookups.refresh(incident, now, self.horizon)
            if self.hooks is not None:
                lookups.later.append(partial(self.hooks.incident_resolved, session, incident, now))

    def _update(
        self, session: Session, event: AlertEvent, now: datetime, lookups: _Lookups
    ) -> _Outcome:
        alert = lookups.latest.get((event.source, event.problem_key))
        if alert is None:  # none new in this batch: the latest stored one
            stmt = (
                select(Alert)
                .where(Alert.source == event.source, Alert.problem_key == event.problem_key)
                .order_by(Alert.id.desc())
            )
            alert = session.scalars(stmt).first()
        if alert is None:
            return _Outcome("orphan")
        incident = alert.incident
        if incident is not None:
            detail: dict[str, object] = {"title": event.title, "raw": event.raw}
            actor = f"source:{event.source}"
            lookups.entries.append(
                _Entry(incident, event.detected_at, "source_update", actor, detail, alert)
            )
        return _Outcome("updated", alert, incident)


def _reopen(incident: Incident) -> None:
    """Open the resolved `incident` again: its detection, recorded contact and report
    and policy snapshot stay, so the failure still owes one contact and one report."""
    incident.status = "open"
    incident.resolved_at = None


def _joined_entries(
    joined: _Joined, alert: Alert, actor: str, skew: dict[str, object]
) -> list[_Entry]:
    """The timeline entries of `alert` opening, joining or re-opening its incident;
    `skew` (`skew_detail`) says why its detection was not trusted."""
    incident, at = joined.incident, alert.detected_at
    if joined.how == "created":
        detail: dict[str, object] = {
            "title": alert.title,
            "detected_at_estimated": alert.detected_at_estimated,
            **skew,
        }
        return [_Entry(incident, at, "detected", actor, detail, alert)]
    entries = []
    if joined.how == "reopened":
        assert joined.resolved_at is not None
        reason: dict[str, object] = {
            "resolved_at": joined.resolved_at.isoformat(),
            "reason": "an alert of the resource fired within reopen_minutes of its resolution",
        }
        entries.append(_Entry(incident, at, "reopened", actor, reason, alert))
    detail = {"title": alert.title, **skew}
    entries.append(_Entry(incident, at, "alert_attached", actor, detail, alert))
    return entries


def _settle(
    session: Session,
    lookups: _Lookups,
    done: Sequence[tuple[AlertEventRecord, _Outcome]],
    now: datetime,
) -> list[IngestResult]:
    """Write the batch: flush its new and changed rows (and call the hooks waiting for
    their ids), then its timeline entries, in order, with one statement, and each
    record's outcome and alert. Returns the results."""
    lookups.drain()
    insert_timeline(session, [entry.row(now) for entry in lookups.entries])
    for recovery, resolved in lookups.links:
        recovery.alert_id = resolved.id
    results = []
    outcomes: list[dict[str, Any]] = []
    for record, outcome in done:
        alert, incident = outcome.alert, outcome.incident
        result = IngestResult(
            record.event_key,
            outcome.status,
            None if alert is None else alert.id,
            None if incident is None else incident.id,
        )
        values = {
            "outcome": result.status,
            "correlated_at": now,
            "alert_id": record.alert_id if result.alert_id is None else result.alert_id,
        }
        for name, value in values.items():
            set_committed_value(record, name, value)
        outcomes.append({"record_id": record.id, **values})
        results.append(result)
    session.execute(_OUTCOMES, outcomes)
    return results


_EVENTS = cast(Table, AlertEventRecord.__table__)
_OUTCOMES = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("record_id"))
    .values(
        outcome=bindparam("outcome"),
        correlated_at=bindparam("correlated_at"),
        alert_id=bindparam("alert_id"),
    )
)
"""Each record's outcome, written for the whole batch with one statement: the records
keep these values in memory as if loaded (`set_committed_value`), so the commit's flush
has nothing left to write for them."""
