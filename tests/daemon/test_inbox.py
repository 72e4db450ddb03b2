"""The ingest inbox: an answer means committed, correlation follows, nothing is lost."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError

from daemon.api.events import to_alert_event
from daemon.api.schemas import EventIn
from daemon.config import IngestConfig
from daemon.store.models import AlertEventRecord, Incident
from tests.daemon.conftest import Api, ApiFactory, event, seed_registry
from tests.daemon.test_metrics import scrape, value

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def paused(api: Api) -> Api:
    """Stop the correlator thread so a test decides when correlation happens."""
    api.services.correlator.stop()
    return api


def incident_count(api: Api) -> int:
    with api.services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Incident)) or 0


def test_an_event_is_committed_and_answered_202_before_it_is_correlated(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    paused(api)

    answer = api.post("/v1/events", event("e1", "problem", T0), role="ingest")

    assert answer.status_code == 202
    assert answer.json()["results"] == [
        {"event_key": "e1", "status": "accepted", "alert_id": None, "incident_id": None}
    ]
    pending = api.ok(api.get("/v1/events?outcome=pending"))["items"]
    assert [e["event_key"] for e in pending] == ["e1"]
    assert incident_count(api) == 0

    assert api.services.correlator.run_pending() == 1
    (incident,) = api.ok(api.get("/v1/incidents"))["items"]
    assert incident["detected_at"] == "2026-11-24T01:00:00Z"
    (stored,) = api.ok(api.get("/v1/events"))["items"]
    assert (stored["outcome"], stored["correlated_at"]) == ("created", "2026-11-24T01:00:00Z")
    assert api.ok(api.get("/v1/events?outcome=pending"))["items"] == []


def test_redelivery_while_pending_is_a_duplicate(api: Api) -> None:
    seed_registry(api)
    paused(api)
    api.post("/v1/events", event("e1", "problem", T0), role="ingest")
    again = api.ok(api.post("/v1/events", event("e1", "problem", T0), role="ingest"), 202)
    assert again["results"][0]["status"] == "duplicate"
    api.services.correlator.run_pending()
    assert incident_count(api) == 1


def test_a_batch_repeating_a_key_stores_it_once(api: Api) -> None:
    seed_registry(api)
    batch = {"events": [event("e1", "problem", T0), event("e1", "problem", T0)]}
    results = api.ok(api.post("/v1/events?wait=true", batch, role="ingest"))["results"]
    assert [r["status"] for r in results] == ["created", "duplicate"]


def test_wait_answers_202_with_pending_events_when_correlation_is_late(
    api_factory: ApiFactory,
) -> None:
    api = paused(api_factory(ingest=IngestConfig(wait_timeout_seconds=0)))
    seed_registry(api)
    answer = api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest")
    assert answer.status_code == 202
    assert answer.json()["results"][0]["status"] == "accepted"


def test_accepted_events_survive_a_restart_and_are_correlated_by_the_next_process(
    api_factory: ApiFactory,
) -> None:
    first = paused(api_factory())
    seed_registry(first)
    first.ok(first.post("/v1/events", event("e1", "problem", T0), role="ingest"), 202)
    assert incident_count(first) == 0  # the first process never correlates it

    second = paused(api_factory())
    second.services.correlator.run_pending()
    assert incident_count(second) == 1


def test_a_poisoned_event_is_set_aside_and_the_rest_flow_past_it(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    paused(api)
    batch = {
        "events": [
            event("before", "problem", T0, problem="p1"),
            event("bad", "problem", T0, problem="p2"),
            event("after", "problem", T0, problem="p3"),
        ]
    }
    api.ok(api.post("/v1/events", batch, role="ingest"), 202)
    with api.services.sessions.begin() as session:  # a row no release of slad could read
        session.execute(
            update(AlertEventRecord)
            .where(AlertEventRecord.event_key == "generic:bad")
            .values(severity="catastrophic")
        )

    assert api.services.correlator.run_pending() == 3

    outcomes = {e["event_key"]: e for e in api.ok(api.get("/v1/events"))["items"]}
    assert outcomes["before"]["outcome"] == "created"
    assert outcomes["after"]["outcome"] == "attached"
    assert outcomes["bad"]["outcome"] == "failed"
    assert "catastrophic" in outcomes["bad"]["error"]
    failed = api.ok(api.get("/v1/events?outcome=failed"))["items"]
    assert [e["event_key"] for e in failed] == ["bad"]
    samples = scrape(api.client)
    assert value(samples, "slad_ingest_failed_events") == 1
    assert value(samples, "slad_ingest_backlog") == 0

    with api.services.sessions.begin() as session:  # the cause is fixed
        session.execute(
            update(AlertEventRecord)
            .where(AlertEventRecord.event_key == "generic:bad")
            .values(severity="high")
        )
    bad_id = outcomes["bad"]["id"]
    retried = api.ok(api.post(f"/v1/events/{bad_id}/retry", {}))
    assert (retried["outcome"], retried["error"]) == (None, None)
    assert api.post(f"/v1/events/{bad_id}/retry", {}).status_code == 409
    api.services.correlator.run_pending()
    retried_outcomes = {e["event_key"]: e for e in api.ok(api.get("/v1/events"))["items"]}
    assert retried_outcomes["bad"]["outcome"] == "attached"
    actions = [a["action"] for a in api.ok(api.get("/v1/audit", role="admin"))["items"]]
    assert actions[0] == "event.retry"


def test_retry_needs_an_operator_and_an_existing_event(api: Api) -> None:
    assert api.post("/v1/events/1/retry", {}, role="viewer").status_code == 403
    assert api.post("/v1/events/999/retry", {}).status_code == 404
    assert api.get("/v1/events", role="ingest").status_code == 403


def test_backlog_metrics_show_waiting_events_and_their_age(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    paused(api)
    api.post("/v1/events", event("e1", "problem", T0), role="ingest")
    api.post("/v1/events", event("e2", "problem", T0, problem="p2"), role="ingest")
    api.clock.advance(seconds=90)

    samples = scrape(api.client)
    assert value(samples, "slad_ingest_backlog") == 2
    assert value(samples, "slad_ingest_backlog_age_seconds") == 90

    api.services.correlator.run_pending()
    samples = scrape(api.client)
    assert value(samples, "slad_ingest_backlog") == 0
    assert value(samples, "slad_ingest_backlog_age_seconds") == 0


def test_values_no_store_can_hold_are_refused_with_422_and_store_nothing(api: Api) -> None:
    seed_registry(api)
    nul_title = {**event("e1", "problem", T0), "title": "cpu\u0000high"}
    for body in (nul_title, {"events": [event("e2", "problem", T0), nul_title]}):
        answer = api.post("/v1/events", body, role="ingest")
        assert answer.status_code == 422, answer.text
    raw = (
        b'{"event_key": "e3", "problem_key": "p", "kind": "problem",'
        b' "detected_at": "2026-11-24T01:00:00Z", "raw": {"load": NaN}}'
    )
    answer = api.client.post(
        "/v1/events",
        content=raw,
        headers={**api.headers("ingest"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert "raw.load" in answer.text
    assert api.ok(api.get("/v1/events"))["items"] == []


def test_a_submission_the_store_refuses_fails_alone(api: Api) -> None:
    """Group commit shares one transaction; a refused submission must not sink the others."""
    seed_registry(api)
    paused(api)
    inbox = api.services.inbox
    good = inbox.submit([to_alert_event(EventIn.model_validate(event("ok", "problem", T0)), T0)])
    bad_event = replace(
        to_alert_event(EventIn.model_validate(event("bad", "problem", T0)), T0),
        event_key="x" * 600,  # longer than the column: PostgreSQL refuses it
    )
    bad = inbox.submit([bad_event])
    assert [r.status for r in good.result(timeout=10).results] == ["accepted"]
    if api.services.engine.dialect.name == "postgresql":
        with pytest.raises(DataError):
            bad.result(timeout=10)
