"""Maintenance windows move due instants, are audited, and recompute the clocks they touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.daemon.conftest import Api, ApiFactory, event, seed_registry
from tests.daemon.test_enforcement import LITERAL_FAULTS
from tests.daemon.test_incident_flow import clocks, iso

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)


def open_incident(api: Api, detected: datetime = T0) -> int:
    api.clock.set(detected + timedelta(minutes=1))
    result = api.ok(
        api.post("/v1/events?wait=true", event("w1", "problem", detected), role="ingest")
    )
    return int(result["results"][0]["incident_id"])


def test_planned_window_moves_running_due_instants(api: Api) -> None:
    ids = seed_registry(api)
    incident_id = open_incident(api)
    window = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "resource",
                "scope_ref": ids["resource"],
                "kind": "maintenance",
                "description": "kernel update",
                "start": iso(T0 + timedelta(minutes=10)),
                "end": iso(T0 + timedelta(minutes=30)),
            },
        ),
        201,
    )
    assert window["incidents_recomputed"] == 1
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=50))
    assert clocks(body)["contact"]["sla_due"] == iso(T0 + timedelta(minutes=80))
    recomputed = [t for t in body["timeline"] if t["kind"] == "clocks_recomputed"]
    assert recomputed[0]["detail"]["window_id"] == window["id"]
    assert recomputed[0]["detail"]["action"] == "window.create"

    api.clock.set(T0 + timedelta(minutes=20))
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["state"] == "paused"

    assert api.delete(f"/v1/maintenance-windows/{window['id']}").status_code == 422
    api.ok(
        api.delete(
            f"/v1/maintenance-windows/{window['id']}",
            params={"reason": "work was cancelled"},
        )
    )
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=30))


def test_detection_inside_window_counts_from_its_end(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 - timedelta(hours=1))
    api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "all",
                "start": iso(T0 - timedelta(minutes=10)),
                "end": iso(T0 + timedelta(minutes=15)),
            },
        ),
        201,
    )
    incident_id = open_incident(api)
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=45))


def test_window_covering_the_past_needs_a_reason_and_rejudges(api_factory: ApiFactory) -> None:
    api = api_factory(sla=LITERAL_FAULTS)  # every fault excludes time from every clock
    seed_registry(api)
    incident_id = open_incident(api)
    api.clock.set(T0 + timedelta(minutes=40))
    api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    assert (
        clocks(api.ok(api.get(f"/v1/incidents/{incident_id}")))["contact"]["outcome"]
        == "slo_breached"
    )
    past = {
        "scope": "source",
        "source": "generic",
        "kind": "monitoring_fault",
        "start": iso(T0),
        "end": iso(T0 + timedelta(minutes=15)),
    }
    refused = api.post("/v1/maintenance-windows", past)
    assert refused.status_code == 422
    assert refused.json()["type"] == "urn:slad:problem:reason-required"
    assert api.ok(api.get("/v1/maintenance-windows")) == []

    api.ok(
        api.post(
            "/v1/maintenance-windows",
            {**past, "reason": "collector was down, see ticket 42"},
        ),
        201,
    )
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["outcome"] == "met"
    assert clocks(body)["contact"]["counted_seconds"] == 25 * 60
    audit = api.ok(api.get("/v1/audit", role="admin", params={"target_type": "window"}))
    assert audit["items"][0]["reason"] == "collector was down, see ticket 42"
    assert audit["items"][0]["detail"]["covers_past"] is True


def test_recurring_sunday_window_in_tokyo(api: Api) -> None:
    seed_registry(api)
    api.clock.set(datetime(2026, 10, 31, tzinfo=UTC))
    window = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "all",
                "rrule": "FREQ=WEEKLY;BYDAY=SU",
                "duration_minutes": 120,
                "start": "2026-11-01T02:00:00+09:00",
                "timezone": "Asia/Tokyo",
            },
        ),
        201,
    )
    assert window["rrule"] == "FREQ=WEEKLY;BYDAY=SU"
    detected = datetime(2026, 11, 29, 1, 50, tzinfo=UTC) - timedelta(hours=9)  # Sun 01:50 JST
    incident_id = open_incident(api, detected)
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    # 10 minutes count before 02:00 JST, the window excludes 02:00-04:00, 20 more after.
    assert clocks(body)["contact"]["slo_due"] == "2026-11-28T19:20:00Z"


def test_window_scoped_elsewhere_does_not_touch_the_incident(api: Api) -> None:
    seed_registry(api)
    other = seed_registry(api, plan="full_managed")
    incident_id = open_incident(api)
    created = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "customer",
                "scope_ref": other["customer"],
                "start": iso(T0 + timedelta(minutes=5)),
                "end": iso(T0 + timedelta(minutes=25)),
            },
        ),
        201,
    )
    assert created["incidents_recomputed"] == 0
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=30))


def test_bad_windows_are_refused_and_store_nothing(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    cases = [
        {
            "scope": "all",
            "start": iso(T0 + timedelta(hours=2)),
            "end": iso(T0 + timedelta(hours=1)),
        },
        {"scope": "all", "start": iso(T0 + timedelta(hours=1))},
        {
            "scope": "resource",
            "scope_ref": 999,
            "start": iso(T0 + timedelta(hours=1)),
            "end": iso(T0 + timedelta(hours=2)),
        },
        {
            "scope": "all",
            "rrule": "FREQ=SOMETIMES",
            "duration_minutes": 60,
            "start": iso(T0 + timedelta(hours=1)),
        },
        {"scope": "all", "start": "2026-11-24T10:00:00", "end": "2026-11-24T11:00:00"},
        {"scope": "galaxy", "start": iso(T0), "end": iso(T0 + timedelta(hours=1))},
    ]
    for case in cases:
        response = api.post("/v1/maintenance-windows", case)
        assert response.status_code == 422, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert api.ok(api.get("/v1/maintenance-windows")) == []


def test_monitoring_fault_can_be_reviewed_and_rejected(api_factory: ApiFactory) -> None:
    api = api_factory(sla=LITERAL_FAULTS)  # every fault excludes time from every clock
    seed_registry(api)
    incident_id = open_incident(api)
    fault = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "source",
                "source": "generic",
                "kind": "monitoring_fault",
                "start": iso(T0 + timedelta(minutes=5)),
            },
        ),
        201,
    )
    assert fault["end"] is None
    api.clock.set(T0 + timedelta(minutes=20))
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["state"] == "paused"
    assert (clocks(body)["contact"]["slo_due"], clocks(body)["contact"]["sla_due"]) == (None, None)
    rejected = api.ok(
        api.patch(
            f"/v1/maintenance-windows/{fault['id']}",
            {"status": "rejected", "reason": "not a real fault"},
        )
    )
    assert rejected["status"] == "rejected"
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["state"] == "running"
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=30))


def test_shortening_a_window_rejudges_what_its_old_span_covered(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 - timedelta(hours=1))
    window = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "all",
                "start": iso(T0 - timedelta(minutes=10)),
                "end": iso(T0 + timedelta(minutes=30)),
            },
        ),
        201,
    )
    detected = T0 + timedelta(minutes=5)
    incident_id = open_incident(api, detected)
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["slo_due"] == iso(T0 + timedelta(minutes=60))

    # The work ended before the alert: the window no longer covers the incident at all.
    shortened = api.ok(
        api.patch(
            f"/v1/maintenance-windows/{window['id']}",
            {"end": iso(T0), "reason": "the work ended early"},
        )
    )
    assert shortened["incidents_recomputed"] == 1
    body = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    assert clocks(body)["contact"]["slo_due"] == iso(detected + timedelta(minutes=30))
    [recomputed] = [t for t in body["timeline"] if t["kind"] == "clocks_recomputed"]
    assert recomputed["detail"]["window_id"] == window["id"]
    assert recomputed["detail"]["reason"] == "the work ended early"


def test_refused_edit_leaves_the_window_as_it_was(api: Api) -> None:
    api.clock.set(T0)
    window = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "all",
                "start": iso(T0 + timedelta(hours=1)),
                "end": iso(T0 + timedelta(hours=2)),
            },
        ),
        201,
    )
    refused = api.patch(
        f"/v1/maintenance-windows/{window['id']}", {"end": iso(T0 + timedelta(minutes=30))}
    )
    assert refused.status_code == 422
    assert api.ok(api.get(f"/v1/maintenance-windows/{window['id']}")) == window | {
        "incidents_recomputed": None
    }


def test_windows_are_filtered_by_scope_ref_kind_and_active_at(api: Api) -> None:
    ids = seed_registry(api)
    api.clock.set(T0)
    later = {"start": iso(T0 + timedelta(hours=1)), "end": iso(T0 + timedelta(hours=2))}
    made = [
        api.ok(api.post("/v1/maintenance-windows", body), 201)["id"]
        for body in (
            {"scope": "resource", "scope_ref": ids["resource"], **later},
            {
                "scope": "customer",
                "scope_ref": ids["customer"],
                "kind": "provider_maintenance",
                "start": iso(T0 + timedelta(hours=3)),
                "end": iso(T0 + timedelta(hours=4)),
            },
            {
                "scope": "source",
                "source": "zabbix:main",
                "kind": "monitoring_fault",
                "start": iso(T0 + timedelta(minutes=30)),
            },
            {
                "scope": "all",
                "rrule": "FREQ=DAILY",
                "duration_minutes": 10,
                "start": iso(T0 + timedelta(hours=1, minutes=55)),
            },
        )
    ]

    def listed(**params: object) -> list[int]:
        return [w["id"] for w in api.ok(api.get("/v1/maintenance-windows", params=params))]

    assert listed() == made
    assert listed(scope="resource", scope_ref=ids["resource"]) == [made[0]]
    assert listed(scope_ref=ids["customer"], scope="customer") == [made[1]]
    assert listed(kind="provider_maintenance") == [made[1]]
    assert listed(source="zabbix:main") == [made[2]]
    assert listed(active_at=iso(T0 + timedelta(hours=1, minutes=56))) == [made[0], made[2], made[3]]
    assert listed(active_at=iso(T0 + timedelta(days=1, hours=1, minutes=56))) == made[2:]
    assert listed(active_at=iso(T0 + timedelta(hours=2))) == [made[2], made[3]]
    assert listed(active_at=iso(T0)) == []


def test_a_window_scope_names_exactly_what_it_needs(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0)
    span = {"start": iso(T0 + timedelta(hours=1)), "end": iso(T0 + timedelta(hours=2))}
    for body, says in (
        ({"scope": "resource", **span}, "needs a scope_ref"),
        ({"scope": "source", "scope_ref": 1, "source": "zabbix", **span}, "takes no scope_ref"),
        ({"scope": "source", **span}, "needs a source"),
        ({"scope": "all", "source": "zabbix", **span}, "takes no source"),
        ({"scope": "customer", "scope_ref": 10**6, **span}, "does not exist"),
        ({"scope": "all", "reason": "maintenance", "justification": "x", **span}, "justification"),
    ):
        refused = api.post("/v1/maintenance-windows", body)
        assert refused.status_code == 422, (body, refused.text)
        assert says in refused.text, (body, refused.text)
    assert api.ok(api.get("/v1/maintenance-windows")) == []
