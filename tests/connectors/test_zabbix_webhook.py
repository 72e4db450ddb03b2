"""Webhook bodies as the shipped media type posts them (captured from Zabbix 6.0.14)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.events import EventKind, Severity
from connectors.zabbix import (
    MalformedWebhook,
    ZabbixInstance,
    decode_body,
    parse_webhook,
    verify_signature,
)

DATA = Path(__file__).parent / "data" / "zabbix"
TOKYO = ZoneInfo("Asia/Tokyo")
INSTANCE = ZabbixInstance(
    name="e2e",
    api_url="http://127.0.0.1/api_jsonrpc.php",
    api_token="t",
    timezone=TOKYO,
    webhook_secret="e2e-shared-secret",
)
RECEIVED = datetime(2026, 11, 24, 6, 41, 20, tzinfo=UTC)
CLOCK = datetime(2026, 11, 24, 6, 41, 12, 551551, tzinfo=UTC)


def raw(kind: str) -> bytes:
    return (DATA / f"webhook-6.0.14-{kind}.json").read_bytes()


def body(kind: str) -> dict[str, Any]:
    return decode_body(raw(kind))


def no_api(_: str) -> datetime | None:
    return None


SIGNATURES = json.loads((DATA / "webhook-6.0.14-signatures.json").read_text())


@pytest.mark.parametrize("kind", ["problem", "update", "recovery"])
def test_signature_made_by_zabbix_verifies(kind: str) -> None:
    header = SIGNATURES["signatures"][kind]
    assert verify_signature(SIGNATURES["secret"], raw(kind), header)
    assert verify_signature(SIGNATURES["secret"], raw(kind), header.upper().replace("SHA", "sha"))


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha1=" + "0" * 40, "sha256=" + "0" * 64, "garbage"],
)
def test_bad_or_missing_signature(header: str | None) -> None:
    assert not verify_signature("e2e-shared-secret", raw("problem"), header)


def test_signature_with_wrong_secret_or_changed_body() -> None:
    header = SIGNATURES["signatures"]["problem"]
    assert not verify_signature("wrong", raw("problem"), header)
    assert not verify_signature("e2e-shared-secret", raw("problem") + b" ", header)


def test_problem_uses_the_api_clock() -> None:
    asked: list[str] = []

    def lookup(event_id: str) -> datetime | None:
        asked.append(event_id)
        return CLOCK

    event = parse_webhook(INSTANCE, body("problem"), RECEIVED, lookup)
    assert asked == ["29"]
    assert event.kind is EventKind.PROBLEM
    assert event.event_key == event.problem_key == "zabbix:e2e:29"
    assert event.detected_at == CLOCK and not event.detected_at_estimated
    assert event.received_at == RECEIVED
    assert event.severity is Severity.HIGH
    assert event.source == "zabbix" and event.instance == "e2e"
    assert event.title == "Value high on slad-e2e-88d63b94"
    assert event.resource_ids == {
        "zabbix.instance": "e2e",
        "zabbix.host": "slad-e2e-88d63b94",
        "zabbix.hostid": "10563",
        "zabbix.trigger": "23137",
        "zabbix.hostgroup.slad e2e 88d63b94": "slad e2e 88d63b94",
        "zabbix.tag.service": "web",
        "zabbix.tag.customer": "acme",
    }
    assert event.raw["recovery_id"] == "{EVENT.RECOVERY.ID}"


def test_problem_falls_back_to_local_time_in_the_instance_zone() -> None:
    event = parse_webhook(INSTANCE, body("problem"), RECEIVED, no_api)
    assert event.detected_at == datetime(2026, 11, 24, 15, 41, 12, tzinfo=TOKYO)
    assert event.detected_at == CLOCK.replace(microsecond=0)
    assert event.detected_at_estimated


def test_fallback_zone_is_the_instances() -> None:
    utc_instance = ZabbixInstance(
        name="e2e",
        api_url="http://x",
        api_token="t",
        timezone=ZoneInfo("UTC"),
        webhook_secret="s",
    )
    event = parse_webhook(utc_instance, body("problem"), RECEIVED, no_api)
    assert event.detected_at - CLOCK.replace(microsecond=0) == timedelta(hours=9)


def test_recovery_resolves_the_original_problem() -> None:
    asked: list[str] = []

    def lookup(event_id: str) -> datetime | None:
        asked.append(event_id)
        return None

    event = parse_webhook(INSTANCE, body("recovery"), RECEIVED, lookup)
    assert asked == ["30"]  # the recovery event's own clock, not the problem's
    assert event.kind is EventKind.RECOVERY
    assert event.event_key == "zabbix:e2e:30"
    assert event.problem_key == "zabbix:e2e:29"
    assert event.detected_at == datetime(2026, 11, 24, 15, 41, 16, tzinfo=TOKYO)
    assert event.detected_at_estimated


def test_update_is_its_own_event() -> None:
    event = parse_webhook(INSTANCE, body("update"), RECEIVED, no_api)
    assert event.kind is EventKind.UPDATE
    assert event.problem_key == "zabbix:e2e:29"
    assert event.event_key.startswith("zabbix:e2e:29:update-")
    assert event.detected_at == datetime(2026, 11, 24, 15, 41, 13, tzinfo=TOKYO)
    again = parse_webhook(INSTANCE, body("update"), RECEIVED, no_api)
    assert again.event_key == event.event_key  # a retried delivery is idempotent
    other = parse_webhook(
        INSTANCE, body("update") | {"update_message": "another note"}, RECEIVED, no_api
    )
    assert other.event_key != event.event_key


def test_fixture_shapes_from_the_shared_samples() -> None:
    """The shared 6.0.14 samples' values mapped onto the media type's field names."""
    base = body("problem") | {"event_date": "2026.11.24", "event_time": "00:52:55"}
    problem = parse_webhook(INSTANCE, base | {"event_id": "21"}, RECEIVED, no_api)
    assert problem.detected_at == datetime(2026, 11, 23, 15, 52, 55, tzinfo=UTC)
    recovery = parse_webhook(
        INSTANCE,
        base
        | {
            "event_id": "19",
            "event_value": "0",
            "recovery_id": "20",
            "recovery_date": "2026.11.24",
            "recovery_time": "00:52:09",
        },
        RECEIVED,
        no_api,
    )
    assert (recovery.event_key, recovery.problem_key) == ("zabbix:e2e:20", "zabbix:e2e:19")


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("0", Severity.INFO),
        ("1", Severity.INFO),
        ("2", Severity.WARNING),
        ("3", Severity.AVERAGE),
        ("4", Severity.HIGH),
        ("5", Severity.CRITICAL),
    ],
)
def test_severities(level: str, severity: Severity) -> None:
    assert (
        parse_webhook(INSTANCE, body("problem") | {"severity": level}, RECEIVED, no_api).severity
        is severity
    )


def test_unexpanded_optional_macros_are_absent() -> None:
    event = parse_webhook(
        INSTANCE,
        body("problem")
        | {
            "tags": "{EVENT.TAGSJSON}",
            "host_groups": "{TRIGGER.HOSTGROUP.NAME}",
            "host_id": "*UNKNOWN*",
            "event_name": "{EVENT.NAME}",
        },
        RECEIVED,
        no_api,
    )
    assert event.resource_ids == {
        "zabbix.instance": "e2e",
        "zabbix.host": "slad-e2e-88d63b94",
        "zabbix.trigger": "23137",
    }
    assert event.title == "Zabbix event 29"


def test_tags_as_a_json_string_and_several_groups() -> None:
    event = parse_webhook(
        INSTANCE,
        body("problem")
        | {"tags": '[{"tag":"env","value":"prod"}]', "host_groups": "Linux servers, Web"},
        RECEIVED,
        no_api,
    )
    assert event.resource_ids["zabbix.tag.env"] == "prod"
    assert event.resource_ids["zabbix.hostgroup.Linux servers"] == "Linux servers"
    assert event.resource_ids["zabbix.hostgroup.Web"] == "Web"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_id": "{EVENT.ID}"}, "event_id"),
        ({"event_id": None}, "event_id"),
        ({"event_value": "2"}, "event_value"),
        ({"severity": "7"}, "severity"),
        ({"severity": "High"}, "severity"),
        ({"event_date": "24/11/2026"}, "date"),
        ({"event_time": "{EVENT.TIME}"}, "event_time"),
        ({"event_value": "0"}, "recovery_id"),  # a recovery without its own event id
        ({"tags": "{not json"}, "tags"),
        ({"tags": [1, 2]}, "tags"),
        ({"host": ["a"]}, "host"),
        ({"instance": "other"}, "instance"),
    ],
)
def test_malformed_bodies(change: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedWebhook, match=message):
        parse_webhook(INSTANCE, body("problem") | change, RECEIVED, no_api)


@pytest.mark.parametrize("raw_body", [b"not json", b"[1]", b"\xff\xfe"])
def test_decode_rejects_non_objects(raw_body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        decode_body(raw_body)


def test_malformed_is_a_value_error_and_received_at_must_be_aware() -> None:
    assert issubclass(MalformedWebhook, ValueError)
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_webhook(INSTANCE, body("problem"), datetime(2026, 1, 1), no_api)


def test_signature_is_over_the_exact_bytes() -> None:
    payload = b'{"a":1}'
    digest = hmac.new(b"k", payload, hashlib.sha256).hexdigest()
    assert verify_signature("k", payload, f"sha256={digest}")
    assert verify_signature("k", payload, f"  sha256={digest}  ")
    assert not verify_signature("k", b'{"a": 1}', f"sha256={digest}")
