"""The Zabbix connector against a real Zabbix 6.0: webhooks, API, maintenance, write-back."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.events import EventKind, Severity
from connectors.zabbix import (
    SIGNATURE_HEADER,
    OneTimePeriod,
    RecurringPeriod,
    ZabbixClient,
    ZabbixInstance,
    decode_body,
    parse_webhook,
    verify_signature,
)
from tests.e2e.slad_process import wait_for
from tests.e2e.zabbix.conftest import Delivery, WebhookReceiver, ZabbixE2E

pytestmark = pytest.mark.e2e

SECRET = "e2e-shared-secret"
KEY = "slad.e2e.value"


@dataclass
class Scenario:
    instance: ZabbixInstance
    client: ZabbixClient
    host: str
    host_id: str
    group: str


@pytest.fixture(scope="module")
def scenario(zabbix: ZabbixE2E, webhook_receiver: WebhookReceiver) -> Scenario:
    suffix = uuid.uuid4().hex[:8]
    instance = ZabbixInstance(
        name="e2e",
        api_url=zabbix.api_url,
        api_token=zabbix.token,
        timezone=ZoneInfo(zabbix.server_tz),
        webhook_secret=SECRET,
        acknowledge=True,
    )
    media_type_id = zabbix.import_media_type(SECRET, instance.name)
    group = f"slad e2e {suffix}"
    group_id = zabbix.host_group(group)
    host = f"slad-e2e-{suffix}"
    host_id = zabbix.create_host(host, group_id, tags={"customer": "acme"})
    zabbix.create_trapper_trigger(
        host_id, host, KEY, f"Value high on {host}", priority=4, tags={"service": "web"}
    )
    zabbix.create_webhook_action(
        f"slad e2e {suffix}", media_type_id, webhook_receiver.url, group_id
    )
    zabbix.reload_config()
    return Scenario(instance, ZabbixClient(instance), host, host_id, group)


def _delivery(receiver: WebhookReceiver, host: str, **fields: str) -> Delivery:
    def matches(delivery: Delivery) -> bool:
        body = json.loads(delivery.body)
        return body.get("host") == host and all(body.get(k) == v for k, v in fields.items())

    return wait_for(lambda: receiver.find(matches), 90, f"webhook {fields} for {host}")


def test_problem_update_recovery_reconcile(
    zabbix: ZabbixE2E, webhook_receiver: WebhookReceiver, scenario: Scenario
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    client, instance = scenario.client, scenario.instance
    zabbix.send_value(scenario.host, KEY, "10")

    delivery = _delivery(webhook_receiver, scenario.host, event_value="1", update_status="0")
    assert delivery.path == "/v1/webhooks/zabbix/e2e"
    assert delivery.headers["X-Slad-Instance"] == "e2e"
    assert verify_signature(SECRET, delivery.body, delivery.headers[SIGNATURE_HEADER])
    assert not verify_signature("other", delivery.body, delivery.headers[SIGNATURE_HEADER])

    body = decode_body(delivery.body)
    received = datetime.now(UTC)
    problem = parse_webhook(instance, body, received, client.event_detected_at)
    api_event = zabbix.call(
        "event.get", {"eventids": [body["event_id"]], "output": ["clock", "ns"]}
    )[0]
    exact = datetime.fromtimestamp(int(api_event["clock"]), UTC) + timedelta(
        microseconds=int(api_event["ns"]) // 1000
    )
    assert problem.kind is EventKind.PROBLEM
    assert problem.detected_at == exact
    assert not problem.detected_at_estimated
    assert problem.severity is Severity.HIGH
    assert problem.title == f"Value high on {scenario.host}"
    assert problem.resource_ids["zabbix.host"] == scenario.host
    assert problem.resource_ids["zabbix.hostid"] == scenario.host_id
    assert problem.resource_ids["zabbix.tag.customer"] == "acme"
    assert problem.resource_ids["zabbix.tag.service"] == "web"
    assert problem.resource_ids[f"zabbix.hostgroup.{scenario.group}"] == scenario.group
    assert body["recovery_id"] == "{EVENT.RECOVERY.ID}"  # unexpanded in a problem

    # Without the API, the local {EVENT.DATE} {EVENT.TIME} in the server's zone is used.
    fallback = parse_webhook(instance, body, received, lambda _: None)
    assert fallback.detected_at_estimated
    assert fallback.detected_at == exact.replace(microsecond=0)

    # As if the webhook had been lost: reconciliation yields the same problem.
    reconciled = {e.event_key: e for e in client.reconcile(started, datetime.now(UTC))}
    assert reconciled[problem.event_key].detected_at == exact
    assert reconciled[problem.event_key].resource_ids == problem.resource_ids
    assert reconciled[problem.event_key].kind is EventKind.PROBLEM

    # Write-back adds a message, which Zabbix also announces as an update.
    assert client.acknowledge(body["event_id"], "slad: customer contacted")
    # 6.0 spells it select_acknowledges (selectAcknowledges from 6.4 on).
    acks = zabbix.call(
        "event.get", {"eventids": [body["event_id"]], "select_acknowledges": "extend"}
    )[0]["acknowledges"]
    assert [a["message"] for a in acks] == ["slad: customer contacted"]
    update_delivery = _delivery(webhook_receiver, scenario.host, update_status="1")
    update = parse_webhook(
        instance, decode_body(update_delivery.body), received, client.event_detected_at
    )
    assert update.kind is EventKind.UPDATE
    assert update.problem_key == problem.problem_key
    assert update.event_key.startswith(problem.event_key + ":update-")
    assert update.raw["update_message"] == "slad: customer contacted"

    zabbix.send_value(scenario.host, KEY, "0")
    recovery_delivery = _delivery(webhook_receiver, scenario.host, event_value="0")
    assert verify_signature(
        SECRET, recovery_delivery.body, recovery_delivery.headers[SIGNATURE_HEADER]
    )
    recovery = parse_webhook(
        instance, decode_body(recovery_delivery.body), datetime.now(UTC), client.event_detected_at
    )
    assert recovery.kind is EventKind.RECOVERY
    assert recovery.problem_key == problem.problem_key
    assert recovery.event_key != problem.event_key
    assert recovery.detected_at >= problem.detected_at
    assert not recovery.detected_at_estimated

    # A missed recovery is found by reconciliation too.
    reconciled = {e.event_key: e for e in client.reconcile(started, datetime.now(UTC))}
    assert reconciled[recovery.event_key].kind is EventKind.RECOVERY
    assert reconciled[recovery.event_key].detected_at == recovery.detected_at


def test_maintenance_maps_to_host_and_interval(zabbix: ZabbixE2E, scenario: Scenario) -> None:
    tz = scenario.instance.timezone
    since = datetime(2030, 1, 1, tzinfo=tz)
    till = datetime(2031, 1, 1, tzinfo=tz)
    one_time = datetime(2030, 3, 10, 1, 0, tzinfo=tz)
    created = zabbix.call(
        "maintenance.create",
        {
            "name": f"slad e2e {scenario.host}",
            "active_since": int(since.timestamp()),
            "active_till": int(till.timestamp()),
            "hosts": [{"hostid": scenario.host_id}],
            "timeperiods": [
                {"timeperiod_type": 0, "start_date": int(one_time.timestamp()), "period": 7200},
                {
                    "timeperiod_type": 3,
                    "every": 1,
                    "dayofweek": 64,
                    "start_time": 7200,
                    "period": 7200,
                },
            ],
        },
    )
    maintenance_id = str(created["maintenanceids"][0])
    found = {m.maintenance_id: m for m in scenario.client.maintenances()}[maintenance_id]
    assert found.hosts == (scenario.host,)
    assert (found.active_since, found.active_till) == (since, till)
    periods = set(found.periods)
    assert OneTimePeriod(one_time, one_time + timedelta(hours=2)) in periods
    weekly = next(p for p in periods if isinstance(p, RecurringPeriod))
    assert weekly.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=SU;WKST=MO;UNTIL=20301231T150000Z"
    assert weekly.dtstart == datetime(2030, 1, 6, 2, 0, tzinfo=tz)
    assert weekly.duration == timedelta(hours=2)
    states = {h.host: h for h in scenario.client.host_maintenance()}
    assert not states[scenario.host].in_maintenance
