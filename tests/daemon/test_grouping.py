"""One incident per failure of a resource: grouping, re-opening, merge and split, and
untrusted future detections, through HTTP on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sla_engine.policy import DEFAULT_PLANS, apply_overrides
from tests.daemon.conftest import Api, ApiFactory, event, seed_registry

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def clocks(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["clocks"]}


def due(base: datetime, slo_minutes: int, sla_minutes: int) -> list[str | None]:
    """A clock's due instants and (no) outcome as a recompute's before/after shows them."""
    return [
        (base + timedelta(minutes=slo_minutes)).isoformat(),
        (base + timedelta(minutes=sla_minutes)).isoformat(),
        None,
    ]


def kinds(body: dict[str, Any]) -> list[str]:
    return [t["kind"] for t in body["timeline"]]


def send(api: Api, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """Post `events` and wait for their outcomes."""
    body = {"events": list(events)}
    return api.ok(api.post("/v1/events?wait=true", body, role="ingest"))["results"]


def incident(api: Api, incident_id: int) -> dict[str, Any]:
    return api.ok(api.get(f"/v1/incidents/{incident_id}"))


def audit_of(api: Api, target_type: str, target_id: int) -> list[dict[str, Any]]:
    params = {"target_type": target_type, "target_id": str(target_id)}
    return api.ok(api.get("/v1/audit", role="admin", params=params))["items"]


@pytest.fixture
def per_problem(api_factory: ApiFactory) -> Api:
    """The standard plan grouping per problem (`group_by = "problem"`)."""
    plans = apply_overrides(DEFAULT_PLANS, {"standard": {"group_by": "problem"}})
    return api_factory(plans=plans)


def test_another_problem_of_the_resource_joins_its_open_incident(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=12))
    first, other = send(
        api,
        event("a1", "problem", T0, problem="cpu"),
        event("a2", "problem", T0 + timedelta(minutes=10), problem="disk"),
    )
    assert (first["status"], other["status"]) == ("created", "attached")
    assert other["incident_id"] == first["incident_id"]
    body = incident(api, first["incident_id"])
    assert [a["problem_key"] for a in body["alerts"]] == ["generic:cpu", "generic:disk"]
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=30))
    assert kinds(body) == ["detected", "alert_attached"]
    listed = api.ok(api.get("/v1/incidents"))["items"]
    assert [i["id"] for i in listed] == [first["incident_id"]], "one failure, one incident"


def test_a_refire_within_reopen_minutes_reopens_with_its_first_detection(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=1))
    [opened] = send(api, event("f1", "problem", T0, problem="cpu"))
    incident_id = opened["incident_id"]
    api.clock.set(T0 + timedelta(minutes=4))
    api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    send(api, event("f1r", "recovery", T0 + timedelta(minutes=5), problem="cpu"))
    assert incident(api, incident_id)["status"] == "resolved"

    api.clock.set(T0 + timedelta(minutes=35))
    [again] = send(api, event("f2", "problem", T0 + timedelta(minutes=34), problem="disk"))
    assert again["status"] == "reopened" and again["incident_id"] == incident_id
    body = incident(api, incident_id)
    assert body["status"] == "open" and body["resolved_at"] is None
    assert body["detected_at"] == iso(T0), "the failure keeps its first detection"
    contact = clocks(body)["contact"]
    assert contact["state"] == "stopped" and contact["outcome"] == "met", "contacted once"
    assert clocks(body)["report"]["slo_due"] == iso(T0 + timedelta(minutes=64))
    assert kinds(body)[-2:] == ["reopened", "alert_attached"]
    reopened = body["timeline"][-2]
    assert reopened["detail"]["resolved_at"] == T0.replace(minute=55).isoformat()
    assert len(api.ok(api.get("/v1/incidents"))["items"]) == 1


def test_a_refire_after_reopen_minutes_is_a_new_failure(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=1))
    [opened] = send(
        api,
        event("g1", "problem", T0, problem="cpu"),
        event("g1r", "recovery", T0 + timedelta(minutes=5), problem="cpu"),
    )[:1]
    api.clock.set(T0 + timedelta(minutes=36))
    [later] = send(api, event("g2", "problem", T0 + timedelta(minutes=35), problem="cpu"))
    assert later["status"] == "created" and later["incident_id"] != opened["incident_id"]
    body = incident(api, later["incident_id"])
    assert body["detected_at"] == iso(T0 + timedelta(minutes=35))


def test_a_plan_grouping_per_problem_keeps_one_incident_per_problem(per_problem: Api) -> None:
    api = per_problem
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=12))
    cpu, disk, recovered = send(
        api,
        event("p1", "problem", T0, problem="cpu"),
        event("p2", "problem", T0 + timedelta(minutes=1), problem="disk"),
        event("p1r", "recovery", T0 + timedelta(minutes=2), problem="cpu"),
    )
    assert (cpu["status"], disk["status"]) == ("created", "created")
    assert cpu["incident_id"] != disk["incident_id"]
    [refire] = send(api, event("p3", "problem", T0 + timedelta(minutes=3), problem="cpu"))
    assert refire["status"] == "created", "per problem, a resolved incident never re-opens"
    assert refire["incident_id"] not in (cpu["incident_id"], disk["incident_id"])
    assert recovered["status"] == "resolved"


def test_merge_keeps_the_earlier_detection_and_the_recorded_contact(per_problem: Api) -> None:
    api = per_problem
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=12))
    early, late = send(
        api,
        event("m1", "problem", T0, problem="cpu"),
        event("m2", "problem", T0 + timedelta(minutes=10), problem="disk"),
    )
    api.clock.set(T0 + timedelta(minutes=15))
    api.ok(api.post(f"/v1/incidents/{late['incident_id']}/contact", {}))
    api.clock.set(T0 + timedelta(minutes=20))
    merged = api.ok(
        api.post(
            f"/v1/incidents/{late['incident_id']}/merge",
            {"incident_id": early["incident_id"], "reason": "one power failure"},
        )
    )
    assert merged["id"] == early["incident_id"], "the earlier detection stands"
    assert merged["detected_at"] == iso(T0)
    assert merged["contacted_at"] == iso(T0 + timedelta(minutes=15))
    assert sorted(a["id"] for a in merged["alerts"]) == sorted(
        [early["alert_id"], late["alert_id"]]
    )
    contact, report = clocks(merged)["contact"], clocks(merged)["report"]
    assert contact["outcome"] == "met" and report["state"] == "running"
    assert kinds(merged)[-2:] == ["merged", "clocks_recomputed"]
    recomputed = merged["timeline"][-1]["detail"]
    assert recomputed["reason"] == "one power failure"
    assert recomputed["before"]["contact"][2] is None and recomputed["after"]["contact"][2] == "met"

    gone = incident(api, late["incident_id"])
    assert gone["status"] == "merged" and gone["merged_into_id"] == early["incident_id"]
    assert gone["clocks"] == [] and gone["alerts"] == []
    assert kinds(gone)[-1] == "merged_into"
    [entry] = audit_of(api, "incident", early["incident_id"])
    assert entry["action"] == "incident.merge" and entry["reason"] == "one power failure"
    assert entry["detail"]["merged_incident_id"] == late["incident_id"]
    assert [
        i["id"] for i in api.ok(api.get("/v1/incidents", params={"status": "open"}))["items"]
    ] == [early["incident_id"]]
    # The merged alert's recovery resolves the incident that stands, with the other's.
    send(
        api,
        event("m1r", "recovery", T0 + timedelta(minutes=21), problem="cpu"),
        event("m2r", "recovery", T0 + timedelta(minutes=22), problem="disk"),
    )
    assert incident(api, early["incident_id"])["status"] == "resolved"


def test_split_gives_an_alert_its_own_detection_and_recomputes_the_rest(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=12))
    first, second = send(
        api,
        event("s1", "problem", T0, problem="cpu"),
        event("s2", "problem", T0 + timedelta(minutes=10), problem="disk"),
    )
    incident_id = first["incident_id"]
    api.clock.set(T0 + timedelta(minutes=14))
    own = api.ok(
        api.post(f"/v1/alerts/{first['alert_id']}/split", {"reason": "unrelated cpu spike"})
    )
    assert own["id"] != incident_id and own["status"] == "open"
    assert own["detected_at"] == iso(T0)
    assert [a["id"] for a in own["alerts"]] == [first["alert_id"]]
    assert clocks(own)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=30))
    assert kinds(own) == ["detected"] and own["timeline"][0]["detail"]["split_from"] == incident_id

    rest = incident(api, incident_id)
    assert rest["detected_at"] == iso(T0 + timedelta(minutes=10))
    assert [a["id"] for a in rest["alerts"]] == [second["alert_id"]]
    assert clocks(rest)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=40))
    assert kinds(rest)[-2:] == ["alert_split", "clocks_recomputed"]
    [entry] = audit_of(api, "alert", first["alert_id"])
    assert entry["action"] == "alert.split" and entry["reason"] == "unrelated cpu spike"
    pending = [None, None, None]
    assert entry["detail"] == {
        "from_incident_id": incident_id,
        "incident_id": own["id"],
        "clocks_before": {"contact": due(T0, 30, 60), "report": pending},
        "clocks_after": {"contact": due(T0, 40, 70), "report": pending},
    }
    # The split-out alert's recovery resolves its own incident only.
    send(api, event("s1r", "recovery", T0 + timedelta(minutes=15), problem="cpu"))
    assert incident(api, own["id"])["status"] == "resolved"
    assert incident(api, incident_id)["status"] == "open"
    # A new alert of the resource joins the incident of the resource, not the split one.
    api.clock.set(T0 + timedelta(minutes=16))
    [joined] = send(api, event("s3", "problem", T0 + timedelta(minutes=16), problem="mem"))
    assert joined["status"] == "attached" and joined["incident_id"] == incident_id


def test_regrouping_refusals_change_nothing(api: Api) -> None:
    seed_registry(api)
    customer = api.ok(api.post("/v1/customers", {"name": "other"}, role="admin"), 201)
    contract = {"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-04-01"}
    other = api.ok(api.post("/v1/contracts", contract, role="admin"), 201)
    resource = {
        "contract_id": other["id"],
        "name": "db01",
        "kind": "vm",
        "selectors": [{"zabbix.host": "db01"}],
    }
    api.ok(api.post("/v1/resources", resource, role="admin"), 201)
    api.clock.set(T0 + timedelta(minutes=1))
    [mine] = send(api, event("r1", "problem", T0))
    [foreign] = send(api, event("r3", "problem", T0, host="db01", problem="db"))
    cases = [
        (
            f"/v1/incidents/{mine['incident_id']}/merge",
            {"incident_id": mine["incident_id"], "reason": "x"},
            422,
            "merge-self",
            "operator",
        ),
        (
            f"/v1/incidents/{mine['incident_id']}/merge",
            {"incident_id": foreign["incident_id"], "reason": "x"},
            422,
            "different-contract",
            "operator",
        ),
        (
            f"/v1/incidents/{mine['incident_id']}/merge",
            {"incident_id": foreign["incident_id"]},
            422,
            "validation-error",
            "operator",
        ),
        (
            f"/v1/incidents/{mine['incident_id']}/merge",
            {"incident_id": 999999, "reason": "x"},
            422,
            "unknown-incident",
            "operator",
        ),
        (f"/v1/alerts/{foreign['alert_id']}/split", {"reason": "x"}, 409, "only-alert", "operator"),
        (f"/v1/alerts/{mine['alert_id']}/split", {"reason": "x"}, 403, "forbidden", "viewer"),
    ]
    before = [incident(api, i) for i in (mine["incident_id"], foreign["incident_id"])]
    for path, body, status, kind, role in cases:
        response = api.post(path, body, role=role)
        assert response.status_code == status, (path, response.text)
        assert response.json()["type"] == f"urn:slad:problem:{kind}", response.text
    after = [incident(api, i) for i in (mine["incident_id"], foreign["incident_id"])]
    assert after == before
    assert audit_of(api, "incident", mine["incident_id"]) == []


def test_a_future_detection_starts_the_clock_at_receipt(api: Api) -> None:
    seed_registry(api)
    received = T0 + timedelta(minutes=1)
    api.clock.set(received)
    claimed = received + timedelta(seconds=301)
    [row] = send(api, event("z1", "problem", claimed, problem="cpu"))
    body = incident(api, row["incident_id"])
    assert body["detected_at"] == iso(received) and body["detected_at_estimated"] is True
    assert body["alerts"][0]["detected_at"] == iso(received)
    detected = body["timeline"][0]
    assert detected["detail"]["source_detected_at"] == claimed.isoformat()
    assert "max_clock_skew_seconds" in detected["detail"]["estimated_because"]
    assert clocks(body)["contact"]["slo_due"] == iso(received + timedelta(minutes=30))
    api.clock.set(received + timedelta(minutes=2))
    contacted = api.ok(api.post(f"/v1/incidents/{row['incident_id']}/contact", {}))
    assert clocks(contacted)["contact"]["outcome"] == "met", "contact can be recorded"


def test_a_detection_within_the_skew_is_trusted(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    claimed = T0 + timedelta(seconds=300)
    [row] = send(api, event("z2", "problem", claimed))
    body = incident(api, row["incident_id"])
    assert body["detected_at"] == iso(claimed) and body["detected_at_estimated"] is False
    assert "estimated_because" not in body["timeline"][0]["detail"]
