"""Roles, bad input, redelivery and concurrency: nothing wrong gets in, nothing right is lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select

from daemon.store.models import AlertEventRecord, AuditEntry, Customer, Incident
from tests.daemon.conftest import Api, ApiFactory, event, seed_registry

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)


def counts(api: Api) -> tuple[int, ...]:
    with api.services.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Customer, Incident, AlertEventRecord, AuditEntry)
        )


def test_probes_need_no_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}


def test_missing_or_unknown_token_is_401(api: Api) -> None:
    response = api.client.get("/v1/incidents")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "urn:slad:problem:unauthorized"
    bad = api.client.get("/v1/incidents", headers={"Authorization": "Bearer slad_nope"})
    assert bad.status_code == 401


def test_each_role_is_held_to_its_permissions(api: Api) -> None:
    seed = seed_registry(api)
    api.clock.set(T0)
    incident = api.ok(api.post("/v1/events?wait=true", event("r1", "problem", T0), role="ingest"))[
        "results"
    ][0]["incident_id"]
    forbidden = [
        ("viewer", "post", f"/v1/incidents/{incident}/contact", {}),
        ("viewer", "post", "/v1/maintenance-windows", {}),
        ("viewer", "get", "/v1/audit", None),
        ("operator", "post", "/v1/customers", {"name": "x"}),
        ("operator", "get", "/v1/audit", None),
        ("operator", "post", "/v1/events?wait=true", event("r2", "problem", T0)),
        ("ingest", "get", "/v1/incidents", None),
        ("ingest", "post", f"/v1/incidents/{incident}/contact", {}),
        ("viewer", "patch", f"/v1/contracts/{seed['contract']}", {"plan": "basic"}),
    ]
    before = counts(api)
    for role, method, path, body in forbidden:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(api.client, method)(path, headers=api.headers(role), **kwargs)
        assert response.status_code == 403, (role, method, path, response.text)
        assert response.json()["type"] == "urn:slad:problem:forbidden"
    assert counts(api) == before
    assert api.get("/v1/incidents", role="viewer").status_code == 200
    assert api.get("/v1/audit", role="admin").status_code == 200
    assert (
        api.post("/v1/events?wait=true", event("r3", "problem", T0), role="admin").status_code
        == 200
    )


def test_oversized_body_is_413_and_changes_nothing(api: Api) -> None:
    seed_registry(api)
    before = counts(api)
    limit = api.services.config.server.max_body_bytes
    huge = event("big", "problem", T0, raw={"blob": "x" * (limit + 10)})
    response = api.post("/v1/events?wait=true", huge, role="ingest")
    assert response.status_code == 413
    assert response.json()["type"] == "urn:slad:problem:payload-too-large"

    def chunks():  # no Content-Length: the limit must hold on a streamed body too
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000

    streamed = api.client.post(
        "/v1/events?wait=true",
        content=chunks(),
        headers={**api.headers("ingest"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    too_many = {"events": [event(f"k{i}", "problem", T0) for i in range(1001)]}
    assert api.post("/v1/events?wait=true", too_many, role="ingest").status_code == 413
    assert counts(api) == before


def test_malformed_input_is_422_and_changes_nothing(api: Api) -> None:
    seed_registry(api)
    before = counts(api)
    bad_bodies = [
        b"{not json",
        b'{"event_key": "x"}',
        b'{"event_key": "x", "problem_key": "p", "kind": "problem",'
        b' "detected_at": "2026-11-24T10:00:00"}',
        b'{"event_key": "x", "problem_key": "p", "kind": "exploded",'
        b' "detected_at": "2026-11-24T10:00:00Z"}',
        b'{"events": []}',
    ]
    for raw in bad_bodies:
        response = api.client.post(
            "/v1/events?wait=true",
            content=raw,
            headers={**api.headers("ingest"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, raw
        assert response.json()["type"] == "urn:slad:problem:validation-error"
    assert api.post("/v1/customers", {"name": ""}, role="admin").status_code == 422
    assert (
        api.post("/v1/customers", {"name": "a", "colour": "red"}, role="admin").status_code == 422
    )
    assert (
        api.post(
            "/v1/contracts",
            {"customer_id": 1, "plan": "platinum", "billing_start": "2026-01-01"},
            role="admin",
        ).status_code
        == 422
    )
    assert counts(api) == before


def test_redelivery_changes_nothing(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    first = api.ok(api.post("/v1/events?wait=true", event("d1", "problem", T0), role="ingest"))
    before = counts(api)
    again = api.ok(api.post("/v1/events?wait=true", event("d1", "problem", T0), role="ingest"))
    assert again["results"][0]["status"] == "duplicate"
    assert counts(api) == before
    assert first["results"][0]["status"] == "created"


def test_concurrent_duplicates_make_one_incident_and_no_5xx(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)

    def send(i: int) -> tuple[int, str]:
        response = api.post("/v1/events?wait=true", event("same", "problem", T0), role="ingest")
        return response.status_code, response.json()["results"][0]["status"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(send, range(24)))
    assert {code for code, _ in outcomes} == {200}
    statuses = sorted(status for _, status in outcomes)
    assert statuses.count("created") == 1
    assert statuses.count("duplicate") == 23
    with api.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_concurrent_distinct_events_of_one_problem_share_one_incident(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)

    def send(i: int) -> int:
        return int(
            api.post(
                "/v1/events?wait=true", event(f"ev{i}", "problem", T0), role="ingest"
            ).status_code
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(send, range(16))) == {200}
    with api.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        assert session.scalar(select(func.count()).select_from(AlertEventRecord)) == 16


def test_basic_plan_refuses_customer_incidents_and_operations_requests(api: Api) -> None:
    basic = seed_registry(api, plan="basic")
    standard = seed_registry(api, plan="standard")
    api.clock.set(T0)
    before = counts(api)
    for path in ("/v1/customer-incidents", "/v1/operations-requests"):
        refused = api.post(
            path, {"contract_id": basic["contract"], "channel": "phone", "subject": "server down"}
        )
        assert refused.status_code == 422
        body = refused.json()
        assert body["type"] == "urn:slad:problem:plan-not-eligible"
        assert body["plan"] == "basic" and "basic" in body["detail"]
    assert counts(api) == before
    for path in ("/v1/customer-incidents", "/v1/operations-requests"):
        created = api.ok(
            api.post(
                path,
                {
                    "contract_id": standard["contract"],
                    "channel": "email",
                    "subject": "please restart",
                },
            ),
            201,
        )
        assert created["status"] == "open"
        assert created["received_at"] == api.clock.now.isoformat().replace("+00:00", "Z")
        api.clock.advance(minutes=5)
        done = api.ok(api.post(f"{path}/{created['id']}/complete", {}))
        assert done["status"] == "completed"
        assert done["completed_at"] == (api.clock.now.isoformat().replace("+00:00", "Z"))


def test_registry_crud_is_audited(api: Api) -> None:
    ids = seed_registry(api)
    renamed = api.ok(api.patch(f"/v1/customers/{ids['customer']}", {"locale": "en"}, role="admin"))
    assert renamed["locale"] == "en"
    contract = api.ok(api.get(f"/v1/contracts/{ids['contract']}"))
    assert contract["minimum_term_end"] == "2027-03-31"
    assert api.delete(f"/v1/customers/{ids['customer']}", role="admin").status_code == 409
    api.ok(
        api.patch(
            f"/v1/resources/{ids['resource']}",
            {"selectors": [{"zabbix.host": "web01-new"}]},
            role="admin",
        )
    )
    assert api.ok(api.get(f"/v1/resources/{ids['resource']}"))["selectors"] == [
        {"zabbix.host": "web01-new"}
    ]
    actions = [a["action"] for a in api.ok(api.get("/v1/audit", role="admin"))["items"]]
    assert actions[:2] == ["resource.update", "customer.update"]
    assert api.get("/v1/customers/9999").status_code == 404
    assert api.delete(f"/v1/resources/{ids['resource']}", role="admin").status_code == 204
    assert api.get(f"/v1/resources/{ids['resource']}").status_code == 404


def test_duplicates_racing_through_two_replicas_make_one_incident(api_factory: ApiFactory) -> None:
    first, second = api_factory(), api_factory()
    seed_registry(first)
    first.clock.set(T0)

    def send(i: int) -> tuple[int, str]:
        replica = first if i % 2 else second
        response = replica.post(
            "/v1/events?wait=true", event("raced", "problem", T0), role="ingest"
        )
        return response.status_code, response.json()["results"][0]["status"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(send, range(20)))
    assert {code for code, _ in outcomes} == {200}
    assert sorted(status for _, status in outcomes).count("created") == 1
    with first.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
