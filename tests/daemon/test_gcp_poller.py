"""The Google Cloud poller: alerts through the real REST client, snoozes through the real
gRPC client, credentials from a real service-account file.

A local HTTP server speaks ``projects.alerts.list`` and the OAuth token endpoint the key
file names; a local gRPC server speaks ``SnoozeService``. The instance reaches them
through `monitoring_endpoint`, `monitoring_grpc_endpoint` and `credentials_file`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from daemon.sources.runner import InstanceRunner
from daemon.store.models import AlertEventRecord, MaintenanceWindow
from tests.connectors.gcp_fakes import (
    LocalHttp,
    Seen,
    SnoozeServer,
    fixture,
    local_http,
    service_account_file,
    snooze,
)
from tests.daemon.conftest import Api, ApiFactory, seed_resource

OPENED = datetime(2026, 11, 30, 1, 15, 27, tzinfo=UTC)
CLOSED = datetime(2026, 11, 30, 1, 45, 27, 500000, tzinfo=UTC)
POLICY = "projects/acme-prod/alertPolicies/1234567890"
INSTANCE_ID = "4417532156735894071"


@pytest.fixture
def google() -> Iterator[LocalHttp]:
    yield from local_http()


@pytest.fixture
def snoozes() -> Iterator[SnoozeServer]:
    server = SnoozeServer()
    yield server
    server.close()


class Alerts:
    """What the fake ``projects.alerts.list`` answers, by filter."""

    def __init__(self, server: LocalHttp) -> None:
        self.open: list[dict[str, Any]] = []
        self.closed: list[dict[str, Any]] = []
        self.server = server
        server.routes["/v3/projects/"] = self.answer

    def answer(self, seen: Seen) -> tuple[int, Any]:
        if not self.server.authorized(seen):
            return 401, {"error": {"code": 401, "message": "no token", "status": "UNAUTHENTICATED"}}
        query = seen.query.get("filter", [""])[0]
        return 200, {"alerts": self.open if "OPEN" in query else self.closed}


def alert(state: str = "OPEN", alert_id: str = "0.mq4b8x1p9s2a") -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"projects/acme-prod/alerts/{alert_id}",
        "state": state,
        "openTime": "2026-11-30T01:15:27Z",
        "resource": {
            "type": "gce_instance",
            "labels": {"instance_id": INSTANCE_ID, "project_id": "acme-prod"},
        },
        "policy": {"name": POLICY, "displayName": "db cpu high", "severity": "CRITICAL"},
    }
    if state == "CLOSED":
        body["closeTime"] = "2026-11-30T01:45:27.500Z"
    return body


@pytest.fixture
def api(
    api_factory: ApiFactory,
    google: LocalHttp,
    snoozes: SnoozeServer,
    alerts: Alerts,
    health: Health,
    tmp_path: Path,
) -> Api:
    """An instance on the local servers; every Google API answers (empty by default)."""
    instance = {
        "projects": ["acme-prod"],
        "webhook_auth": "basic",
        "username": "google",
        "password": "s3cret-pass",
        "credentials_file": str(service_account_file(tmp_path, google)),
        "monitoring_endpoint": google.base,
        "monitoring_grpc_endpoint": snoozes.endpoint,
        "service_health_endpoint": google.base,
    }
    api = api_factory(sections={"gcp": {"instances": {"prod": instance}}})
    api.clock.set(OPENED + timedelta(minutes=1))
    return api


@pytest.fixture
def alerts(google: LocalHttp) -> Alerts:
    return Alerts(google)


class Health:
    """What the fake Service Health ``ListEvents`` answers (enums by name, as JSON)."""

    def __init__(self, server: LocalHttp) -> None:
        self.events: list[dict[str, Any]] = []
        self.server = server
        server.routes["/v1/projects/"] = self.answer

    def answer(self, seen: Seen) -> tuple[int, Any]:
        if not self.server.authorized(seen):
            return 401, {"error": {"code": 401, "message": "no token", "status": "UNAUTHENTICATED"}}
        return 200, {"events": self.events}


@pytest.fixture
def health(google: LocalHttp) -> Health:
    return Health(google)


def health_event(event_id: str = "e-1", **changes: Any) -> dict[str, Any]:
    event = {
        "name": f"projects/acme-prod/locations/global/events/{event_id}",
        "title": "Compute Engine VMs unreachable in asia-northeast1",
        "description": "We are investigating.",
        "category": "INCIDENT",
        "detailedCategory": "CONFIRMED_INCIDENT",
        "state": "ACTIVE",
        "detailedState": "CONFIRMED",
        "relevance": "IMPACTED",
        "eventImpacts": [
            {
                "product": {"productName": "Compute Engine", "id": "ce"},
                "location": {"locationName": "asia-northeast1"},
            }
        ],
        "updates": [
            {
                "updateTime": "2026-11-30T01:20:00Z",
                "title": "Investigating",
                "description": "Some VMs cannot be reached.",
            }
        ],
        "updateTime": "2026-11-30T01:20:00Z",
        "startTime": "2026-11-30T01:10:00Z",
    }
    return {**event, **changes}


def runner(api: Api) -> InstanceRunner:
    found = api.services.sources.runner("gcp", "prod")
    assert found is not None
    return found


def poll(api: Api) -> None:
    runner(api).poll(api.clock())
    api.services.correlator.run_pending()


def seed_registry(api: Api) -> int:
    return seed_resource(api, "db01", {"gcp.label.instance_id": INSTANCE_ID})


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/incidents"))["items"])


def stored_events(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertEventRecord)) or 0)


def same_instant(text: str, at: datetime) -> bool:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) == at


def contact_due(api: Api, incident_id: int) -> str:
    incident = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    return str(next(c for c in incident["clocks"] if c["name"] == "contact")["slo_due"])


def notify(api: Api, body: dict[str, Any]) -> Any:
    token = base64.b64encode(b"google:s3cret-pass").decode()
    return api.client.post(
        "/v1/webhooks/gcp/prod?wait=true",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}"},
    )


def test_the_poller_finds_a_missed_incident_and_its_closing(
    api: Api, alerts: Alerts, google: LocalHttp
) -> None:
    resource = seed_registry(api)
    alerts.open = [alert()]
    poll(api)
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], OPENED)  # Google's openTime, not the poll
    assert incident["resource_id"] == resource
    listed = [s for s in google.seen if s.path == "/v3/projects/acme-prod/alerts"]
    first_since = api.clock() - timedelta(days=1)  # the lookback: nothing stored yet
    assert [s.query["filter"][0] for s in listed] == [
        'state = "OPEN"',
        f'close_time >= "{first_since:%Y-%m-%dT%H:%M:%S.%fZ}"',
    ]
    assert "/token" in google.paths()  # a real OAuth exchange with the key file

    api.clock.set(CLOSED + timedelta(minutes=1))
    alerts.open, alerts.closed = [], [alert("CLOSED")]
    poll(api)
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], CLOSED)
    state = next(e for e in api.ok(api.get("/v1/sources")) if e["source"] == "gcp")
    assert state["last_poll"]["ok"] is True
    assert same_instant(state["watermark"], api.clock() - timedelta(minutes=5))


def test_a_polled_incident_and_its_notification_are_one_event(api: Api, alerts: Alerts) -> None:
    seed_registry(api)
    alerts.open = [alert()]
    poll(api)
    notification = fixture("incident-open-v1.2.json")
    notification["incident"]["started_at"] = int(OPENED.timestamp())
    answer = api.ok(notify(api, notification))
    assert answer["results"][0]["status"] == "duplicate"
    poll(api)
    assert stored_events(api) == 1


def test_a_snooze_of_the_policy_moves_the_contact_deadline(
    api: Api, alerts: Alerts, snoozes: SnoozeServer
) -> None:
    resource = seed_registry(api)
    alerts.open = [alert()]
    poll(api)
    (incident,) = incidents(api)
    due = OPENED + timedelta(minutes=30)
    assert same_instant(contact_due(api, incident["id"]), due)

    start = OPENED + timedelta(minutes=10)
    snoozes.snoozes = [
        snooze("projects/acme-prod/snoozes/77", [POLICY], start, start + timedelta(minutes=45))
    ]
    poll(api)
    assert snoozes.parents[-1] == "projects/acme-prod"
    with api.services.sessions() as session:
        (window,) = session.scalars(
            select(MaintenanceWindow).where(MaintenanceWindow.author == "gcp:prod")
        ).all()
        assert (window.scope, window.scope_ref) == ("resource", resource)
        assert window.external_ref == f"gcp:prod:projects/acme-prod/snoozes/77:{resource}"
    assert same_instant(contact_due(api, incident["id"]), due + timedelta(minutes=45))

    snoozes.snoozes = []  # the snooze was deleted before it began to count
    poll(api)
    assert same_instant(contact_due(api, incident["id"]), due)


def test_a_snooze_filter_names_its_resource(
    api: Api, alerts: Alerts, snoozes: SnoozeServer
) -> None:
    resource = seed_registry(api)
    start = OPENED + timedelta(minutes=10)
    snoozes.snoozes = [
        snooze(
            "projects/acme-prod/snoozes/78",
            [POLICY],
            start,
            start + timedelta(hours=1),
            f'resource.labels.instance_id="{INSTANCE_ID}"',
        )
    ]
    poll(api)  # no alert at all: the filter alone names the VM
    with api.services.sessions() as session:
        (window,) = session.scalars(
            select(MaintenanceWindow).where(MaintenanceWindow.author == "gcp:prod")
        ).all()
        assert window.scope_ref == resource


def test_refused_credentials_fail_the_poll_and_store_nothing(
    api: Api, alerts: Alerts, google: LocalHttp
) -> None:
    seed_registry(api)
    alerts.open = [alert()]
    google.routes["/token"] = lambda _seen: (400, {"error": "invalid_grant"})
    poll(api)
    assert stored_events(api) == 0
    state = next(e for e in api.ok(api.get("/v1/sources")) if e["source"] == "gcp")
    assert state["last_poll"]["ok"] is False
    assert "invalid_grant" in state["last_poll"]["error"]
    assert state["watermark"] is None


def seed_project(api: Api) -> int:
    """A customer whose resource is the whole project (how Service Health names it)."""
    customer = api.ok(api.post("/v1/customers", {"name": "acme-project"}, role="admin"), 201)
    contract = api.ok(
        api.post(
            "/v1/contracts",
            {"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"},
            role="admin",
        ),
        201,
    )
    resource = api.ok(
        api.post(
            "/v1/resources",
            {
                "contract_id": contract["id"],
                "name": "acme-prod",
                "kind": "project",
                "selectors": [{"gcp.project": "acme-prod"}],
            },
            role="admin",
        ),
        201,
    )
    return int(resource["id"])


def notices(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/provider-notices", role="operator"))["items"])


def test_a_service_health_incident_reaches_the_affected_customer_and_opens_no_window(
    api: Api, alerts: Alerts, health: Health
) -> None:
    resource = seed_project(api)
    health.events = [
        health_event(),
        health_event("e-2", relevance="NOT_IMPACTED"),
        health_event("e-3", relevance="PARTIALLY_RELATED"),
    ]
    poll(api)
    (notice,) = notices(api)
    assert notice["source"] == "gcp"
    assert notice["kind"] == "incident"
    assert notice["status"] == "active"
    assert notice["event_id"] == "projects/acme-prod/locations/global/events/e-1"
    assert notice["mapped"] is True
    detail = api.ok(api.get(f"/v1/provider-notices/{notice['id']}", role="operator"))
    assert (detail["services"], detail["regions"]) == (["Compute Engine"], ["asia-northeast1"])
    assert [r["resource_id"] for r in detail["resources"]] == [resource]
    assert detail["windows"] == []  # Google's incidents open no window by themselves
    poll(api)  # listed again unchanged: nothing new
    assert len(notices(api)) == 1
    api.services.notices.tick(api.clock())  # the leader's notice worker applies it
    confirmed = api.ok(
        api.post(
            f"/v1/provider-notices/{notice['id']}/confirm-impact",
            {"reason": "our VMs were down too"},
        )
    )
    (window,) = confirmed["windows"]
    assert window["resource_id"] == resource
    assert same_instant(window["start"], datetime(2026, 11, 30, 1, 10, tzinfo=UTC))
    assert window["end"] is None  # still active: the window stays open


def test_false_positive_withdraws_and_merged_follows_its_parent(
    api: Api, alerts: Alerts, health: Health
) -> None:
    seed_project(api)
    parent = health_event("p-1", title="Parent incident")
    health.events = [parent, health_event("c-1", title="Child incident")]
    poll(api)
    assert {n["status"] for n in notices(api)} == {"active"}
    api.clock.advance(minutes=30)
    closed = {
        **parent,
        "state": "CLOSED",
        "detailedState": "RESOLVED",
        "endTime": "2026-11-30T01:50:00Z",
        "updateTime": "2026-11-30T01:50:00Z",
    }
    health.events = [
        closed,
        health_event(
            "c-1",
            title="Child incident",
            state="CLOSED",
            detailedState="MERGED",
            parentEvent=parent["name"],
            updateTime="2026-11-30T01:40:00Z",
        ),
        health_event(
            "f-1",
            title="Not an incident after all",
            state="CLOSED",
            detailedState="FALSE_POSITIVE",
            updateTime="2026-11-30T01:45:00Z",
        ),
    ]
    poll(api)
    by_title = {n["title"]["en"]: n for n in notices(api)}
    assert by_title["Parent incident"]["status"] == "resolved"
    assert by_title["Child incident"]["status"] == "resolved"  # the parent's
    assert same_instant(
        by_title["Child incident"]["ends_at"], datetime(2026, 11, 30, 1, 50, tzinfo=UTC)
    )
    assert by_title["Not an incident after all"]["status"] == "cancelled"
