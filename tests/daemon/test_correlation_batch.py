"""The fast path gives exactly what the careful path gives, on generated mixed batches.

`Ingestor.correlate` correlates a batch in memory and writes it at its end;
`Ingestor.correlate_one` is the same code one event at a time in a savepoint, the path
the correlator falls back to. Whatever a batch holds (problems, repeats, recoveries
before and after their problem, updates, resources grouped by resource and by problem,
alerts that map nowhere, untrusted future detections), both must leave the store
alike: the same incidents, alerts, clocks, timeline, outcomes and notifications. Two
correlators racing for one inbox on PostgreSQL must leave it alike too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from daemon.correlator import Correlator
from daemon.notify.config import parse_notify_config
from daemon.store.models import (
    Alert,
    AlertEventRecord,
    Clock,
    Incident,
    OutboxMessage,
    TimelineEntry,
)
from sla_engine.policy import DEFAULT_PLANS, apply_overrides
from tests.daemon.conftest import Api, ApiFactory

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
# web01 and web02 are on a plan grouping by resource, db01 on one grouping by problem.
HOSTS = ("web01", "web02", "db01", "nowhere")
PROBLEMS = ("cpu", "disk", "mem")
KINDS = ("problem", "problem", "recovery", "update")


@dataclass(frozen=True)
class Spec:
    """One generated event: where, what, and minutes before now (None: far ahead)."""

    host: str
    problem: str
    kind: str
    minutes_ago: int | None


SPECS = st.builds(
    Spec,
    st.sampled_from(HOSTS),
    st.sampled_from(PROBLEMS),
    st.sampled_from(KINDS),
    st.one_of(st.integers(min_value=0, max_value=90), st.none()),
)
BATCHES = st.lists(SPECS, min_size=1, max_size=30)


@pytest.fixture
def mixed(api_factory: ApiFactory) -> Api:
    """Two contracts, one plan grouping per problem, notifications on for every event."""
    plans = apply_overrides(DEFAULT_PLANS, {"full_managed": {"group_by": "problem"}})
    notify = parse_notify_config(
        {
            "channels": {
                "ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s"}
            },
            "routes": {
                "default": {
                    "incident_opened": ["ops"],
                    "incident_resolved": ["ops"],
                    "unassigned_alert": ["ops"],
                }
            },
        }
    )
    api = api_factory(plans=plans, notify=notify)
    contracts = (("acme", "standard", ("web01", "web02")), ("bolt", "full_managed", ("db01",)))
    for name, plan, hosts in contracts:
        customer = api.ok(api.post("/v1/customers", {"name": name}, role="admin"), 201)
        body = {"customer_id": customer["id"], "plan": plan, "billing_start": "2026-04-01"}
        contract = api.ok(api.post("/v1/contracts", body, role="admin"), 201)
        for host in hosts:
            resource = {
                "contract_id": contract["id"],
                "name": host,
                "kind": "vm",
                "selectors": [{"zabbix.host": host}],
            }
            api.ok(api.post("/v1/resources", resource, role="admin"), 201)
    api.clock.set(NOW)
    api.services.correlator.stop()  # the test decides when and how correlation happens
    return api


def load_inbox(api: Api, batch: list[Spec]) -> None:
    """Empty what correlation writes, then put `batch` in the inbox, pending."""
    with api.services.sessions.begin() as session:
        for model in (TimelineEntry, Clock, OutboxMessage, AlertEventRecord, Alert, Incident):
            session.execute(delete(model))
        for n, spec in enumerate(batch):
            if spec.minutes_ago is None:
                detected = NOW + timedelta(minutes=20)
            else:
                detected = NOW - timedelta(minutes=spec.minutes_ago)
            session.add(
                AlertEventRecord(
                    event_key=f"generic:e{n}",
                    problem_key=f"generic:{spec.host}:{spec.problem}",
                    source="generic",
                    instance="",
                    kind=spec.kind,
                    severity="high",
                    title=f"{spec.problem} on {spec.host}",
                    resource_ids={"zabbix.host": spec.host},
                    detected_at=detected,
                    detected_at_estimated=False,
                    received_at=NOW,
                    raw={"n": n},
                )
            )


def pending(session: Session) -> list[AlertEventRecord]:
    stmt = select(AlertEventRecord).where(AlertEventRecord.outcome.is_(None))
    return list(session.scalars(stmt.order_by(AlertEventRecord.id)))


def one_by_one(api: Api) -> None:
    with api.services.sessions.begin() as session:
        for record in pending(session):
            api.services.ingestor.correlate_one(session, record, NOW)


def in_batches(api: Api, size: int) -> None:
    while True:
        with api.services.sessions.begin() as session:
            records = pending(session)[:size]
            if not records:
                return
            api.services.ingestor.correlate(session, records, NOW)


def snapshot(api: Api) -> dict[str, Any]:
    """The store as correlation left it, with ids replaced by their order of creation
    (PostgreSQL does not reuse ids after a delete)."""
    with api.services.sessions() as session:
        incidents = list(session.scalars(select(Incident).order_by(Incident.id)))
        alerts = list(session.scalars(select(Alert).order_by(Alert.id)))
        nth_incident = {i.id: n for n, i in enumerate(incidents)}
        nth_alert = {a.id: n for n, a in enumerate(alerts)}

        def detail(raw: dict[str, Any]) -> dict[str, Any]:
            if "alert_id" in raw:
                return {**raw, "alert_id": nth_alert[raw["alert_id"]]}
            return raw

        clocks = session.scalars(select(Clock).where(Clock.incident_id.is_not(None)))
        return {
            "incidents": [
                (
                    i.resource_id,
                    i.group_key,
                    i.problem_key,
                    i.status,
                    i.detected_at,
                    i.received_at,
                    i.detected_at_estimated,
                    i.resolved_at,
                    i.policy,
                )
                for i in incidents
            ],
            "alerts": [
                (
                    nth_incident.get(a.incident_id) if a.incident_id else None,
                    a.problem_key,
                    a.status,
                    a.assignment,
                    a.detected_at,
                    a.detected_at_estimated,
                    a.resolved_at,
                )
                for a in alerts
            ],
            "clocks": sorted(
                (
                    nth_incident[c.incident_id],
                    c.name,
                    c.state,
                    c.start_at,
                    c.slo_due_at,
                    c.sla_due_at,
                    c.due_at,
                    c.outcome,
                )
                for c in clocks
                if c.incident_id is not None
            ),
            "timeline": [
                (nth_incident[t.incident_id], t.kind, t.at, t.actor, detail(t.detail))
                for t in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))
            ],
            "events": [
                (e.event_key, e.outcome, nth_alert.get(e.alert_id) if e.alert_id else None)
                for e in session.scalars(select(AlertEventRecord).order_by(AlertEventRecord.id))
            ],
            "outbox": [
                (o.event, nth_incident.get(o.incident_id) if o.incident_id else None, o.channel)
                for o in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            ],
        }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=BATCHES, size=st.integers(min_value=1, max_value=30))
def test_a_batch_leaves_the_store_as_one_event_at_a_time_does(
    mixed: Api, batch: list[Spec], size: int
) -> None:
    load_inbox(mixed, batch)
    one_by_one(mixed)
    careful = snapshot(mixed)
    load_inbox(mixed, batch)
    in_batches(mixed, size)
    assert snapshot(mixed) == careful


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(SPECS, min_size=20, max_size=60))
def test_racing_correlators_leave_the_store_as_one_event_at_a_time_does(
    mixed: Api, batch: list[Spec]
) -> None:
    if mixed.services.engine.dialect.name != "postgresql":
        pytest.skip("replicas race for one inbox on PostgreSQL only")
    load_inbox(mixed, batch)
    one_by_one(mixed)
    careful = snapshot(mixed)
    load_inbox(mixed, batch)
    services = mixed.services
    racers = [Correlator(services.sessions, services.ingestor, mixed.clock) for _ in range(2)]
    start = threading.Barrier(len(racers))

    def race(correlator: Correlator) -> None:
        start.wait()
        correlator.run_pending()

    threads = [threading.Thread(target=race, args=(c,)) for c in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert snapshot(mixed) == careful


def test_a_caller_waiting_for_early_events_is_answered_before_the_backlog_is_cleared(
    mixed: Api,
) -> None:
    """`?wait=true` during a storm: the caller's events are correlated by the first pass,
    and it is answered then, not once the whole backlog behind them is."""
    mixed.services.correlator.stop()  # this test's correlator is the only one
    load_inbox(mixed, [Spec("web01", PROBLEMS[n % 3], "problem", n % 90) for n in range(60)])
    with mixed.services.sessions() as session:
        ids = [record.id for record in pending(session)]
    correlator = Correlator(
        mixed.services.sessions, mixed.services.ingestor, mixed.clock, pass_seconds=1e-9
    )
    answered = correlator.settled(ids[5])  # within the first pass's 16 events
    seen: list[tuple[bool, int]] = []

    def look() -> bool:
        with mixed.services.sessions() as session:
            seen.append((answered.done(), len(pending(session))))
        return False

    assert correlator.run_pending(stopping=look) == 60
    assert seen[0] == (False, 60)
    assert seen[1] == (True, 44), "answered after the first pass, with 44 events still pending"
