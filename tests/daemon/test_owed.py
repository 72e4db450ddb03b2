"""Owed work over REST: incidents that still owe a contact or report, by what falls due next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.daemon.conftest import Api, event, seed_registry
from tests.daemon.test_incident_flow import iso

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def add_resource(api: Api, contract_id: int, host: str) -> int:
    body = {"contract_id": contract_id, "name": host, "kind": "vm"}
    body["selectors"] = [{"zabbix.host": host}]  # type: ignore[assignment]
    return int(api.ok(api.post("/v1/resources", body, role="admin"), 201)["id"])


def detect(api: Api, host: str, at: datetime) -> int:
    api.clock.set(max(api.clock.now, at))
    result = api.ok(
        api.post(
            "/v1/events?wait=true",
            event(f"{host}-p", "problem", at, problem=host, host=host),
            role="ingest",
        )
    )
    return int(result["results"][0]["incident_id"])


def owed_world(api: Api) -> dict[str, int]:
    """Four incidents at T0 + 1 min: one fresh, one recovered but owing, one done, one overdue."""
    ids = seed_registry(api)
    for host in ("web02", "web03", "web04"):
        add_resource(api, ids["contract"], host)
    api.clock.set(T0 - timedelta(minutes=70))
    overdue = detect(api, "web04", T0 - timedelta(minutes=70))
    recovered = detect(api, "web02", T0 - timedelta(minutes=20))
    done = detect(api, "web03", T0 - timedelta(minutes=10))
    api.clock.set(T0 - timedelta(minutes=5))
    api.ok(
        api.post(
            "/v1/events?wait=true",
            event("web02-r", "recovery", T0 - timedelta(minutes=5), problem="web02", host="web02"),
            role="ingest",
        )
    )
    api.ok(api.post(f"/v1/incidents/{done}/contact", {}))
    api.ok(api.post(f"/v1/incidents/{done}/report", {}))
    fresh = detect(api, "web01", T0)
    api.clock.set(T0 + timedelta(minutes=1))
    return {"overdue": overdue, "recovered": recovered, "done": done, "fresh": fresh}


def listed(api: Api, **params: str) -> list[dict]:
    return list(api.ok(api.get("/v1/incidents", params=params))["items"])


def test_owed_incidents_sorted_by_next_due_whatever_their_status(api: Api) -> None:
    world = owed_world(api)
    rows = listed(api, owed="true", sort="next_due")
    assert [r["id"] for r in rows] == [world["overdue"], world["recovered"], world["fresh"]]
    overdue, recovered, fresh = rows
    assert recovered["status"] == "resolved" and recovered["owed"] is True
    assert recovered["next_due"] == {
        "clock": "contact",
        "target": "slo",
        "at": iso(T0 + timedelta(minutes=10)),
        "seconds_left": 9 * 60.0,
    }
    assert overdue["next_due"]["target"] == "sla"
    assert overdue["next_due"]["seconds_left"] == -11 * 60.0, "overdue reads negative"
    assert fresh["next_due"]["at"] == iso(T0 + timedelta(minutes=30))

    [done] = listed(api, owed="false")
    assert done["id"] == world["done"] and done["owed"] is False and done["next_due"] is None
    assert [r["id"] for r in listed(api, status="open", owed="true")] == sorted(
        [world["overdue"], world["fresh"]], reverse=True
    ), "the recovered incident is not open, but still owed"


def test_due_before_and_pages_by_next_due(api: Api) -> None:
    world = owed_world(api)
    soon = listed(api, sort="next_due", due_before=iso(T0 + timedelta(minutes=15)))
    assert [r["id"] for r in soon] == [world["overdue"], world["recovered"]]

    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"sort": "next_due", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = api.ok(api.get("/v1/incidents", params=params))
        seen.extend(r["id"] for r in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [world["overdue"], world["recovered"], world["fresh"], world["done"]]


def test_report_clock_owes_after_contact_and_bad_filters_are_refused(api: Api) -> None:
    world = owed_world(api)
    body = api.ok(api.post(f"/v1/incidents/{world['fresh']}/contact", {}))
    assert body["owed"] is True
    assert body["next_due"]["clock"] == "report"
    assert body["next_due"]["at"] == iso(T0 + timedelta(minutes=61))

    naive = api.get("/v1/incidents", params={"due_before": "2026-11-24T01:00:00"})
    assert naive.status_code == 422 and "due_before" in naive.text
    assert api.get("/v1/incidents", params={"sort": "soonest"}).status_code == 422
    bad = api.get("/v1/incidents", params={"sort": "next_due", "cursor": "bm9wZQ=="})
    assert bad.status_code == 422
