"""Metrics scraped over HTTP after driving incidents through the REST API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import sessionmaker

from daemon.app import create_app
from daemon.auth import create_token
from daemon.metrics import IngestTimer, Metrics, metrics_router
from daemon.services import build_services
from daemon.store.models import OutboxMessage
from tests.daemon.conftest import Api, FakeClock, event, make_config, seed_registry
from tests.daemon.test_owed import T0 as OWED_T0
from tests.daemon.test_owed import owed_world

T0 = datetime(2026, 11, 24, 0, 50, tzinfo=UTC)
TICK = 0.25
BOUNDED_LABELS = {
    "plan",
    "clock",
    "state",
    "outcome",
    "target",
    "source",
    "instance",
    "channel",
    "result",
    "route",
    "kind",
    "le",
    "seconds",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def fake_timer() -> Iterator[float]:
    """Every reading is TICK later than the last, so each timed request takes TICK."""
    return (n * TICK for n in count())


@pytest.fixture
def metered(database: tuple[str, Engine], clock: FakeClock) -> Iterator[tuple[Api, Metrics]]:
    """The production app (metrics router and ingest timer wired in), with a fake timer."""
    url, engine = database
    services = build_services(make_config(url), clock=clock, engine=engine, background=False)
    tokens: dict[str, str] = {}
    with services.sessions.begin() as session:
        for role in ("viewer", "operator", "admin", "ingest"):
            tokens[role] = create_token(session, f"test-{role}", role, clock())
    metrics = services.metrics
    metrics.timer = fake_timer().__next__
    app = create_app(services)
    with TestClient(app) as client:
        yield Api(client, services, clock, tokens), metrics


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            assert set(sample.labels) <= BOUNDED_LABELS, sample
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def open_incident(
    api: Api, key: str, problem: str, detected_at: datetime, host: str = "web01"
) -> int:
    body = api.ok(
        api.post(
            "/v1/events?wait=true",
            event(key, "problem", detected_at, problem=problem, host=host),
            role="ingest",
        )
    )
    incident_id: int = body["results"][0]["incident_id"]
    return incident_id


def test_store_figures_follow_incidents_through_rest(metered: tuple[Api, Metrics]) -> None:
    api, _metrics = metered
    ids = seed_registry(api)
    web02 = {
        "contract_id": ids["contract"],
        "name": "web02",
        "kind": "vm",
        "selectors": [{"zabbix.host": "web02"}],
    }
    api.ok(api.post("/v1/resources", web02, role="admin"), 201)
    api.clock.set(T0 + timedelta(minutes=20))
    late = open_incident(api, "e1", "p1", T0)
    prompt = open_incident(api, "e2", "p2", T0 + timedelta(minutes=20), host="web02")
    unknown = event("u1", "problem", T0, problem="p3", host="unknown-host", source="nagios")
    assert (
        api.ok(api.post("/v1/events?wait=true", unknown, role="ingest"))["results"][0]["status"]
        == "unassigned"
    )

    samples = scrape(api.client)
    assert value(samples, "slad_store_up") == 1
    assert (
        value(samples, "slad_open_incidents", plan="standard", clock="contact", state="running")
        == 2
    )
    assert (
        value(samples, "slad_open_incidents", plan="standard", clock="report", state="pending") == 2
    )
    assert value(samples, "slad_unassigned_alerts") == 1
    assert value(samples, "slad_alerts_ingested_total", source="generic") == 2
    assert value(samples, "slad_alerts_ingested_total", source="nagios") == 1
    assert series(samples, "slad_clock_outcomes_total") == {}
    assert series(samples, "slad_compliance_ratio") == {}, "nothing decided yet"

    api.clock.set(T0 + timedelta(minutes=45))
    api.ok(api.post(f"/v1/incidents/{late}/contact", {}))
    api.ok(api.post(f"/v1/incidents/{prompt}/contact", {}))
    samples = scrape(api.client)
    outcomes = dict(plan="standard", clock="contact")
    assert value(samples, "slad_clock_outcomes_total", **outcomes, outcome="slo_breached") == 1
    assert value(samples, "slad_clock_outcomes_total", **outcomes, outcome="met") == 1
    assert (
        value(samples, "slad_open_incidents", plan="standard", clock="contact", state="stopped")
        == 2
    )
    assert (
        value(samples, "slad_open_incidents", plan="standard", clock="report", state="running") == 2
    )
    by_le = {
        dict(labels)["le"]: v
        for labels, v in series(samples, "slad_time_to_contact_seconds_bucket").items()
    }
    assert by_le["1200.0"] == 0, "25 min and 45 min are both above 20 min"
    assert by_le["1800.0"] == 1, "25 min is within the contact SLO"
    assert by_le["2700.0"] == 2, "45 min is counted in the bucket it equals"
    assert by_le["+Inf"] == 2
    assert value(samples, "slad_time_to_contact_seconds_count", plan="standard") == 2
    assert value(samples, "slad_time_to_contact_seconds_sum", plan="standard") == 25 * 60 + 45 * 60
    assert value(samples, "slad_compliance_ratio", **outcomes, target="slo") == 0.5
    assert value(samples, "slad_compliance_ratio", **outcomes, target="sla") == 1.0
    assert (
        value(samples, "slad_compliance_ratio", plan="standard", clock="report", target="slo")
        is None
    ), "running within its SLO: not decided"

    api.clock.set(T0 + timedelta(hours=2))
    samples = scrape(api.client)
    report = dict(plan="standard", clock="report")
    assert value(samples, "slad_compliance_ratio", **report, target="slo") == 0.0, (
        "running clocks past their SLO count as breached"
    )
    assert value(samples, "slad_compliance_ratio", **report, target="sla") == 1.0
    assert value(samples, "slad_clock_outcomes_total", **report, outcome="slo_breached") is None

    api.ok(api.post(f"/v1/incidents/{late}/report", {"note": "sent"}))
    api.ok(
        api.post(
            "/v1/events?wait=true",
            event("e2r", "recovery", T0 + timedelta(hours=2), problem="p2"),
            role="ingest",
        )
    )
    samples = scrape(api.client)
    assert value(samples, "slad_clock_outcomes_total", **report, outcome="slo_breached") == 1
    by_le = {
        dict(labels)["le"]: v
        for labels, v in series(samples, "slad_time_to_report_seconds_bucket").items()
    }
    assert (by_le["3600.0"], by_le["5400.0"]) == (0, 1), "reported 75 min after contact"
    assert (
        value(samples, "slad_open_incidents", plan="standard", clock="contact", state="stopped")
        == 1
    ), "the recovered incident is no longer open"
    assert value(samples, "slad_alerts_ingested_total", source="generic") == 3

    api.clock.set(T0 + timedelta(days=31))
    samples = scrape(api.client)
    assert series(samples, "slad_compliance_ratio") == {}, "clocks left the 30-day window"
    assert value(samples, "slad_clock_outcomes_total", **outcomes, outcome="met") == 1


def test_outbox_gauges_count_pending_and_failed_rows(metered: tuple[Api, Metrics]) -> None:
    api, _metrics = metered
    now = api.clock()
    with api.services.sessions.begin() as session:
        for n, status in enumerate(["pending", "pending", "failed", "sent"]):
            session.add(
                OutboxMessage(
                    idempotency_key=f"k{n}",
                    event="breach",
                    channel="email",
                    message={},
                    status=status,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    samples = scrape(api.client)
    assert value(samples, "slad_outbox_pending") == 2
    assert value(samples, "slad_outbox_failed") == 1


def test_ingest_requests_are_timed_by_route_template(metered: tuple[Api, Metrics]) -> None:
    api, _metrics = metered
    seed_registry(api)
    api.clock.set(T0)
    open_incident(api, "e1", "p1", T0)
    open_incident(api, "e2", "p2", T0)
    api.ok(api.get("/v1/incidents"))
    assert api.post("/v1/events/unknown", {}, role="ingest").status_code == 404

    samples = scrape(api.client)
    assert value(samples, "slad_ingest_request_duration_seconds_count", route="/v1/events") == 2
    assert (
        value(samples, "slad_ingest_request_duration_seconds_sum", route="/v1/events") == 2 * TICK
    )
    routes = {
        dict(labels)["route"]
        for labels in series(samples, "slad_ingest_request_duration_seconds_count")
    }
    assert routes == {"/v1/events"}, "other and unmatched routes are not timed"


def test_webhook_label_is_the_template_not_the_url(clock: FakeClock) -> None:
    metrics = Metrics(sessionmaker(create_engine("sqlite://")), clock)
    app = FastAPI()

    @app.post("/v1/webhooks/zabbix/{instance}")
    def hook(instance: str) -> dict[str, str]:
        return {"instance": instance}

    app.include_router(metrics_router(metrics))
    metrics.timer = fake_timer().__next__
    app.add_middleware(IngestTimer, metrics=metrics)
    with TestClient(app) as client:
        for instance in ("tokyo", "osaka"):
            assert client.post(f"/v1/webhooks/zabbix/{instance}").status_code == 200
        samples = scrape(client)
    assert series(samples, "slad_ingest_request_duration_seconds_count") == {
        frozenset({("route", "/v1/webhooks/zabbix/{instance}")}): 2
    }


def test_store_failure_keeps_the_scrape_and_in_process_series(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics(sessionmaker(create_engine("sqlite://")), clock)
    metrics.set_leader(True)
    metrics.observe_scheduler_lag(0.02)
    metrics.observe_scheduler_lag(90.0)
    metrics.observe_delivery("email", "sent")
    metrics.observe_delivery("email", "sent")
    metrics.observe_delivery("slack", "failed")
    metrics.set_connector_up("zabbix", "tokyo", True)
    metrics.set_connector_up("zabbix", "osaka", False)
    metrics.count_connector_failure("zabbix", "osaka")
    with pytest.raises(ValueError, match="sent or failed"):
        metrics.observe_delivery("email", "bounced")

    app = FastAPI()
    app.include_router(metrics_router(metrics))
    with caplog.at_level(logging.ERROR, logger="slad.metrics"), TestClient(app) as client:
        samples = scrape(client)
    assert "could not read the store" in caplog.text
    assert value(samples, "slad_store_up") == 0
    assert series(samples, "slad_open_incidents") == {}
    assert value(samples, "slad_leader") == 1
    assert value(samples, "slad_scheduler_lag_seconds_bucket", le="0.025") == 1
    assert value(samples, "slad_scheduler_lag_seconds_bucket", le="60.0") == 1
    assert value(samples, "slad_scheduler_lag_seconds_bucket", le="120.0") == 2
    assert value(samples, "slad_notifications_total", channel="email", result="sent") == 2
    assert value(samples, "slad_notifications_total", channel="slack", result="failed") == 1
    assert value(samples, "slad_connector_up", source="zabbix", instance="tokyo") == 1
    assert value(samples, "slad_connector_up", source="zabbix", instance="osaka") == 0
    assert value(samples, "slad_connector_failures_total", source="zabbix", instance="osaka") == 1


def test_each_metrics_has_its_own_registry(clock: FakeClock) -> None:
    sessions = sessionmaker(create_engine("sqlite://"))
    first, second = Metrics(sessions, clock), Metrics(sessions, clock)
    first.set_leader(True)
    assert first.registry.get_sample_value("slad_leader") == 1
    assert second.registry.get_sample_value("slad_leader") == 0


def test_owed_clocks_due_soon_and_next_due(metered: tuple[Api, Metrics]) -> None:
    api, _metrics = metered
    world = owed_world(api)
    samples = scrape(api.client)
    owed = {dict(labels)["state"]: v for labels, v in series(samples, "slad_owed_clocks").items()}
    assert owed == {"within_slo": 2, "sla_breached": 1}, "the recovered incident still owes"
    assert value(
        samples, "slad_owed_clocks", plan="standard", clock="contact", state="sla_breached"
    )
    assert value(samples, "slad_owed_clocks_due_within", seconds="300") == 0
    assert value(samples, "slad_owed_clocks_due_within", seconds="900") == 1
    assert value(samples, "slad_owed_clocks_due_within", seconds="3600") == 2
    assert value(samples, "slad_next_due_seconds") == 9 * 60

    api.ok(api.post(f"/v1/incidents/{world['overdue']}/contact", {}))
    api.clock.set(OWED_T0 + timedelta(minutes=35))
    samples = scrape(api.client)
    assert (
        value(samples, "slad_owed_clocks", plan="standard", clock="report", state="within_slo") == 1
    ), "once contacted, the report is owed"
    assert (
        value(samples, "slad_owed_clocks", plan="standard", clock="contact", state="slo_breached")
        == 2
    ), "both remaining contacts are past the SLO, before the SLA"
    assert value(samples, "slad_next_due_seconds") == 5 * 60, (
        "recovered: its SLA falls at T0 + 40 min"
    )


def test_no_owed_clock_means_no_next_due(metered: tuple[Api, Metrics]) -> None:
    api, _metrics = metered
    samples = scrape(api.client)
    assert series(samples, "slad_owed_clocks") == {}
    assert value(samples, "slad_next_due_seconds") is None
    assert value(samples, "slad_owed_clocks_due_within", seconds="900") == 0
