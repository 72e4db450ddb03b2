"""Explain a clock over REST: its strip, the windows behind it, and what moved it."""

from __future__ import annotations

from datetime import timedelta

from tests.daemon.conftest import Api, seed_registry
from tests.daemon.test_incident_flow import iso
from tests.daemon.test_owed import T0, detect


def explained(api: Api, incident_id: int, clock: str) -> dict:
    return dict(api.ok(api.get(f"/v1/incidents/{incident_id}/clocks/{clock}/explain")))


def test_strip_names_the_window_and_the_entry_that_moved_the_deadline(api: Api) -> None:
    ids = seed_registry(api)
    incident_id = detect(api, "web01", T0)
    api.clock.set(T0 + timedelta(minutes=5))
    window = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "resource",
                "scope_ref": ids["resource"],
                "description": "kernel update",
                "start": iso(T0 + timedelta(minutes=10)),
                "end": iso(T0 + timedelta(minutes=30)),
            },
        ),
        201,
    )
    api.clock.set(T0 + timedelta(minutes=20))
    body = explained(api, incident_id, "contact")
    assert body["clock"]["state"] == "paused"
    assert body["clock"]["slo_due"] == iso(T0 + timedelta(minutes=50))
    assert body["clock"]["sla_due"] == iso(T0 + timedelta(minutes=80))
    strip = [
        (s["start"], s["end"], s["counted"], s["window_ids"], s["ahead"]) for s in body["segments"]
    ]
    assert strip == [
        (iso(T0), iso(T0 + timedelta(minutes=10)), True, [], False),
        (
            iso(T0 + timedelta(minutes=10)),
            iso(T0 + timedelta(minutes=20)),
            False,
            [window["id"]],
            False,
        ),
        (
            iso(T0 + timedelta(minutes=20)),
            iso(T0 + timedelta(minutes=30)),
            False,
            [window["id"]],
            True,
        ),
        (iso(T0 + timedelta(minutes=30)), iso(T0 + timedelta(minutes=80)), True, [], True),
    ]
    assert body["counted_seconds"] == 600 and body["excluded_seconds"] == 600
    assert body["windows"] == [
        {
            "id": window["id"],
            "kind": "maintenance",
            "description": "kernel update",
            "scope": "resource",
        }
    ]
    start, moved = body["facts"]
    assert start["sets"] == "start" and start["kind"] == "detected" and start["at"] == iso(T0)
    assert moved["sets"] == "due" and moved["kind"] == "clocks_recomputed"
    assert moved["detail"]["window_id"] == window["id"]
    assert moved["before"]["slo_due"].startswith("2026-11-24T01:30:00")
    assert moved["after"]["slo_due"].startswith("2026-11-24T01:50:00")


def test_report_clock_pending_then_stopped_and_unknown_clocks_are_404(api: Api) -> None:
    seed_registry(api)
    incident_id = detect(api, "web01", T0)
    pending = explained(api, incident_id, "report")
    assert pending["clock"]["state"] == "pending"
    assert pending["segments"] == [] and pending["counted_seconds"] is None

    api.clock.set(T0 + timedelta(minutes=40))
    api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    contact = explained(api, incident_id, "contact")
    assert contact["clock"]["outcome"] == "slo_breached"
    assert [(s["start"], s["end"], s["counted"]) for s in contact["segments"]] == [
        (iso(T0), iso(T0 + timedelta(minutes=40)), True)
    ]
    assert [f["sets"] for f in contact["facts"]] == ["start", "stop"]
    report = explained(api, incident_id, "report")
    assert [f["kind"] for f in report["facts"]] == ["contacted"]
    assert report["clock"]["slo_due"] == iso(T0 + timedelta(minutes=100))

    missing = api.get(f"/v1/incidents/{incident_id}/clocks/support_reply/explain")
    assert missing.status_code == 404 and "contact, report" in missing.json()["detail"]
    assert api.get("/v1/incidents/999/clocks/contact/explain").status_code == 404
    assert api.client.get(f"/v1/incidents/{incident_id}/clocks/contact/explain").status_code == 401


def test_a_fault_counts_only_for_what_it_hid(api: Api) -> None:
    seed_registry(api)
    api.clock.set(T0 + timedelta(minutes=5))
    result = api.ok(
        api.post(
            "/v1/events?wait=true",
            {
                "event_key": "late",
                "problem_key": "late",
                "kind": "problem",
                "detected_at": iso(T0),
                "resource_ids": {"zabbix.host": "web01"},
            },
            role="ingest",
        )
    )
    incident_id = result["results"][0]["incident_id"]
    fault = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "all",
                "kind": "monitoring_fault",
                "start": iso(T0 - timedelta(minutes=1)),
                "end": iso(T0 + timedelta(minutes=3)),
                "reason": "zabbix was unreachable",
            },
        ),
        201,
    )
    api.clock.set(T0 + timedelta(minutes=15))
    later = api.ok(
        api.post(
            "/v1/maintenance-windows",
            {
                "scope": "all",
                "kind": "monitoring_fault",
                "start": iso(T0 + timedelta(minutes=12)),
                "reason": "zabbix unreachable again",
            },
        ),
        201,
    )
    body = explained(api, incident_id, "contact")
    assert [(s["end"], s["window_ids"]) for s in body["segments"]][:2] == [
        (iso(T0 + timedelta(minutes=3)), [fault["id"]]),
        (iso(T0 + timedelta(minutes=15)), []),
    ], "the first fault hid the incident until its end; the second one began after receipt"
    assert later["id"] not in {w["id"] for w in body["windows"]}
    incident = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    contact = next(c for c in incident["clocks"] if c["name"] == "contact")
    assert body["clock"]["slo_due"] == contact["slo_due"] == iso(T0 + timedelta(minutes=33))
    assert body["counted_seconds"] == contact["counted_seconds"] == 12 * 60
