"""Registry -> event -> incident -> contact -> report -> outcomes, through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.daemon.conftest import Api, event, seed_registry

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)


def clocks(body: dict) -> dict[str, dict]:
    return {c["name"]: c for c in body["clocks"]}


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def test_full_lifecycle_with_outcomes(api: Api) -> None:
    ids = seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=2))
    result = api.ok(api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest"))
    [row] = result["results"]
    assert row["status"] == "created"
    incident_id = row["incident_id"]

    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert body["resource_id"] == ids["resource"]
    assert body["detected_at"] == iso(T0), "detection is the source's instant, not receipt"
    assert body["received_at"] == iso(T0 + timedelta(minutes=2))
    contact = clocks(body)["contact"]
    assert contact["state"] == "running"
    assert contact["slo_due"] == iso(T0 + timedelta(minutes=30))
    assert contact["sla_due"] == iso(T0 + timedelta(hours=1))
    assert contact["slo_remaining_seconds"] == 28 * 60
    assert clocks(body)["report"]["state"] == "pending"
    assert [t["kind"] for t in body["timeline"]] == ["detected"]

    api.clock.set(T0 + timedelta(minutes=30))
    body = api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    contact, report = clocks(body)["contact"], clocks(body)["report"]
    assert contact["state"] == "stopped" and contact["outcome"] == "met", "exactly 30:00 meets"
    assert report["state"] == "running"
    assert report["slo_due"] == iso(T0 + timedelta(minutes=90))
    assert report["sla_due"] == iso(T0 + timedelta(minutes=210))

    api.clock.set(T0 + timedelta(minutes=150))
    body = api.ok(api.post(f"/v1/incidents/{incident_id}/report", {"note": "sent by mail"}))
    assert clocks(body)["report"]["outcome"] == "slo_breached"
    assert clocks(body)["report"]["counted_seconds"] == 120 * 60

    api.ok(
        api.post(
            "/v1/events?wait=true", event("e2", "recovery", T0 + timedelta(hours=3)), role="ingest"
        )
    )
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert body["status"] == "resolved"
    assert body["resolved_at"] == iso(T0 + timedelta(hours=3))
    assert [a["status"] for a in body["alerts"]] == ["resolved"]
    kinds = [t["kind"] for t in body["timeline"]]
    assert kinds == ["detected", "contacted", "reported", "alert_resolved", "resolved"]

    listed = api.ok(api.get("/v1/incidents", params={"status": "resolved"}))
    assert [i["id"] for i in listed["items"]] == [incident_id]
    assert api.ok(api.get("/v1/incidents", params={"status": "open"}))["items"] == []


def test_contact_after_sla_is_sla_breached_and_listed_as_breached(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    incident_id = api.ok(
        api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest")
    )["results"][0]["incident_id"]
    api.clock.set(T0 + timedelta(minutes=45))
    assert (
        api.ok(api.get("/v1/incidents", params={"breached": "true"}))["items"][0]["id"]
        == incident_id
    )
    api.clock.set(T0 + timedelta(hours=1, seconds=1))
    body = api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    assert clocks(body)["contact"]["outcome"] == "sla_breached"
    assert api.ok(api.get("/v1/incidents", params={"breached": "false"}))["items"] == []


def test_later_alert_of_same_problem_attaches_to_open_incident(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    first = api.ok(api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest"))
    repeat = api.ok(
        api.post(
            "/v1/events?wait=true",
            event("e1b", "problem", T0 + timedelta(minutes=1)),
            role="ingest",
        )
    )
    assert repeat["results"][0]["status"] == "repeated"
    assert repeat["results"][0]["incident_id"] == first["results"][0]["incident_id"]
    other = api.ok(
        api.post("/v1/events?wait=true", event("e3", "problem", T0, problem="p2"), role="ingest")
    )
    assert other["results"][0]["status"] == "attached", "another problem of the resource joins"
    assert other["results"][0]["incident_id"] == first["results"][0]["incident_id"]


def test_batch_ingest_and_update_events_reach_the_timeline(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=1))
    batch = {
        "events": [
            event("b1", "problem", T0),
            event("b2", "update", T0 + timedelta(seconds=30), title="acknowledged by ops"),
        ]
    }
    results = api.ok(api.post("/v1/events?wait=true", batch, role="ingest"))["results"]
    assert [r["status"] for r in results] == ["created", "updated"]
    body = api.ok(api.get(f"/v1/incidents/{results[0]['incident_id']}"))
    assert [t["kind"] for t in body["timeline"]] == ["detected", "source_update"]


def test_unassigned_alert_is_listed_and_assignment_keeps_detection(api: Api) -> None:
    ids = seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=10))
    result = api.ok(
        api.post(
            "/v1/events?wait=true", event("u1", "problem", T0, host="unknown-host"), role="ingest"
        )
    )["results"][0]
    assert result == {
        "event_key": "u1",
        "status": "unassigned",
        "alert_id": result["alert_id"],
        "incident_id": None,
    }
    queue = api.ok(api.get("/v1/alerts", params={"assignment": "unassigned"}))["items"]
    assert [a["id"] for a in queue] == [result["alert_id"]]

    assert (
        api.post(f"/v1/alerts/{result['alert_id']}/assign", {"resource_id": 999}).status_code == 422
    )
    body = api.ok(
        api.post(f"/v1/alerts/{result['alert_id']}/assign", {"resource_id": ids["resource"]})
    )
    assert body["detected_at"] == iso(T0)
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=30))
    assert api.ok(api.get("/v1/alerts", params={"assignment": "unassigned"}))["items"] == []
    audit = api.ok(api.get("/v1/audit", role="admin", params={"target_type": "alert"}))
    assert [a["action"] for a in audit["items"]] == ["alert.assign"]


def test_azure_resource_ids_match_case_insensitively(api: Api) -> None:
    ids = seed_registry(api)
    rid = "/subscriptions/0000/resourceGroups/RG1/providers/Microsoft.Compute/virtualMachines/VM1"
    api.ok(
        api.post(
            "/v1/resources",
            {
                "contract_id": ids["contract"],
                "name": "vm1",
                "kind": "vm",
                "selectors": [{"azure.resource_id": rid}],
            },
            role="admin",
        ),
        201,
    )
    api.clock.set(T0)
    body = event("az1", "problem", T0)
    body["resource_ids"] = {"azure.resource_id": rid.lower()}
    assert (
        api.ok(api.post("/v1/events?wait=true", body, role="ingest"))["results"][0]["status"]
        == "created"
    )


def test_backdated_contact_needs_reason_and_is_audited(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    incident_id = api.ok(
        api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest")
    )["results"][0]["incident_id"]
    api.clock.set(T0 + timedelta(hours=2))
    at = iso(T0 + timedelta(minutes=20))
    refused = api.post(f"/v1/incidents/{incident_id}/contact", {"at": at})
    assert refused.status_code == 422
    assert refused.json()["type"] == "urn:slad:problem:reason-required"
    future = api.post(f"/v1/incidents/{incident_id}/contact", {"at": iso(T0 + timedelta(hours=3))})
    assert future.status_code == 422
    assert future.json()["type"] == "urn:slad:problem:future-instant"
    before = api.post(
        f"/v1/incidents/{incident_id}/contact",
        {"at": iso(T0 - timedelta(minutes=1)), "reason": "typo"},
    )
    assert before.status_code == 422

    body = api.ok(
        api.post(
            f"/v1/incidents/{incident_id}/contact",
            {"at": at, "reason": "phoned the customer, logged late"},
        )
    )
    assert clocks(body)["contact"]["outcome"] == "met"
    assert body["contacted_at"] == at
    audit = api.ok(api.get("/v1/audit", role="admin", params={"target_type": "incident"}))["items"]
    assert audit[0]["action"] == "incident.contacted"
    assert audit[0]["reason"] == "phoned the customer, logged late"
    assert audit[0]["detail"]["backdated"] is True
    assert api.post(f"/v1/incidents/{incident_id}/contact", {}).status_code == 409


def test_report_before_contact_is_refused(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    incident_id = api.ok(
        api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest")
    )["results"][0]["incident_id"]
    response = api.post(f"/v1/incidents/{incident_id}/report", {})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


def test_policy_snapshot_is_not_rejudged_after_plan_change(api: Api) -> None:
    ids = seed_registry(api)
    api.clock.set(T0)
    old = api.ok(api.post("/v1/events?wait=true", event("e1", "problem", T0), role="ingest"))[
        "results"
    ][0]["incident_id"]
    api.ok(api.patch(f"/v1/contracts/{ids['contract']}", {"plan": "full_managed"}, role="admin"))
    body = api.ok(api.get(f"/v1/incidents/{old}"))
    assert body["plan"] == "standard"
    assert clocks(body)["contact"]["policy"]["slo"] == 30 * 60


def test_recovery_delivered_before_its_problem_resolves_the_incident_at_its_instant(
    api: Api,
) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=10))
    early = api.post(
        "/v1/events?wait=true", event("r1", "recovery", T0 + timedelta(minutes=5)), role="ingest"
    )
    assert api.ok(early)["results"][0]["status"] == "orphan"
    late = api.post("/v1/events?wait=true", event("p1", "problem", T0), role="ingest")
    incident = api.ok(api.get(f"/v1/incidents/{api.ok(late)['results'][0]['incident_id']}"))
    assert incident["status"] == "resolved"
    assert incident["resolved_at"] == iso(T0 + timedelta(minutes=5))


def test_stale_recovery_of_an_unseen_firing_does_not_resolve_a_later_problem(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(hours=2))
    stale = api.post("/v1/events?wait=true", event("r0", "recovery", T0), role="ingest")
    assert api.ok(stale)["results"][0]["status"] == "orphan"
    problem = api.post(
        "/v1/events?wait=true", event("p1", "problem", T0 + timedelta(hours=1)), role="ingest"
    )
    incident_id = api.ok(problem)["results"][0]["incident_id"]
    incident = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert incident["status"] == "open", "a recovery older than the problem ends another firing"
    assert incident["resolved_at"] is None
    owed = api.ok(api.get("/v1/incidents", params={"owed": "true"}))["items"]
    assert [i["id"] for i in owed] == [incident_id]
