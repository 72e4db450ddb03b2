"""``slad source setup|check gcp``: notification channels and policies through the real
Monitoring gRPC clients, against a local gRPC server speaking NotificationChannelService
and AlertPolicyService."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud.monitoring_v3 import AlertPolicy

from connectors.gcp import GcpSource, parse_instance
from tests.connectors.gcp_fakes import Monitoring

URL = "https://slad.example.jp/v1/webhooks/gcp/prod"


@pytest.fixture
def monitoring() -> Iterator[Monitoring]:
    server = Monitoring()
    yield server
    server.close()


def instance(monitoring: Monitoring, **table: Any) -> Any:
    base = {
        "projects": ["acme-prod"],
        "webhook_auth": "basic",
        "username": "google",
        "password": "s3cret-pass",
        "poll": False,
        "monitoring_grpc_endpoint": monitoring.endpoint,
    }
    return parse_instance("prod", {**base, **table})


def test_setup_creates_the_channel_once_and_lists_policies_without_it(
    monitoring: Monitoring,
) -> None:
    monitoring.policies = [
        AlertPolicy(name="projects/acme-prod/alertPolicies/1", display_name="db cpu high"),
    ]
    source, prod = GcpSource(), instance(monitoring)
    steps = source.setup(prod, {"url": URL, "slad_url": "https://slad.example.jp"})
    (channel,) = monitoring.channels
    assert channel.type_ == "webhook_basicauth"
    assert channel.display_name == "slad prod"
    assert dict(channel.labels) == {"url": URL, "username": "google", "password": "s3cret-pass"}
    assert steps[0].startswith("acme-prod: channel webhook_basicauth created")
    assert "policy 'db cpu high'" in steps[1]

    monitoring.policies[0].notification_channels.append(channel.name)
    again = source.setup(prod, {"url": URL, "slad_url": "https://slad.example.jp"})
    assert again == [f"acme-prod: channel webhook_basicauth up to date ({channel.name})"]
    assert len(monitoring.channels) == 1


def test_setup_updates_a_channel_whose_credentials_changed(monitoring: Monitoring) -> None:
    source = GcpSource()
    source.setup(instance(monitoring), {"url": URL, "slad_url": "https://slad.example.jp"})
    rotated = instance(monitoring, password="n3w-pass")
    steps = source.setup(rotated, {"url": URL, "slad_url": "https://slad.example.jp"})
    assert "updated" in steps[0]
    assert monitoring.channels[0].labels["password"] == "n3w-pass"
    assert "UpdateNotificationChannel" in monitoring.calls


def test_setup_needs_the_public_url(monitoring: Monitoring) -> None:
    with pytest.raises(ValueError, match="--slad-url"):
        GcpSource().setup(instance(monitoring), {"url": "http://127.0.0.1:8080/x", "slad_url": ""})


def test_check_reports_a_missing_channel_then_a_present_one(monitoring: Monitoring) -> None:
    source, prod = GcpSource(), instance(monitoring)
    steps = source.check(prod)
    assert [(s.name, s.ok) for s in steps] == [
        ("acme-prod: alert policies listed", True),
        ("acme-prod: channel webhook_basicauth enabled", False),
    ]
    source.setup(prod, {"url": URL, "slad_url": "https://slad.example.jp"})
    assert all(step.ok for step in source.check(prod))


def test_check_fails_clearly_when_the_api_is_unreachable() -> None:
    prod = parse_instance(
        "prod",
        {
            "projects": ["acme-prod"],
            "webhook_auth": "token",
            "token": "t" * 20,
            "poll": False,
            "monitoring_grpc_endpoint": "http://127.0.0.1:9",
            "http_timeout_seconds": 2,
        },
    )
    (step,) = GcpSource().check(prod)
    assert step.ok is False
    assert step.name == "acme-prod: Cloud Monitoring API"


def test_the_signed_test_is_the_console_test_notification(monitoring: Monitoring) -> None:
    test = GcpSource().signed_test(instance(monitoring))
    assert test is not None and test.subpath == ""
    assert test.headers["Authorization"].startswith("Basic ")
    assert b'"version": "test"' in test.body
