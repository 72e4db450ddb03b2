"""The read-your-writes table: for every route that writes, a case that writes through
it and reads the change back at once.

A 2xx from a write route means the change is committed; the GET sent right after its
answer must see it. `WRITE_CASES` is checked against the OpenAPI document (in the unit
suite and against the running process), so a write route added without a case here
fails the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, update

from connectors.zabbix import SIGNATURE_HEADER
from daemon.store.models import AlertEventRecord, MaintenanceWindow, OutboxMessage, WindowChange
from tests.connectors.aws_sns import TOPIC as AWS_TOPIC
from tests.connectors.aws_sns import FakeSns, fixture
from tests.connectors.gcp_fakes import (
    PUSH_ACCOUNT,
    LocalHttp,
    oidc_token,
    push_envelope,
    serve_certs,
)
from tests.connectors.gcp_fakes import fixture as gcp_fixture

WRITE_METHODS = ("post", "put", "patch", "delete")
ZABBIX_SECRET = "read-your-writes"
AWS_EVENTS_KEY = "read-your-writes-events"
_serial = itertools.count()


@cache
def sns_server() -> FakeSns:
    """Serves the signing certificate of the AWS case's messages to the running slad."""
    return FakeSns()


def aws_instance_config() -> str:
    """The ``[aws.instances.prod]`` table that accepts `sns_server`'s messages."""
    return (
        "[aws.instances.prod]\n"
        f'topic_arns = ["{AWS_TOPIC}"]\n'
        f'trusted_url_prefixes = ["{sns_server().base}"]\n'
        'events_api_key_header = "X-Slad-Key"\n'
        f'events_api_key = "{AWS_EVENTS_KEY}"\n'
    )


GCP_USER, GCP_PASSWORD = "google", "read-your-writes"
GCP_AUDIENCE = "https://slad.example/v1/webhooks/gcp/prod/pubsub"


@cache
def google_certs() -> LocalHttp:
    """Publishes the signing certificate of the Google case's OIDC tokens."""
    return LocalHttp()


def gcp_instance_config() -> str:
    """The ``[gcp.instances.prod]`` table: basic-auth webhook and Pub/Sub push."""
    return (
        "[gcp.instances.prod]\n"
        'projects = ["acme-prod"]\npoll = false\n'
        f'webhook_auth = "basic"\nusername = "{GCP_USER}"\npassword = "{GCP_PASSWORD}"\n'
        f'push_audience = "{GCP_AUDIENCE}"\npush_service_account = "{PUSH_ACCOUNT}"\n'
        f'oidc_certs_url = "{serve_certs(google_certs())}"\n'
    )


AZURE_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AZURE_SECRET = "read-your-writes-azure-secret"


def azure_instance_config() -> str:
    """The ``[azure.instances.prod]`` table: a plain webhook with its secret in the URL."""
    return (
        "[azure.instances.prod]\n"
        f'tenant_id = "{AZURE_TENANT}"\n'
        'webhook_auth = "secret"\n'
        f'webhook_secret = "{AZURE_SECRET}"\n'
    )


def write_routes(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (METHOD, path template) of the document that writes."""
    return {
        (method.upper(), path)
        for path, operations in openapi["paths"].items()
        for method in operations
        if method in WRITE_METHODS
    }


@dataclass
class World:
    """A running slad, its tokens and its database, and helpers to talk to it."""

    url: str
    database_url: str
    tokens: dict[str, str]

    def call(self, method: str, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)

    def ok(self, method: str, path: str, role: str = "admin", **kw: Any) -> Any:
        response = self.call(method, path, role, **kw)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return None if response.status_code == 204 else response.json()

    def get(self, path: str, role: str = "admin", **kw: Any) -> Any:
        return self.ok("GET", path, role, **kw)

    def store(self, statement: Any) -> None:
        """Arrange a state no route produces on demand (a failed event or delivery)."""
        engine = create_engine(self.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(statement)
        finally:
            engine.dispose()

    # -- things cases build on, each new and unique --------------------------------------

    def customer(self) -> int:
        return int(self.ok("POST", "/v1/customers", json={"name": f"c{next(_serial)}"})["id"])

    def contract(self, plan: str = "standard", **options: Any) -> int:
        body = {"customer_id": self.customer(), "plan": plan, "billing_start": "2026-04-01"}
        return int(self.ok("POST", "/v1/contracts", json={**body, **options})["id"])

    def resource(self, host: str | None = None) -> tuple[int, str]:
        host = host or f"h{next(_serial)}"
        body = {
            "contract_id": self.contract(),
            "name": host,
            "kind": "vm",
            "selectors": [{"zabbix.host": host}],
        }
        return int(self.ok("POST", "/v1/resources", json=body)["id"]), host

    def correlated(self, host: str) -> dict[str, Any]:
        """An event on `host`, correlated before the answer: its result."""
        key = f"e{next(_serial)}"
        body = {
            "event_key": key,
            "problem_key": key,
            "kind": "problem",
            "detected_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "resource_ids": {"zabbix.host": host},
        }
        result = self.ok("POST", "/v1/events?wait=true", "ingest", json=body)["results"][0]
        assert result["status"] not in ("accepted", "duplicate"), result
        return dict(result)

    def incident(self) -> int:
        _, host = self.resource()
        return int(self.correlated(host)["incident_id"])

    def contacted(self) -> int:
        incident = self.incident()
        self.ok("POST", f"/v1/incidents/{incident}/contact", "operator", json={})
        return incident

    def window(self) -> int:
        start = datetime.now(UTC) + timedelta(days=1)
        body = {
            "scope": "all",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "description": "planned",
        }
        return int(self.ok("POST", "/v1/maintenance-windows", "operator", json=body)["id"])

    def service_request(self, path: str) -> int:
        body = {"contract_id": self.contract(), "channel": "email", "subject": "please"}
        return int(self.ok("POST", path, "operator", json=body)["id"])

    def audited(self, action: str, target: int) -> bool:
        entries = self.get("/v1/audit", params={"limit": 100})["items"]
        return any(e["action"] == action and str(e["target_id"]) == str(target) for e in entries)


# -- the cases: write, then read it back at once ------------------------------------------


def post_event(w: World) -> None:
    key = f"e{next(_serial)}"
    body = {
        "event_key": key,
        "problem_key": key,
        "kind": "problem",
        "detected_at": datetime.now(UTC).isoformat(),
        "resource_ids": {"zabbix.host": "x"},
    }
    w.ok("POST", "/v1/events", "ingest", json=body)
    keys = [e["event_key"] for e in w.get("/v1/events", params={"limit": 500})["items"]]
    assert key in keys  # answered as sent: the store's source prefix is not shown


def retry_event(w: World) -> None:
    _, host = w.resource()
    result = w.correlated(host)
    key = result["event_key"]
    w.store(
        update(AlertEventRecord)
        .where(AlertEventRecord.event_key == f"generic:{key}")
        .values(outcome="failed", error="arranged by the test")
    )
    (record,) = [
        e
        for e in w.get("/v1/events", params={"outcome": "failed"})["items"]
        if e["event_key"] == key
    ]
    w.ok("POST", f"/v1/events/{record['id']}/retry", "operator")
    failed = [e["id"] for e in w.get("/v1/events", params={"outcome": "failed"})["items"]]
    assert record["id"] not in failed
    assert w.audited("event.retry", record["id"])


def post_customer(w: World) -> None:
    customer = w.customer()
    assert w.get(f"/v1/customers/{customer}")["id"] == customer


def patch_customer(w: World) -> None:
    customer, name = w.customer(), f"renamed {next(_serial)}"
    w.ok("PATCH", f"/v1/customers/{customer}", json={"name": name})
    assert w.get(f"/v1/customers/{customer}")["name"] == name


def delete_customer(w: World) -> None:
    customer = w.customer()
    w.ok("DELETE", f"/v1/customers/{customer}")
    assert w.call("GET", f"/v1/customers/{customer}").status_code == 404


def post_contract(w: World) -> None:
    contract = w.contract()
    assert w.get(f"/v1/contracts/{contract}")["id"] == contract


def patch_contract(w: World) -> None:
    contract = w.contract()
    w.ok("PATCH", f"/v1/contracts/{contract}", json={"plan": "full_managed"})
    assert w.get(f"/v1/contracts/{contract}")["plan"] == "full_managed"


def delete_contract(w: World) -> None:
    contract = w.contract()
    w.ok("DELETE", f"/v1/contracts/{contract}")
    assert w.call("GET", f"/v1/contracts/{contract}").status_code == 404


def post_resource(w: World) -> None:
    resource, _ = w.resource()
    assert w.get(f"/v1/resources/{resource}")["id"] == resource


def patch_resource(w: World) -> None:
    resource, _ = w.resource()
    w.ok("PATCH", f"/v1/resources/{resource}", json={"name": "renamed"})
    assert w.get(f"/v1/resources/{resource}")["name"] == "renamed"


def delete_resource(w: World) -> None:
    resource, _ = w.resource()
    w.ok("DELETE", f"/v1/resources/{resource}")
    assert w.call("GET", f"/v1/resources/{resource}").status_code == 404


def contact(w: World) -> None:
    incident = w.contacted()
    assert w.get(f"/v1/incidents/{incident}")["contacted_at"] is not None


def report(w: World) -> None:
    incident = w.contacted()
    w.ok("POST", f"/v1/incidents/{incident}/report", "operator", json={})
    assert w.get(f"/v1/incidents/{incident}")["reported_at"] is not None


def resolve(w: World) -> None:
    incident = w.incident()
    w.ok("POST", f"/v1/incidents/{incident}/resolve", "operator", json={})
    assert w.get(f"/v1/incidents/{incident}")["status"] == "resolved"


def note(w: World) -> None:
    incident = w.incident()
    text = f"note {next(_serial)}"
    w.ok("POST", f"/v1/incidents/{incident}/notes", "operator", json={"text": text})
    assert text in json.dumps(w.get(f"/v1/incidents/{incident}")["timeline"])


def assign(w: World) -> None:
    resource, _ = w.resource()
    alert = w.correlated(f"unmapped{next(_serial)}")["alert_id"]
    w.ok("POST", f"/v1/alerts/{alert}/assign", "operator", json={"resource_id": resource})
    unassigned = w.get("/v1/alerts", params={"assignment": "unassigned", "limit": 500})
    assert alert not in [a["id"] for a in unassigned["items"]]


def merge(w: World) -> None:
    contract = w.contract()
    incidents = []
    for _ in range(2):
        host = f"h{next(_serial)}"
        body = {
            "contract_id": contract,
            "name": host,
            "kind": "vm",
            "selectors": [{"zabbix.host": host}],
        }
        w.ok("POST", "/v1/resources", json=body)
        incidents.append(int(w.correlated(host)["incident_id"]))
    first, second = incidents
    body = {"incident_id": first, "reason": "one failure"}
    kept = w.ok("POST", f"/v1/incidents/{second}/merge", "operator", json=body)["id"]
    gone = second if kept == first else first
    assert len(w.get(f"/v1/incidents/{kept}")["alerts"]) == 2
    assert w.get(f"/v1/incidents/{gone}")["status"] == "merged"


def split(w: World) -> None:
    _, host = w.resource()
    incident = int(w.correlated(host)["incident_id"])
    alert = int(w.correlated(host)["alert_id"])  # another problem: it joins the incident
    own = w.ok("POST", f"/v1/alerts/{alert}/split", "operator", json={"reason": "unrelated"})
    assert [a["id"] for a in w.get(f"/v1/incidents/{own['id']}")["alerts"]] == [alert]
    assert alert not in [a["id"] for a in w.get(f"/v1/incidents/{incident}")["alerts"]]


def post_window(w: World) -> None:
    window = w.window()
    assert window in [x["id"] for x in w.get("/v1/maintenance-windows")]


def patch_window(w: World) -> None:
    window = w.window()
    w.ok("PATCH", f"/v1/maintenance-windows/{window}", "operator", json={"description": "moved"})
    (found,) = [x for x in w.get("/v1/maintenance-windows") if x["id"] == window]
    assert found["description"] == "moved"


def delete_window(w: World) -> None:
    window = w.window()
    w.ok("DELETE", f"/v1/maintenance-windows/{window}", "operator")
    found = [x for x in w.get("/v1/maintenance-windows") if x["id"] == window]
    assert not found or found[0]["status"] == "rejected"


def service_case(path: str) -> tuple[Callable[[World], None], Callable[[World], None]]:
    def create(w: World) -> None:
        request = w.service_request(path)
        assert request in [r["id"] for r in w.get(path, "operator")]

    def advance(w: World) -> None:
        request = w.service_request(path)
        w.ok("POST", f"{path}/{request}/start", "operator", json={})
        (found,) = [r for r in w.get(path, "operator") if r["id"] == request]
        assert found["started_at"] is not None

    return create, advance


def post_support(w: World) -> None:
    request = w.service_request("/v1/support-requests")
    assert w.get(f"/v1/support-requests/{request}", "operator")["id"] == request


def reply_support(w: World) -> None:
    request = w.service_request("/v1/support-requests")
    w.ok("POST", f"/v1/support-requests/{request}/reply", "operator", json={})
    assert w.get(f"/v1/support-requests/{request}", "operator")["replied_at"] is not None


def retry_outbox(w: World) -> None:
    incident = w.incident()
    now = datetime.now(UTC)
    key = f"ryw-{next(_serial)}"
    w.store(
        insert(OutboxMessage).values(
            idempotency_key=key,
            event="incident_opened",
            purpose="notify",
            channel="nowhere",
            recipient="",
            message={},
            incident_id=incident,
            status="failed",
            attempts=5,
            next_attempt_at=now,
            last_error="arranged by the test",
            created_at=now,
        )
    )
    (message,) = [
        m for m in w.get("/v1/outbox", params={"status": "failed"}) if m["incident_id"] == incident
    ]
    w.ok("POST", f"/v1/outbox/{message['id']}/retry")
    assert w.audited("outbox.retry", message["id"])


def zabbix_webhook(w: World) -> None:
    event_id = str(100_000 + next(_serial))
    body = {
        "event_date": "2026.11.24",
        "event_time": "09:52:55",
        "event_id": event_id,
        "event_name": f"Problem {event_id}",
        "event_value": "1",
        "host": "web01",
        "host_groups": "Web",
        "host_id": "10563",
        "severity": "4",
        "tags": [],
        "trigger_id": "23137",
        "recovery_date": "",
        "recovery_time": "",
        "recovery_id": "{EVENT.RECOVERY.ID}",
        "update_status": "0",
        "instance": "main",
    }
    raw = json.dumps(body).encode()
    digest = hmac.new(ZABBIX_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {SIGNATURE_HEADER: f"sha256={digest}", "Content-Type": "application/json"}
    response = httpx.post(
        f"{w.url}/v1/webhooks/zabbix/main", content=raw, headers=headers, timeout=30
    )
    assert response.is_success, response.text
    events = w.get("/v1/events", params={"source": "zabbix", "limit": 500})["items"]
    assert any(event_id in e["event_key"] for e in events)


def aws_webhook(w: World) -> None:
    name = f"alarm-{next(_serial)}"
    arn = f"arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:{name}"
    changed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    alarm = {
        **fixture("cloudwatch-alarm-message.json"),
        "AlarmName": name,
        "AlarmArn": arn,
        "StateChangeTime": changed,
    }
    raw = json.dumps(sns_server().notification(alarm, message_id=name)).encode()
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    response = httpx.post(f"{w.url}/v1/webhooks/aws/prod", content=raw, headers=headers, timeout=30)
    assert response.is_success, response.text
    events = w.get("/v1/events", params={"source": "aws", "limit": 500})["items"]
    assert any(e["event_key"].startswith(f"{arn}:") for e in events)


def aws_events_webhook(w: World) -> None:
    name = f"eb-alarm-{next(_serial)}"
    arn = f"arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:{name}"
    changed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    event = fixture("eventbridge-alarm-state-change.json")
    event["resources"] = [arn]
    event["detail"] = {
        **event["detail"],
        "alarmName": name,
        "state": {**event["detail"]["state"], "timestamp": changed},
    }
    headers = {"Content-Type": "application/json", "X-Slad-Key": AWS_EVENTS_KEY}
    response = httpx.post(
        f"{w.url}/v1/webhooks/aws/prod/events", json=event, headers=headers, timeout=30
    )
    assert response.is_success, response.text
    events = w.get("/v1/events", params={"source": "aws", "limit": 500})["items"]
    assert any(e["event_key"].startswith(f"{arn}:") for e in events)


def gcp_incident() -> tuple[str, dict[str, Any]]:
    incident_id = f"0.ryw{next(_serial)}x{datetime.now(UTC).timestamp():.0f}"
    notification = gcp_fixture("incident-open-v1.2.json")
    notification["incident"].update(
        incident_id=incident_id, started_at=int(datetime.now(UTC).timestamp()) - 5
    )
    return incident_id, notification


def gcp_seen(w: World, incident_id: str) -> None:
    events = w.get("/v1/events", params={"source": "gcp", "limit": 500})["items"]
    assert any(e["event_key"].startswith(f"{incident_id}:") for e in events)


def gcp_webhook(w: World) -> None:
    incident_id, notification = gcp_incident()
    response = httpx.post(
        f"{w.url}/v1/webhooks/gcp/prod",
        content=json.dumps(notification).encode(),
        auth=(GCP_USER, GCP_PASSWORD),
        timeout=30,
    )
    assert response.is_success, response.text
    gcp_seen(w, incident_id)


def gcp_pubsub_push(w: World) -> None:
    incident_id, notification = gcp_incident()
    response = httpx.post(
        f"{w.url}/v1/webhooks/gcp/prod/pubsub",
        content=json.dumps(push_envelope(notification, message_id=incident_id)).encode(),
        headers={"Authorization": f"Bearer {oidc_token(GCP_AUDIENCE)}"},
        timeout=30,
    )
    assert response.is_success, response.text
    gcp_seen(w, incident_id)


def azure_webhook(w: World) -> None:
    alerts = f"/subscriptions/{AZURE_TENANT}/providers/Microsoft.AlertsManagement/alerts"
    alert_id = f"{alerts}/ryw-{next(_serial)}"
    fired = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z"  # Azure's 7 digits
    essentials = {
        "alertId": alert_id,
        "alertRule": "ryw",
        "severity": "Sev2",
        "signalType": "Metric",
        "monitorCondition": "Fired",
        "monitoringService": "Platform",
        "alertTargetIDs": [f"/subscriptions/{AZURE_TENANT}/resourcegroups/rg/providers/x/y/vm"],
        "firedDateTime": fired,
    }
    body = {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": essentials}}
    response = httpx.post(
        f"{w.url}/v1/webhooks/azure/prod?token={AZURE_SECRET}", json=body, timeout=30
    )
    assert response.is_success, response.text
    events = w.get("/v1/events", params={"source": "azure", "limit": 500})["items"]
    assert any(e["event_key"].startswith(f"{alert_id.lower()}:") for e in events)


def held_window_change(w: World) -> int:
    """A pending window change as a source's sync holds it (no route makes one on demand)."""
    now = datetime.now(UTC)
    engine = create_engine(w.database_url)
    try:
        with engine.begin() as conn:
            window_id = conn.execute(
                insert(MaintenanceWindow)
                .values(
                    scope="all",
                    kind="maintenance",
                    description="held by the test",
                    start_at=now - timedelta(hours=2),
                    end_at=now + timedelta(hours=1),
                    timezone="UTC",
                    effective_from=now,
                    status="active",
                    external_ref=f"fake:rw:{next(_serial)}",
                    author="fake:rw",
                    created_at=now,
                    updated_at=now,
                )
                .returning(MaintenanceWindow.id)
            ).scalar_one()
            change_id = conn.execute(
                insert(WindowChange)
                .values(
                    kind="create",
                    status="pending",
                    window_id=window_id,
                    author="fake:rw",
                    past_start=now - timedelta(hours=2),
                    past_end=now,
                    detail={},
                    created_at=now,
                )
                .returning(WindowChange.id)
            ).scalar_one()
    finally:
        engine.dispose()
    return int(change_id)


def decide_window_change(decision: str) -> Callable[[World], None]:
    def case(w: World) -> None:
        change_id = held_window_change(w)
        w.ok("POST", f"/v1/window-changes/{change_id}/{decision}", json={"reason": "rw"})
        change = w.get(f"/v1/window-changes/{change_id}")
        assert change["status"] == f"{decision}ed"
        assert w.audited(f"window_change.{decision}", change["window_id"])

    return case


def provider_notice(w: World, kind: str = "maintenance") -> dict[str, Any]:
    """A new provider notice about a resource of its own; the notice as answered."""
    instance = f"i-{next(_serial)}"
    body = {
        "contract_id": w.contract(),
        "name": instance,
        "kind": "vm",
        "selectors": [{"aws.dimension.InstanceId": instance}],
    }
    w.ok("POST", "/v1/resources", json=body)
    start = datetime.now(UTC) + (
        timedelta(days=1) if kind == "maintenance" else -timedelta(hours=1)
    )
    notice = {
        "source": "aws",
        "instance": "prod",
        "event_id": f"arn:aws:health:ap-northeast-1::event/EC2/{instance}",
        "update_id": "u1",
        "kind": kind,
        "status": "scheduled" if kind == "maintenance" else "active",
        "title": {"en": "EC2 host maintenance"},
        "description": {"en": "The host is retired."},
        "services": ["EC2"],
        "regions": ["ap-northeast-1"],
        "affected_resources": [{"aws.dimension.InstanceId": instance}],
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
    }
    return dict(w.ok("POST", "/v1/provider-notices", "ingest", json=notice)["notice"])


def post_notice(w: World) -> None:
    notice = provider_notice(w)
    assert w.get(f"/v1/provider-notices/{notice['id']}")["id"] == notice["id"]


def confirm_impact(w: World) -> None:
    notice = provider_notice(w, kind="incident")
    reason = f"confirmed {next(_serial)}"
    path = f"/v1/provider-notices/{notice['id']}/confirm-impact"
    w.ok("POST", path, "operator", json={"reason": reason})
    assert w.get(f"/v1/provider-notices/{notice['id']}")["windows"] != []
    assert w.audited("provider_notice.confirm_impact", notice["id"])


def new_token(w: World) -> int:
    body = {"name": f"t{next(_serial)}", "role": "viewer"}
    return int(w.ok("POST", "/v1/tokens", json=body)["id"])


def post_token(w: World) -> None:
    token = new_token(w)
    assert token in [t["id"] for t in w.get("/v1/tokens")]


def revoke_token(w: World) -> None:
    token = new_token(w)
    w.ok("POST", f"/v1/tokens/{token}/revoke", json={"reason": "rotated"})
    (found,) = [t for t in w.get("/v1/tokens") if t["id"] == token]
    assert found["state"] == "revoked"
    assert w.audited("token.revoke", token)


create_ci, advance_ci = service_case("/v1/customer-incidents")
create_ops, advance_ops = service_case("/v1/operations-requests")


def close_month(w: World) -> None:
    """Close the month after the last closed one (months close in order), starting long
    enough ago that every round closes a month that has ended."""
    closed = w.get("/v1/audit", params={"target_type": "month", "limit": 100})["items"]
    last = max((entry["target_id"] for entry in closed), default=None)
    if last is None:
        month = "2020-01"
    else:
        year, number = (int(part) for part in last.split("-"))
        month = f"{year + number // 12:04d}-{number % 12 + 1:02d}"
    w.ok("POST", f"/v1/charges/{month}/close")
    assert w.get("/v1/charges", params={"month": month})["status"] == "closed"


def record_hours(w: World) -> None:
    contract = w.contract(professional_support=True)
    body = {"option": "professional_support", "month": "2026-10", "hours": 1.5, "note": "x"}
    w.ok("POST", f"/v1/contracts/{contract}/hours", "operator", json=body)
    listed = w.get(f"/v1/contracts/{contract}/hours", params={"month": "2026-10"})
    assert [entry["hours"] for entry in listed] == [1.5]


WRITE_CASES: dict[tuple[str, str], Callable[[World], None]] = {
    ("POST", "/v1/events"): post_event,
    ("POST", "/v1/events/{event_id}/retry"): retry_event,
    ("POST", "/v1/customers"): post_customer,
    ("PATCH", "/v1/customers/{customer_id}"): patch_customer,
    ("DELETE", "/v1/customers/{customer_id}"): delete_customer,
    ("POST", "/v1/contracts"): post_contract,
    ("PATCH", "/v1/contracts/{contract_id}"): patch_contract,
    ("DELETE", "/v1/contracts/{contract_id}"): delete_contract,
    ("POST", "/v1/resources"): post_resource,
    ("PATCH", "/v1/resources/{resource_id}"): patch_resource,
    ("DELETE", "/v1/resources/{resource_id}"): delete_resource,
    ("POST", "/v1/incidents/{incident_id}/contact"): contact,
    ("POST", "/v1/incidents/{incident_id}/report"): report,
    ("POST", "/v1/incidents/{incident_id}/resolve"): resolve,
    ("POST", "/v1/incidents/{incident_id}/notes"): note,
    ("POST", "/v1/alerts/{alert_id}/assign"): assign,
    ("POST", "/v1/incidents/{incident_id}/merge"): merge,
    ("POST", "/v1/alerts/{alert_id}/split"): split,
    ("POST", "/v1/maintenance-windows"): post_window,
    ("PATCH", "/v1/maintenance-windows/{window_id}"): patch_window,
    ("DELETE", "/v1/maintenance-windows/{window_id}"): delete_window,
    ("POST", "/v1/customer-incidents"): create_ci,
    ("POST", "/v1/customer-incidents/{request_id}/{step}"): advance_ci,
    ("POST", "/v1/operations-requests"): create_ops,
    ("POST", "/v1/operations-requests/{request_id}/{step}"): advance_ops,
    ("POST", "/v1/support-requests"): post_support,
    ("POST", "/v1/support-requests/{request_id}/reply"): reply_support,
    ("POST", "/v1/outbox/{message_id}/retry"): retry_outbox,
    ("POST", "/v1/webhooks/zabbix/{instance}"): zabbix_webhook,
    ("POST", "/v1/webhooks/aws/{instance}"): aws_webhook,
    ("POST", "/v1/webhooks/aws/{instance}/events"): aws_events_webhook,
    ("POST", "/v1/webhooks/gcp/{instance}"): gcp_webhook,
    ("POST", "/v1/webhooks/gcp/{instance}/pubsub"): gcp_pubsub_push,
    ("POST", "/v1/webhooks/azure/{instance}"): azure_webhook,
    ("POST", "/v1/provider-notices"): post_notice,
    ("POST", "/v1/provider-notices/{notice_id}/confirm-impact"): confirm_impact,
    ("POST", "/v1/charges/{month}/close"): close_month,
    ("POST", "/v1/contracts/{contract_id}/hours"): record_hours,
    ("POST", "/v1/tokens"): post_token,
    ("POST", "/v1/tokens/{token_id}/revoke"): revoke_token,
    ("POST", "/v1/window-changes/{change_id}/accept"): decide_window_change("accept"),
    ("POST", "/v1/window-changes/{change_id}/reject"): decide_window_change("reject"),
}
