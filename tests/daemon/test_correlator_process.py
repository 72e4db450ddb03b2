"""The correlator as `slad run` runs it: a child process, restarted when it dies."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from daemon.app import create_app
from daemon.auth import create_token
from daemon.correlator_process import CorrelatorProcess
from daemon.services import build_services
from daemon.store.models import Alert, AlertEventRecord, Incident
from tests.daemon.conftest import Api, FakeClock, event, make_config, seed_registry
from tests.e2e.slad_process import wait_for

DETECTED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


@pytest.fixture
def process_api(database: tuple[str, Engine]) -> Iterator[Api]:
    """The app with its correlator in a child process, as `slad run` starts it."""
    url, engine = database
    config = make_config(url)
    # A generous wait: on a busy machine the child takes its time over a backlog,
    # and what these tests hold it to is finishing, not speed.
    ingest = replace(config.ingest, correlator="process", wait_timeout_seconds=120)
    config = replace(config, ingest=ingest)
    clock = FakeClock(datetime.now(UTC))
    services = build_services(config, clock=clock, engine=engine, background=False)
    with services.sessions.begin() as session:
        tokens = {
            role: create_token(session, f"proc-{role}", role, clock())
            for role in ("viewer", "operator", "admin", "ingest")
        }
    with TestClient(create_app(services)) as client:
        yield Api(client, services, clock, tokens)


def child(api: Api) -> CorrelatorProcess:
    correlator = api.services.correlator
    assert isinstance(correlator, CorrelatorProcess)
    return correlator


def test_the_child_process_correlates_and_wait_returns_its_outcome(process_api: Api) -> None:
    api = process_api
    seed_registry(api)
    first = api.ok(
        api.post("/v1/events?wait=true", event("e1", "problem", DETECTED), role="ingest")
    )
    (result,) = first["results"]
    assert result["status"] == "created"
    incident = api.ok(api.get(f"/v1/incidents/{result['incident_id']}"))
    assert incident["detected_at"] == DETECTED.isoformat().replace("+00:00", "Z")

    recovery = event("e2", "recovery", DETECTED + timedelta(minutes=1))
    second = api.ok(api.post("/v1/events?wait=true", recovery, role="ingest"))
    assert second["results"][0]["status"] == "resolved"


def test_a_killed_child_is_restarted_and_nothing_accepted_is_lost(process_api: Api) -> None:
    api = process_api
    seed_registry(api)
    api.ok(api.post("/v1/events?wait=true", event("e1", "problem", DETECTED), role="ingest"))
    process = child(api)._process
    assert process is not None and process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join()

    later = event("e2", "problem", DETECTED, problem="p2")
    answer = api.ok(api.post("/v1/events?wait=true", later, role="ingest"))
    assert answer["results"][0]["status"] == "attached", "it joins its resource's incident"
    assert child(api)._process is not process


def test_stopping_leaves_nothing_lost_and_a_restart_finishes_the_backlog(
    process_api: Api,
) -> None:
    api = process_api
    seed_registry(api)
    batch = {"events": [event(f"e{n}", "problem", DETECTED, problem=f"p{n}") for n in range(300)]}
    api.ok(api.post("/v1/events", batch, role="ingest"), 202)

    child(api).stop()  # at once, with a backlog: it finishes its pass and exits

    child(api).start()
    last = event("last", "problem", DETECTED, problem="last")
    api.ok(api.post("/v1/events?wait=true", last, role="ingest"))
    with api.services.sessions() as session:
        pending = select(func.count()).where(AlertEventRecord.outcome.is_(None))
        assert session.scalar(pending) == 0
        assert session.scalar(select(func.count()).select_from(Alert)) == 301
        assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_a_child_killed_with_a_wake_up_unread_is_restarted_and_readiness_says_so(
    process_api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed while a wake-up byte waits in its socket, the child resets the socket
    instead of closing it: the daemon must treat that as a death like any other."""
    api = process_api
    seed_registry(api)
    monkeypatch.setattr("daemon.correlator_process.RESTART_PAUSE", 3.0)
    process = child(api)._process
    assert process is not None and process.pid is not None
    os.kill(process.pid, signal.SIGSTOP)
    child(api).wake()  # unread: the stopped child cannot take it
    with caplog.at_level(logging.ERROR, logger="slad.ingest"):
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        wait_for(lambda: api.client.get("/readyz").status_code == 503, 10, "readiness to drop")
        down = api.client.get("/readyz")
        assert down.json()["type"] == "urn:slad:problem:correlator-down"
        assert "retry-after" in down.headers

        answer = api.ok(
            api.post("/v1/events?wait=true", event("e1", "problem", DETECTED), role="ingest")
        )
    assert answer["results"][0]["status"] == "created"
    assert child(api)._process is not process
    assert api.client.get("/readyz").json() == {"status": "ready"}
    assert any("correlator process exited" in r.getMessage() for r in caplog.records)
