"""Cloud Monitoring notifications and alerts as events, and the instance table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.events import EventKind, Severity
from connectors.gcp import (
    ConsoleTest,
    GcpInstance,
    UnmappableIncident,
    alert_events,
    notification_event,
    parse_instance,
)
from tests.connectors.gcp_fakes import fixture

RECEIVED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
INSTANCE = GcpInstance(name="prod", projects=("acme-prod",))


def test_open_incident_is_a_problem_at_started_at() -> None:
    event = notification_event(INSTANCE, fixture("incident-open-v1.2.json"), RECEIVED)
    assert not isinstance(event, ConsoleTest)
    assert event.kind is EventKind.PROBLEM
    assert event.detected_at == datetime.fromtimestamp(1796001327, UTC)
    assert event.event_key == "gcp:0.mq4b8x1p9s2a:open"
    assert event.problem_key == "gcp:0.mq4b8x1p9s2a"
    assert event.severity is Severity.CRITICAL
    assert event.title == "db cpu high"
    assert event.resource_ids == {
        "gcp.project": "acme-prod",
        "gcp.resource_type": "gce_instance",
        "gcp.label.instance_id": "4417532156735894071",
        "gcp.label.project_id": "acme-prod",
        "gcp.label.zone": "asia-northeast1-b",
        "gcp.policy": "db cpu high",
        "gcp.policy_label.team": "msp",
    }


def test_closed_incident_is_a_recovery_at_ended_at_of_the_same_problem() -> None:
    event = notification_event(INSTANCE, fixture("incident-closed-v1.2.json"), RECEIVED)
    assert not isinstance(event, ConsoleTest)
    assert event.kind is EventKind.RECOVERY
    assert event.detected_at == datetime.fromtimestamp(1796003127, UTC)
    assert event.event_key == "gcp:0.mq4b8x1p9s2a:closed"
    assert event.problem_key == "gcp:0.mq4b8x1p9s2a"


def test_state_is_compared_case_insensitively() -> None:
    payload = fixture("incident-open-v1.2.json")
    payload["incident"]["state"] = "OPEN"
    event = notification_event(INSTANCE, payload, RECEIVED)
    assert not isinstance(event, ConsoleTest)
    assert event.kind is EventKind.PROBLEM
    assert event.event_key == "gcp:0.mq4b8x1p9s2a:open"


def test_the_console_test_notification_is_recognised() -> None:
    mapped = notification_event(INSTANCE, fixture("test-notification.json"), RECEIVED)
    assert mapped == ConsoleTest("acme-prod")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"started_at": 0}, "incident.started_at"),
        ({"started_at": "1796001327"}, "incident.started_at"),
        ({"state": "acknowledged"}, "incident.state"),
        ({"incident_id": ""}, "incident.incident_id"),
    ],
)
def test_unmappable_incidents_name_the_field(change: dict[str, Any], field: str) -> None:
    payload = fixture("incident-open-v1.2.json")
    payload["incident"].update(change)
    with pytest.raises(UnmappableIncident, match=field):
        notification_event(INSTANCE, payload, RECEIVED)


def test_an_unknown_schema_version_is_refused() -> None:
    payload = {**fixture("incident-open-v1.2.json"), "version": "2.0"}
    with pytest.raises(UnmappableIncident, match="version"):
        notification_event(INSTANCE, payload, RECEIVED)


def test_a_closed_alert_gives_its_opening_and_closing_with_the_webhooks_keys() -> None:
    alert = {
        "name": "projects/acme-prod/alerts/0.mq4b8x1p9s2a",
        "state": "CLOSED",
        "openTime": "2026-11-30T01:15:27Z",
        "closeTime": "2026-11-30T01:45:27.500Z",
        "resource": {"type": "gce_instance", "labels": {"instance_id": "44", "zone": "z"}},
        "policy": {
            "name": "projects/acme-prod/alertPolicies/1234567890",
            "displayName": "db cpu high",
            "severity": "WARNING",
            "userLabels": {"team": "msp"},
        },
    }
    opened, closed = alert_events(INSTANCE, alert, RECEIVED)
    assert opened.event_key == "gcp:0.mq4b8x1p9s2a:open"
    assert opened.detected_at == datetime(2026, 11, 30, 1, 15, 27, tzinfo=UTC)
    assert closed.event_key == "gcp:0.mq4b8x1p9s2a:closed"
    assert closed.kind is EventKind.RECOVERY
    assert closed.detected_at == datetime(2026, 11, 30, 1, 45, 27, 500000, tzinfo=UTC)
    assert opened.severity is Severity.WARNING
    assert opened.resource_ids["gcp.project"] == "acme-prod"  # from the alert's name
    assert opened.resource_ids["gcp.policy"] == "db cpu high"
    assert opened.resource_ids["gcp.policy_label.team"] == "msp"
    assert opened.resource_ids["gcp.label.instance_id"] == "44"


def test_instance_table_needs_credentials_for_the_chosen_webhook_auth(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"gcp\.instances\.prod\.password"):
        parse_instance(
            "prod", {"projects": ["acme-prod"], "webhook_auth": "basic", "username": "google"}
        )
    with pytest.raises(ValueError, match=r"gcp\.instances\.prod\.token: must be at least"):
        parse_instance(
            "prod", {"projects": ["acme-prod"], "webhook_auth": "token", "token": "short"}
        )
    with pytest.raises(ValueError, match=r"gcp\.instances\.prod\.token: only read"):
        parse_instance(
            "prod",
            {
                "projects": ["acme-prod"],
                "webhook_auth": "basic",
                "username": "u",
                "password": "p",
                "token": "x" * 20,
            },
        )
    with pytest.raises(ValueError, match=r"gcp\.instances\.prod\.push_service_account"):
        parse_instance("prod", {"projects": ["acme-prod"], "push_audience": "https://x/"})
    with pytest.raises(ValueError, match=r"gcp\.instances\.prod\.projects"):
        parse_instance("prod", {"projects": ["Not A Project"]})
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    instance = parse_instance(
        "prod",
        {
            "projects": ["acme-prod"],
            "webhook_auth": "basic",
            "username": "google",
            "password_file": str(secret),
        },
    )
    assert (instance.username, instance.password) == ("google", "s3cret")
    assert "s3cret" not in repr(instance)
