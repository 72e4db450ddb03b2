"""The generic source runner, driven by a source defined here and nowhere in `daemon/`.

`FakeSource` implements the contract in `connectors.source` over a `World` the tests
change between polls: a token-checked webhook with a sub-route and a handshake, a poller
that records the watermark it was asked from, and maintenances of its own. It is
registered the way a real source is (the registry's one tuple), so what passes here is
what a new cloud connector gets from the daemon.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from connectors.events import AlertEvent, EventKind, Severity
from connectors.source import (
    ControlAnswer,
    FaultChange,
    PollResult,
    RejectReason,
    SourceConnector,
    SourceSettings,
    SourceUnreachable,
    SourceWindow,
    StreamCommit,
    WebhookHandler,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from daemon.sources import runner as runner_module
from daemon.sources.runner import InstanceRunner
from daemon.sources.streams import StreamWorker
from daemon.store.models import AuditEntry, Clock, MaintenanceWindow
from tests.daemon.conftest import Api, ApiFactory, seed_registry

TOKEN = "fake-token-never-logged"


@dataclass(frozen=True)
class FakeInstance:
    name: str
    token: str
    poll_interval_seconds: int = 60
    failure_threshold: int = 2


@dataclass
class World:
    """What the fake monitoring system holds; tests change it between polls."""

    problems: dict[str, datetime] = field(default_factory=dict)
    windows: list[SourceWindow] = field(default_factory=list)
    down: bool = False
    asked: list[tuple[datetime, datetime]] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)


def alert(instance: str, problem: str, at: datetime, received: datetime) -> AlertEvent:
    return AlertEvent(
        source="fake",
        event_key=f"fake:{instance}:{problem}",
        problem_key=f"fake:{instance}:{problem}",
        kind=EventKind.PROBLEM,
        detected_at=at,
        received_at=received,
        severity=Severity.HIGH,
        title=f"fake problem {problem}",
        resource_ids={"zabbix.host": "web01"},
        instance=instance,
    )


class FakeSource(SourceConnector[FakeInstance]):
    name = "fake"
    title = "Fake"
    world = World()

    def parse_config(self, section: Mapping[str, Any] | None) -> SourceSettings[FakeInstance]:
        tables = (section or {}).get("instances", {})
        return SourceSettings(
            {n: FakeInstance(n, **t) for n, t in tables.items()}, timedelta(hours=1)
        )

    def routes(self) -> Mapping[str, WebhookHandler[FakeInstance]]:
        return {"": self.push, "events": self.push}

    def push(self, instance: FakeInstance, request: WebhookRequest) -> WebhookResult:
        if request.headers.get("x-fake-token") != instance.token:
            raise WebhookRejected(RejectReason.BAD_SIGNATURE, "bad-signature", "token mismatch")
        try:
            body = json.loads(request.body)
        except ValueError as exc:
            raise WebhookRejected(RejectReason.MALFORMED, "malformed-webhook", "not JSON") from exc
        if "unreachable" in body:
            raise SourceUnreachable("fake: certificate host refused the connection")
        if "fault" in body:
            since = body.get("since")
            change = FaultChange(
                body["fault"] == "open",
                f"fake says {body['fault']}",
                datetime.fromisoformat(since) if since else None,
            )
            return WebhookResult(control=ControlAnswer(f"fault {body['fault']}"), fault=change)
        if "confirm" in body:
            url = str(body["confirm"])
            return WebhookResult(
                control=ControlAnswer(
                    "subscription confirmed", follow_up=lambda: self.world.confirmed.append(url)
                )
            )
        at = datetime.fromisoformat(body["at"])
        return WebhookResult(
            events=[alert(instance.name, body["problem"], at, request.received_at)]
        )

    def poll(self, instance: FakeInstance, since: datetime, now: datetime) -> PollResult:
        self.world.asked.append((since, now))
        if self.world.down:
            raise SourceUnreachable("fake: connection refused")
        events = [
            alert(instance.name, p, at, now)
            for p, at in self.world.problems.items()
            if since <= at <= now
        ]
        return PollResult(watermark=now, events=events, windows=list(self.world.windows))


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    fresh = World()
    monkeypatch.setattr(FakeSource, "world", fresh)
    monkeypatch.setattr(runner_module, "CONNECTORS", (*runner_module.CONNECTORS, FakeSource))
    return fresh


def fake_api(api_factory: ApiFactory) -> Api:
    return api_factory(sections={"fake": {"instances": {"one": {"token": TOKEN}}}})


@pytest.fixture
def api(api_factory: ApiFactory, world: World) -> Api:
    return fake_api(api_factory)


def runner(api: Api) -> InstanceRunner:
    found = api.services.sources.runner("fake", "one")
    assert found is not None
    return found


def push(api: Api, payload: Any, token: str = TOKEN, path: str = "/v1/webhooks/fake/one") -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return api.client.post(f"{path}?wait=true", content=raw, headers={"X-Fake-Token": token})


def status(api: Api, instance: str = "one") -> dict[str, Any]:
    entries = api.ok(api.get("/v1/sources"))
    return next(e for e in entries if e["source"] == "fake" and e["instance"] == instance)


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/incidents"))["items"])


def rejected_metric(api: Api, reason: str) -> float:
    text = api.client.get("/metrics").text
    line = f'slad_webhook_rejected_total{{reason="{reason}",source="fake"}}'
    values = [float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)]
    return values[0] if values else 0.0


# --- webhooks ---------------------------------------------------------------------------


def test_webhook_and_its_sub_route_open_incidents(api: Api) -> None:
    seed_registry(api)
    at = api.clock() - timedelta(minutes=2)
    first = api.ok(push(api, {"problem": "a", "at": at.isoformat()}))
    assert first["results"][0]["status"] == "created"
    other = push(api, {"problem": "b", "at": at.isoformat()}, path="/v1/webhooks/fake/one/events")
    joined = api.ok(other)["results"][0]  # another problem of the resource joins its incident
    assert joined["status"] == "attached"
    assert joined["incident_id"] == first["results"][0]["incident_id"]
    assert [i["title"] for i in incidents(api)] == ["fake problem a"]
    accepted = status(api)["last_accepted"]
    assert accepted["note"].startswith("1 event(s)")


def test_wrong_token_leaves_a_trace_in_sources_log_and_metric(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    seed_registry(api)
    with caplog.at_level(logging.WARNING, logger="slad.sources"):
        answer = push(api, {"problem": "a", "at": api.clock().isoformat()}, token="wrong")
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:slad:problem:bad-signature"
    assert incidents(api) == []
    rejected = status(api)["last_rejected"]
    assert rejected["reason"] == "bad_signature" and rejected["detail"] == "token mismatch"
    assert status(api)["last_accepted"] is None
    (record,) = [r for r in caplog.records if r.name == "slad.sources"]
    assert record.levelno == logging.WARNING
    assert (record.__dict__["source"], record.__dict__["instance"], record.__dict__["reason"]) == (
        "fake",
        "one",
        "bad_signature",
    )
    assert TOKEN not in caplog.text and "wrong" not in caplog.text
    assert rejected_metric(api, "bad_signature") == 1.0


def test_malformed_and_unknown_instance_are_rejected_with_their_reason(api: Api) -> None:
    assert push(api, b"{not json").status_code == 422
    assert status(api)["last_rejected"]["reason"] == "malformed"
    answer = push(api, {"problem": "a"}, path="/v1/webhooks/fake/nobody")
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:slad:problem:unknown-instance"
    unknown = status(api, "*")
    assert unknown["configured"] is False
    assert unknown["last_rejected"]["reason"] == "unknown_instance"
    assert "'nobody'" in unknown["last_rejected"]["detail"]
    assert rejected_metric(api, "unknown_instance") == 1.0
    assert rejected_metric(api, "malformed") == 1.0


def test_a_control_answer_stores_nothing_and_runs_its_follow_up(api: Api, world: World) -> None:
    answer = push(api, {"confirm": "https://example.test/confirm?t=1"})
    assert answer.status_code == 200
    assert answer.json()["note"] == "subscription confirmed"
    assert world.confirmed == ["https://example.test/confirm?t=1"]
    assert incidents(api) == []
    assert status(api)["last_accepted"]["note"] == "subscription confirmed"


def test_an_unreachable_dependency_is_503_with_retry_after_and_kept(api: Api) -> None:
    seed_registry(api)
    answer = push(api, {"unreachable": True})
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert int(answer.headers["retry-after"]) > 0
    assert answer.json()["type"] == "urn:slad:problem:source-unreachable"
    assert "certificate host refused" in answer.json()["detail"]
    rejected = status(api)["last_rejected"]
    assert rejected["reason"] == "source_unreachable"
    assert "certificate host refused" in rejected["detail"]
    assert rejected_metric(api, "source_unreachable") == 1.0
    assert incidents(api) == [] and status(api)["last_accepted"] is None


def fault_windows(api: Api) -> list[tuple[datetime, datetime | None, str]]:
    with api.services.sessions() as session:
        rows = session.scalars(
            select(MaintenanceWindow)
            .where(MaintenanceWindow.kind == "monitoring_fault")
            .order_by(MaintenanceWindow.id)
        )
        return [(w.start_at, w.end_at, w.description) for w in rows]


def test_a_webhook_opens_the_instances_fault_and_a_later_one_closes_it(api: Api) -> None:
    since = api.clock() - timedelta(minutes=3)
    answer = push(api, {"fault": "open", "since": since.isoformat()})
    assert answer.status_code == 200
    fault = status(api)["open_fault"]
    assert fault is not None and "fake says open" in fault["description"]
    assert datetime.fromisoformat(fault["start"].replace("Z", "+00:00")) == since
    push(api, {"fault": "open"})  # still the one fault
    assert len(fault_windows(api)) == 1
    api.clock.advance(minutes=5)
    push(api, {"fault": "close"})
    assert status(api)["open_fault"] is None
    assert fault_windows(api) == [(since, api.clock(), "fake:one: fake says open")]
    with api.services.sessions() as session:
        reasons = [
            a.reason
            for a in session.scalars(select(AuditEntry).where(AuditEntry.target_type == "window"))
        ]
    assert reasons == ["fake says open", "fake says close"]


def test_a_webhook_and_a_poll_close_only_their_own_fault(api: Api, world: World) -> None:
    poller = runner(api)
    push(api, {"fault": "open"})
    poller.poll(api.clock())  # a good poll says nothing of what the webhook reported
    assert status(api)["open_fault"] is not None
    push(api, {"fault": "close"})
    world.down = True
    for _ in range(2):
        api.clock.advance(minutes=1)
        poller.poll(api.clock())
    assert status(api)["open_fault"] is not None
    push(api, {"fault": "close"})  # the poller's fault waits for a good poll
    assert status(api)["open_fault"] is not None
    world.down = False
    poller.poll(api.clock())
    assert status(api)["open_fault"] is None


# --- poller and watermark -----------------------------------------------------------------


def test_a_restart_after_a_long_outage_rereads_exactly_the_gap(
    api_factory: ApiFactory, world: World
) -> None:
    api = fake_api(api_factory)
    seed_registry(api)
    first = api.clock()
    runner(api).poll(first)
    assert status(api)["watermark"] is not None
    assert status(api)["last_poll"]["ok"] is True

    api.clock.advance(days=3)  # far longer than the look-back: only the store knows
    world.problems["gap"] = first + timedelta(days=1)
    world.asked.clear()
    restarted = fake_api(api_factory)
    runner(restarted).poll(restarted.clock())
    restarted.services.correlator.run_pending()
    assert world.asked == [(first, restarted.clock())]
    assert [i["title"] for i in incidents(restarted)] == ["fake problem gap"]


def test_failures_open_a_fault_backing_off_and_an_answer_closes_it(api: Api, world: World) -> None:
    seed_registry(api)
    poller = runner(api)
    world.down = True
    start = api.clock()
    poller.tick(start)
    assert status(api)["open_fault"] is None
    assert status(api)["last_poll"] == {
        "at": status(api)["last_poll"]["at"],
        "ok": False,
        "error": "fake: connection refused",
        "last_ok_at": None,
    }
    api.clock.advance(minutes=1)
    poller.tick(api.clock())  # second failure: the threshold, and a 2-minute back-off
    fault = status(api)["open_fault"]
    assert fault is not None
    assert datetime.fromisoformat(fault["start"].replace("Z", "+00:00")) == start
    attempts = len(world.asked)
    api.clock.advance(minutes=1)
    poller.tick(api.clock())
    assert len(world.asked) == attempts  # backing off: not asked
    api.clock.advance(minutes=1)
    world.down = False
    poller.tick(api.clock())
    assert len(world.asked) == attempts + 1
    after = status(api)
    assert after["open_fault"] is None and after["failures"] == 0
    assert after["last_poll"]["ok"] is True
    with api.services.sessions() as session:
        (window,) = session.scalars(select(MaintenanceWindow))
    assert (window.source, window.start_at, window.end_at) == ("fake:one", start, api.clock())


def test_the_failure_count_survives_a_new_leader(api_factory: ApiFactory, world: World) -> None:
    api = fake_api(api_factory)
    world.down = True
    runner(api).poll(api.clock())
    successor = fake_api(api_factory)
    api.clock.advance(minutes=1)
    runner(successor).poll(api.clock())
    assert status(successor)["failures"] == 2
    assert status(successor)["open_fault"] is not None


# --- window sync --------------------------------------------------------------------------


def test_the_sources_maintenances_become_windows_of_the_mapped_resources(
    api: Api, world: World
) -> None:
    ids = seed_registry(api)
    start = api.clock() + timedelta(hours=1)
    world.windows = [
        SourceWindow(
            "m1",
            [{"zabbix.host": "web01"}, {"zabbix.host": "unmapped"}],
            "patch",
            start,
            start + timedelta(hours=1),
        ),
    ]
    runner(api).poll(api.clock())
    with api.services.sessions() as session:
        (window,) = session.scalars(select(MaintenanceWindow))
        assert (window.external_ref, window.scope, window.scope_ref, window.author) == (
            f"fake:one:m1:{ids['resource']}",
            "resource",
            ids["resource"],
            "fake:one",
        )
    world.windows = []
    api.clock.advance(minutes=1)
    runner(api).poll(api.clock())
    with api.services.sessions() as session:
        assert list(session.scalars(select(MaintenanceWindow))) == []


def contact_outcome(api: Api, incident_id: int) -> str:
    detail = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    return str(next(c for c in detail["clocks"] if c["name"] == "contact")["outcome"])


def pending(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/window-changes", params={"status": "pending"})))


def judged_incident(api: Api) -> tuple[int, datetime]:
    """An incident detected 3 hours ago whose contact came 50 minutes late: slo_breached."""
    seed_registry(api)
    detected = api.clock() - timedelta(hours=3)
    answer = api.ok(push(api, {"problem": "old", "at": detected.isoformat()}))
    incident_id = answer["results"][0]["incident_id"]
    contacted = (detected + timedelta(minutes=50)).isoformat()
    api.ok(
        api.post(
            f"/v1/incidents/{incident_id}/contact",
            {"at": contacted, "reason": "called from the car"},
        )
    )
    assert contact_outcome(api, incident_id) == "slo_breached"
    return incident_id, detected


def test_a_sync_that_would_rewrite_a_judged_past_is_held_until_accepted(
    api: Api, world: World
) -> None:
    incident_id, detected = judged_incident(api)
    future = api.clock() + timedelta(hours=1)
    world.windows = [
        SourceWindow(
            "late",
            [{"zabbix.host": "web01"}],
            "entered after the fact",
            detected - timedelta(minutes=10),
            detected + timedelta(minutes=30),
        ),
        SourceWindow(
            "next", [{"zabbix.host": "web01"}], "tonight", future, future + timedelta(hours=1)
        ),
    ]
    runner(api).poll(api.clock())
    assert contact_outcome(api, incident_id) == "slo_breached"  # recorded: not rewritten
    (change,) = pending(api)
    assert (change["kind"], change["author"]) == ("create", "fake:one")
    assert datetime.fromisoformat(change["past_start"].replace("Z", "+00:00")) == (
        detected - timedelta(minutes=10)
    )
    with api.services.sessions() as session:
        windows = {
            w.external_ref.split(":")[2]: w
            for w in session.scalars(select(MaintenanceWindow))
            if w.external_ref
        }
    assert windows["late"].effective_from == api.clock()
    assert windows["next"].effective_from is None  # the future part applies at once

    refused = api.post(f"/v1/window-changes/{change['id']}/accept", {}, role="operator")
    assert refused.status_code == 403
    accepted = api.ok(
        api.post(
            f"/v1/window-changes/{change['id']}/accept",
            {"reason": "the maintenance was real"},
            role="admin",
        )
    )
    assert accepted["status"] == "accepted" and accepted["incidents_recomputed"] == 1
    assert contact_outcome(api, incident_id) == "met"  # counted from the window's end
    assert pending(api) == []
    again = api.post(f"/v1/window-changes/{change['id']}/reject", {}, role="admin")
    assert again.status_code == 409

    world.windows = world.windows[1:]  # the source deletes it: the past part is held again
    api.clock.advance(minutes=1)
    runner(api).poll(api.clock())
    assert contact_outcome(api, incident_id) == "met"
    (deletion,) = pending(api)
    assert deletion["kind"] == "delete"
    api.ok(
        api.post(f"/v1/window-changes/{deletion['id']}/reject", {"reason": "keep it"}, role="admin")
    )
    api.clock.advance(minutes=1)
    runner(api).poll(api.clock())  # the rejected deletion is not proposed again
    assert pending(api) == [] and contact_outcome(api, incident_id) == "met"
    with api.services.sessions() as session:
        actions = [
            a.action
            for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            if a.action.startswith("window_change.")
        ]
    assert actions == [
        "window_change.hold",
        "window_change.accept",
        "window_change.hold",
        "window_change.reject",
    ]


def test_a_past_change_no_judged_clock_saw_applies_at_once(api: Api, world: World) -> None:
    seed_registry(api)
    detected = api.clock() - timedelta(minutes=5)
    answer = api.ok(push(api, {"problem": "fresh", "at": detected.isoformat()}))
    incident_id = answer["results"][0]["incident_id"]
    world.windows = [
        SourceWindow(
            "now",
            [{"zabbix.host": "web01"}],
            "running",
            detected - timedelta(minutes=5),
            detected + timedelta(minutes=30),
        )
    ]
    runner(api).poll(api.clock())
    assert pending(api) == []
    detail = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    contact = next(c for c in detail["clocks"] if c["name"] == "contact")
    assert datetime.fromisoformat(contact["slo_due"].replace("Z", "+00:00")) == (
        detected + timedelta(minutes=60)
    )


def test_a_window_the_source_shortens_releases_what_only_its_old_span_covered(
    api: Api, world: World
) -> None:
    seed_registry(api)
    detected = api.clock() - timedelta(minutes=5)
    answer = api.ok(push(api, {"problem": "fresh", "at": detected.isoformat()}))
    incident_id = answer["results"][0]["incident_id"]
    began = detected - timedelta(minutes=20)
    world.windows = [
        SourceWindow(
            "long", [{"zabbix.host": "web01"}], "running", began, detected + timedelta(minutes=30)
        )
    ]
    runner(api).poll(api.clock())
    world.windows = [
        SourceWindow(
            "long",
            [{"zabbix.host": "web01"}],
            "ended early",
            began,
            detected - timedelta(minutes=10),
        )
    ]
    api.clock.advance(minutes=1)
    runner(api).poll(api.clock())
    assert pending(api) == []
    with api.services.sessions() as session:  # what the scheduler wakes for
        stored = session.scalar(
            select(Clock).where(Clock.incident_id == incident_id, Clock.name == "contact")
        )
        assert stored is not None and stored.slo_due_at == detected + timedelta(minutes=30)
    detail = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    recomputed = [t for t in detail["timeline"] if t["kind"] == "clocks_recomputed"]
    assert recomputed[-1]["detail"]["action"] == "window.update"
    assert recomputed[-1]["detail"]["after"]["contact"][0] == stored.slo_due_at.isoformat()


# --- streams ----------------------------------------------------------------------------


class StreamingSource(FakeSource):
    """A push-only instance with a stream, which is down while the world says so."""

    def polls(self, instance: FakeInstance) -> bool:
        return False

    def streams(self, instance: FakeInstance) -> bool:
        return True

    def receive(
        self, instance: FakeInstance, commit: StreamCommit, clock: Callable[[], datetime]
    ) -> int:
        if self.world.down:
            raise SourceUnreachable("fake: stream refused")
        return 0


def test_a_stream_outage_during_a_database_outage_is_recorded_once_the_database_is_back(
    api: Api, world: World, tmp_path: Path
) -> None:
    """The fault of a stream that stops is written to the database; while that is down
    too, the consumer logs, backs off and records the fault at a later read."""
    real = replace(runner(api), connector=StreamingSource())
    unreachable = sessionmaker(create_engine(f"sqlite:///{tmp_path / 'gone' / 'slad.db'}"))
    worker = StreamWorker(replace(real, sessions=unreachable), api.clock)
    world.down = True
    pauses = [worker.step() for _ in range(3)]  # the second failure reaches the threshold
    assert pauses == [1.0, 2.0, 4.0], "backing off, still consuming"
    assert fault_windows(api) == []

    worker.runner = real  # the database answers again; the stream is still down
    api.clock.advance(minutes=1)
    assert worker.step() == 8.0
    ((start, end, description),) = fault_windows(api)
    assert start == api.clock() - timedelta(minutes=1), "from the first failure"
    assert end is None and "stream refused" in description

    world.down = False
    api.clock.advance(minutes=1)
    assert worker.step() == 1.0  # an empty read: the idle pause
    assert [end for _, end, _ in fault_windows(api)] == [api.clock()]
