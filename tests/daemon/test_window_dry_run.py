"""`?dry_run=true` on window changes answers which clocks would move, and stores nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from daemon.store.models import AuditEntry, Clock, MaintenanceWindow, OutboxMessage, TimelineEntry
from tests.daemon.conftest import Api, seed_registry
from tests.daemon.test_incident_flow import iso
from tests.daemon.test_owed import T0, detect


def stored(api: Api) -> dict[str, object]:
    """Everything a window change could write: row counts, and every clock's due instants."""
    with api.services.sessions() as session:
        counts = {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (MaintenanceWindow, TimelineEntry, AuditEntry, OutboxMessage)
        }
        clocks = session.execute(
            select(Clock.id, Clock.slo_due_at, Clock.sla_due_at, Clock.outcome, Clock.due_at)
        ).all()
        windows = session.execute(
            select(MaintenanceWindow.id, MaintenanceWindow.end_at, MaintenanceWindow.status)
        ).all()
    return {"counts": counts, "clocks": sorted(clocks), "windows": sorted(windows)}


def window(ids: dict[str, int], start: int, end: int, **extra: object) -> dict[str, object]:
    return {
        "scope": "resource",
        "scope_ref": ids["resource"],
        "start": iso(T0 + timedelta(minutes=start)),
        "end": iso(T0 + timedelta(minutes=end)),
        **extra,
    }


def test_dry_run_create_answers_the_moves_and_stores_nothing(api: Api) -> None:
    ids = seed_registry(api)
    incident_id = detect(api, "web01", T0)
    api.clock.set(T0 + timedelta(minutes=5))
    before = stored(api)
    response = api.post("/v1/maintenance-windows?dry_run=true", window(ids, 10, 30))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dry_run": True,
        "incidents_recomputed": 1,
        "clocks": [
            {
                "incident_id": incident_id,
                "clock": "contact",
                "slo_due_before": iso(T0 + timedelta(minutes=30)),
                "slo_due_after": iso(T0 + timedelta(minutes=50)),
                "slo_due_moved_seconds": 1200.0,
                "sla_due_before": iso(T0 + timedelta(minutes=60)),
                "sla_due_after": iso(T0 + timedelta(minutes=80)),
                "sla_due_moved_seconds": 1200.0,
                "outcome_before": None,
                "outcome_after": None,
            }
        ],
    }
    assert stored(api) == before
    assert api.ok(api.get("/v1/maintenance-windows")) == []

    created = api.ok(api.post("/v1/maintenance-windows", window(ids, 10, 30)), 201)
    assert created["incidents_recomputed"] == 1, "the real change does what the rehearsal said"


def test_dry_run_patch_and_an_outcome_that_would_change(api: Api) -> None:
    ids = seed_registry(api)
    incident_id = detect(api, "web01", T0)
    api.clock.set(T0 + timedelta(minutes=45))
    api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    existing = api.ok(
        api.post("/v1/maintenance-windows", window(ids, 50, 60, reason="planned")), 201
    )
    assert existing["incidents_recomputed"] == 1, "the report clock moved"
    before = stored(api)

    past = window(ids, 5, 25)
    refused = api.post("/v1/maintenance-windows?dry_run=true", past)
    assert refused.status_code == 422 and "reason" in refused.text, "checked as for real"
    answer = api.ok(
        api.post("/v1/maintenance-windows?dry_run=true", {**past, "reason": "missed window"})
    )
    contact = next(c for c in answer["clocks"] if c["clock"] == "contact")
    assert (contact["outcome_before"], contact["outcome_after"]) == ("slo_breached", "met")
    assert contact["slo_due_moved_seconds"] == 1200.0

    moved = api.ok(
        api.patch(
            f"/v1/maintenance-windows/{existing['id']}?dry_run=true",
            {"end": iso(T0 + timedelta(minutes=70))},
        )
    )
    by_clock = {c["clock"]: c for c in moved["clocks"]}
    assert by_clock["report"]["slo_due_moved_seconds"] == 600.0
    assert by_clock["contact"]["slo_due_moved_seconds"] == 0.0, "its SLO fell before the window"
    assert by_clock["contact"]["sla_due_moved_seconds"] == 600.0
    assert by_clock["contact"]["outcome_after"] == "slo_breached"
    rejected = api.ok(
        api.patch(
            f"/v1/maintenance-windows/{existing['id']}?dry_run=true",
            {"status": "rejected", "reason": "cancelled"},
        )
    )
    assert {c["clock"]: c["sla_due_moved_seconds"] for c in rejected["clocks"]} == {
        "contact": -600.0,
        "report": -600.0,
    }
    assert stored(api) == before
    assert api.ok(api.get(f"/v1/maintenance-windows/{existing['id']}"))["end"] == iso(
        T0 + timedelta(minutes=60)
    )
    assert api.post("/v1/maintenance-windows?dry_run=true", past, role="viewer").status_code == 403
