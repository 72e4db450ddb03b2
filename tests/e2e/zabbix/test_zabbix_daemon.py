"""slad as a real process against a real Zabbix 6.0: webhooks, reconciliation, maintenance.

One scenario, run in order: the daemon is configured like the README tells a user,
Zabbix notifies it through the shipped media type, and every instant slad stores is
compared with Zabbix's own (`event.get`). A second action copies each notification to
the local receiver, so a test can redeliver exactly what Zabbix sent. The scenario's plan
groups per problem; a second host, on a plan grouping per resource (the default), shows
flapping triggers making one incident.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from connectors.zabbix import SIGNATURE_HEADER
from tests.e2e.slad_process import free_port, wait_for
from tests.e2e.zabbix.conftest import SladDaemon, WebhookReceiver, ZabbixE2E

pytestmark = pytest.mark.e2e

T = TypeVar("T")

SECRET = "e2e-shared-secret"  # the media type is shared with the connector's e2e tests
KEY = "slad.daemon.value"
WINDOWS = "/v1/maintenance-windows"


@dataclass
class Scenario:
    slad: SladDaemon
    host: str
    host_id: str
    trigger_id: str
    resource_id: int
    action_id: str


def zabbix_instant(event: dict[str, Any]) -> datetime:
    clock = datetime.fromtimestamp(int(event["clock"]), UTC)
    return clock + timedelta(microseconds=int(event["ns"]) // 1000)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def scenario(
    zabbix: ZabbixE2E, webhook_receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    workdir: Path = tmp_path_factory.mktemp("slad")
    port = free_port()
    slad = SladDaemon(
        workdir=workdir,
        port=port,
        config_text=f"""
[server]
host = "127.0.0.1"
port = {port}

[database]
url = "sqlite:///{workdir / "slad.db"}"

[log]
format = "text"

[zabbix]
lookback_seconds = 3600

[zabbix.instances.e2e]
api_url = "{zabbix.api_url}"
api_token = "{zabbix.token}"
timezone = "{zabbix.server_tz}"
webhook_secret = "{SECRET}"
poll_interval_seconds = 2

# Each test fires the one trigger anew and follows that problem's own incident.
[plans.standard]
group_by = "problem"
""",
    )
    slad.prepare()
    slad.start()
    suffix = uuid.uuid4().hex[:8]
    host = f"slad-daemon-{suffix}"
    customer = slad.ok("POST", "/v1/customers", json={"name": f"e2e {suffix}"})
    contract = slad.ok(
        "POST",
        "/v1/contracts",
        json={"customer_id": customer["id"], "plan": "standard", "billing_start": "2026-01-01"},
    )
    resource = slad.ok(
        "POST",
        "/v1/resources",
        json={
            "contract_id": contract["id"],
            "name": host,
            "kind": "vm",
            "selectors": [{"zabbix.host": host}],
        },
    )
    media_type_id = zabbix.import_media_type(SECRET, "e2e")
    group_id = zabbix.host_group(f"slad daemon {suffix}")
    host_id = zabbix.create_host(host, group_id)
    trigger_id = zabbix.create_trapper_trigger(host_id, host, KEY, f"Value high on {host}")
    action_id = zabbix.create_webhook_action(
        f"slad daemon {suffix}", media_type_id, f"{slad.url}/v1/webhooks/zabbix/e2e", group_id
    )
    zabbix.create_webhook_action(
        f"slad daemon copy {suffix}", media_type_id, webhook_receiver.url, group_id
    )
    zabbix.reload_config()  # actions are read from the configuration cache
    yield Scenario(slad, host, host_id, trigger_id, resource["id"], action_id)
    slad.stop()


def problem_events(zabbix: ZabbixE2E, trigger_id: str) -> list[dict[str, Any]]:
    return list(
        zabbix.call(
            "event.get",
            {
                "output": ["eventid", "clock", "ns", "r_eventid"],
                "objectids": [trigger_id],
                "source": 0,
                "object": 0,
                "value": 1,
                "sortfield": ["eventid"],
                "sortorder": "ASC",
            },
        )
    )


def push(zabbix: ZabbixE2E, host: str, key: str, trigger_id: str, value: str) -> dict[str, Any]:
    """Push a value to `host:key` and return the problem event of `trigger_id` it opened
    (value 10) or the one it closed (value 1)."""
    events = problem_events(zabbix, trigger_id)
    if value == "10" and events and events[-1]["r_eventid"] == "0":
        # a test that failed half-way left its problem open: close it, so this firing
        # opens a problem of its own instead of timing out as well
        zabbix.send_value(host, key, "1")
        wait_for(
            lambda: problem_events(zabbix, trigger_id)[-1]["r_eventid"] != "0",
            60,
            "Zabbix to close the problem left open",
        )
        events = problem_events(zabbix, trigger_id)
    before = {e["eventid"] for e in events}
    zabbix.send_value(host, key, value)
    if value == "10":
        return wait_for(
            lambda: next(
                (e for e in problem_events(zabbix, trigger_id) if e["eventid"] not in before), None
            ),
            60,
            "Zabbix to open the problem",
        )
    latest = max(before, key=int)
    return wait_for(
        lambda: next(
            (
                e
                for e in problem_events(zabbix, trigger_id)
                if e["eventid"] == latest and e["r_eventid"] != "0"
            ),
            None,
        ),
        60,
        "Zabbix to close the problem",
    )


DELIVERY_TIMEOUT = 120.0
"""The media type sends one notification at a time and retries a failed one twice,
10 s apart with a 10 s timeout: one failing notification ahead in the queue holds the
others for up to 50 s."""


def delivered(
    zabbix: ZabbixE2E, s: Scenario, probe: Callable[[], T | None], event_ids: list[str], what: str
) -> T:
    """`wait_for` a notification; on a timeout, say what Zabbix and slad made of it."""
    try:
        return wait_for(probe, DELIVERY_TIMEOUT, what)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nZabbix's alerts:\n{zabbix.alerts(event_ids)}\n"
            f"zabbix_server.log:\n{zabbix.server_log()}\nslad.log:\n{s.slad.log_tail()}"
        ) from exc


def fire(zabbix: ZabbixE2E, s: Scenario, value: str) -> dict[str, Any]:
    """Push a value to the scenario's trigger (see `push`)."""
    return push(zabbix, s.host, KEY, s.trigger_id, value)


def incident_of(s: Scenario, key: str, status: str | None = None) -> dict[str, Any] | None:
    """The incident of the resource whose alert has problem key `key`, once slad has it."""
    page = s.slad.ok("GET", "/v1/incidents", params={"limit": 200})
    for item in page["items"]:
        if item["resource_id"] == s.resource_id and (status is None or item["status"] == status):
            detail = s.slad.ok("GET", f"/v1/incidents/{item['id']}")
            if any(a["problem_key"] == key for a in detail["alerts"]):
                return dict(detail)
    return None


def problem_key(event_id: str) -> str:
    return f"zabbix:e2e:{event_id}"


def store_counts(s: Scenario) -> tuple[int, int]:
    incidents = s.slad.ok("GET", "/v1/incidents", params={"limit": 200})["items"]
    alerts = s.slad.ok("GET", "/v1/alerts", params={"limit": 200})["items"]
    return len(incidents), len(alerts)


def test_webhook_opens_at_the_zabbix_clock_and_recovery_resolves(
    zabbix: ZabbixE2E, scenario: Scenario
) -> None:
    event = fire(zabbix, scenario, "10")
    key = problem_key(event["eventid"])
    incident = wait_for(lambda: incident_of(scenario, key), 90, "slad to open the incident")
    assert parse(incident["detected_at"]) == zabbix_instant(event)
    assert incident["detected_at_estimated"] is False
    assert parse(incident["received_at"]) >= parse(incident["detected_at"])
    delivered(
        zabbix,
        scenario,
        lambda: zabbix.call(
            "alert.get",
            {
                "actionids": [scenario.action_id],
                "eventids": [event["eventid"]],
                "filter": {"status": 1},
                "output": ["alertid"],
            },
        ),
        [event["eventid"]],
        "Zabbix to record slad's 2xx for the webhook",
    )

    closed = fire(zabbix, scenario, "1")
    recovery = zabbix.call(
        "event.get", {"eventids": [closed["r_eventid"]], "output": ["eventid", "clock", "ns"]}
    )[0]
    resolved = wait_for(
        lambda: incident_of(scenario, key, "resolved"), 90, "slad to resolve the incident"
    )
    assert parse(resolved["resolved_at"]) == zabbix_instant(recovery)


def test_redelivered_webhook_changes_nothing(
    zabbix: ZabbixE2E, scenario: Scenario, webhook_receiver: WebhookReceiver
) -> None:
    copy = delivered(
        zabbix,
        scenario,
        lambda: webhook_receiver.find(lambda d: scenario.host.encode() in d.body),
        [e["eventid"] for e in problem_events(zabbix, scenario.trigger_id)],
        "the copy of a notification",
    )
    before = store_counts(scenario)
    headers = {SIGNATURE_HEADER: copy.headers[SIGNATURE_HEADER], "Content-Type": "application/json"}
    answer = scenario.slad.ok("POST", "/v1/webhooks/zabbix/e2e", content=copy.body, headers=headers)
    assert [r["status"] for r in answer["results"]] == ["duplicate"]
    assert store_counts(scenario) == before


def test_wrong_signature_is_refused_and_stores_nothing(
    scenario: Scenario, webhook_receiver: WebhookReceiver
) -> None:
    copy = webhook_receiver.find(lambda d: scenario.host.encode() in d.body)
    assert copy is not None
    before = store_counts(scenario)
    forged = "sha256=" + hmac.new(b"not-the-secret", copy.body, hashlib.sha256).hexdigest()
    answer = scenario.slad.request(
        "POST", "/v1/webhooks/zabbix/e2e", content=copy.body, headers={SIGNATURE_HEADER: forged}
    )
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:slad:problem:bad-signature"
    assert store_counts(scenario) == before


def test_problem_while_slad_is_down_is_reconciled_at_restart(
    zabbix: ZabbixE2E, scenario: Scenario
) -> None:
    scenario.slad.stop()
    zabbix.call("action.update", {"actionid": scenario.action_id, "status": 1})
    try:
        event = fire(zabbix, scenario, "10")
    finally:
        zabbix.call("action.update", {"actionid": scenario.action_id, "status": 0})
        scenario.slad.start()  # the later tests of the module need it running
    key = problem_key(event["eventid"])
    incident = wait_for(lambda: incident_of(scenario, key), 60, "the poller to catch up")
    assert parse(incident["detected_at"]) == zabbix_instant(event)
    assert incident["detected_at_estimated"] is False
    fire(zabbix, scenario, "1")
    wait_for(lambda: incident_of(scenario, key, "resolved"), 60, "the poller to resolve it")


def contact_due(s: Scenario, incident_id: int) -> datetime:
    detail = s.slad.ok("GET", f"/v1/incidents/{incident_id}")
    return parse(next(c for c in detail["clocks"] if c["name"] == "contact")["slo_due"])


def test_zabbix_maintenance_moves_the_due_instants(zabbix: ZabbixE2E, scenario: Scenario) -> None:
    event = fire(zabbix, scenario, "10")
    incident = wait_for(
        lambda: incident_of(scenario, problem_key(event["eventid"])),
        90,
        "slad to open the incident",
    )
    detected = zabbix_instant(event)
    assert contact_due(scenario, incident["id"]) == detected + timedelta(minutes=30)

    start = (int(event["clock"]) - 300) // 60 * 60  # Zabbix keeps whole minutes
    created = zabbix.call(
        "maintenance.create",
        {
            "name": f"slad daemon {scenario.host}",
            "active_since": start - 3600,
            "active_till": start + 86400,
            "hosts": [{"hostid": scenario.host_id}],
            "timeperiods": [{"timeperiod_type": 0, "start_date": start, "period": 1800}],
        },
    )
    maintenance_id = str(created["maintenanceids"][0])
    try:
        ref = f"zabbix:e2e:{maintenance_id}:0:{scenario.resource_id}"
        window = wait_for(
            lambda: next(
                (w for w in scenario.slad.ok("GET", WINDOWS) if w["external_ref"] == ref), None
            ),
            60,
            "slad to take over the maintenance",
        )
        assert (window["scope"], window["scope_ref"], window["kind"]) == (
            "resource",
            scenario.resource_id,
            "maintenance",
        )
        window_end = datetime.fromtimestamp(start + 1800, UTC)
        assert parse(window["end"]) == window_end
        # detected inside the window: the clock starts counting when the window ends
        moved = window_end + timedelta(minutes=30)
        wait_for(
            lambda: contact_due(scenario, incident["id"]) == moved, 30, "the due instant to move"
        )
    finally:
        zabbix.call("maintenance.delete", [maintenance_id])
    wait_for(
        lambda: contact_due(scenario, incident["id"]) == detected + timedelta(minutes=30),
        60,
        "the due instant to move back once the maintenance is deleted",
    )
    fire(zabbix, scenario, "1")


@dataclass
class Flapping:
    """A host of a contract on a plan grouping per resource (the default), with two
    trapper triggers, both notifying slad."""

    host: str
    resource_id: int
    triggers: dict[str, str]  # item key -> trigger id


@pytest.fixture(scope="module")
def flapping(zabbix: ZabbixE2E, scenario: Scenario) -> Flapping:
    slad = scenario.slad
    suffix = uuid.uuid4().hex[:8]
    host = f"slad-flap-{suffix}"
    customer = slad.ok("POST", "/v1/customers", json={"name": f"e2e flapping {suffix}"})
    contract = slad.ok(
        "POST",
        "/v1/contracts",
        json={"customer_id": customer["id"], "plan": "full_managed", "billing_start": "2026-01-01"},
    )
    resource = slad.ok(
        "POST",
        "/v1/resources",
        json={
            "contract_id": contract["id"],
            "name": host,
            "kind": "vm",
            "selectors": [{"zabbix.host": host}],
        },
    )
    media_type_id = zabbix.import_media_type(SECRET, "e2e")
    group_id = zabbix.host_group(f"slad flapping {suffix}")
    host_id = zabbix.create_host(host, group_id)
    triggers = {
        key: zabbix.create_trapper_trigger(host_id, host, key, f"{name} high on {host}")
        for key, name in (("slad.flap.cpu", "CPU"), ("slad.flap.disk", "Disk"))
    }
    zabbix.create_webhook_action(
        f"slad flapping {suffix}", media_type_id, f"{slad.url}/v1/webhooks/zabbix/e2e", group_id
    )
    zabbix.reload_config()
    return Flapping(host, resource["id"], triggers)


def incidents_of(slad: SladDaemon, resource_id: int) -> list[dict[str, Any]]:
    """Every incident of the resource, in detail, oldest first."""
    page = slad.ok("GET", "/v1/incidents", params={"resource": resource_id, "limit": 200})
    return [slad.ok("GET", f"/v1/incidents/{i['id']}") for i in reversed(page["items"])]


def test_flapping_triggers_of_one_host_make_one_incident(
    zabbix: ZabbixE2E, scenario: Scenario, flapping: Flapping
) -> None:
    """Two triggers of one host flap (fire, recover, fire again within reopen_minutes,
    the second firing while the first is open): the customer is owed one contact and
    one report for one failure, counted from the first detection."""
    slad, cpu, disk = scenario.slad, "slad.flap.cpu", "slad.flap.disk"

    def flap(key: str, value: str) -> dict[str, Any]:
        return push(zabbix, flapping.host, key, flapping.triggers[key], value)

    def settled(keys: list[str], status: str) -> dict[str, Any] | None:
        """The resource's one incident once it has the alerts of `keys` and `status`."""
        found = incidents_of(slad, flapping.resource_id)
        assert len(found) <= 1, f"a second incident for one failure: {found}"
        if not found or found[0]["status"] != status:
            return None
        has = {a["problem_key"] for a in found[0]["alerts"]}
        return found[0] if set(keys) <= has else None

    first = flap(cpu, "10")
    keys = [problem_key(first["eventid"])]
    incident = wait_for(lambda: settled(keys, "open"), 90, "slad to open the incident")
    contacted = slad.ok("POST", f"/v1/incidents/{incident['id']}/contact", json={})
    keys.append(problem_key(flap(disk, "10")["eventid"]))
    wait_for(lambda: settled(keys, "open"), 90, "the second trigger to join the incident")
    flap(cpu, "1")
    flap(disk, "1")
    wait_for(lambda: settled(keys, "resolved"), 90, "slad to resolve the incident")
    keys.append(problem_key(flap(cpu, "10")["eventid"]))
    wait_for(lambda: settled(keys, "open"), 90, "the refire to re-open the incident")
    keys.append(problem_key(flap(disk, "10")["eventid"]))
    body = wait_for(lambda: settled(keys, "open"), 90, "the second refire to join it")

    assert body["id"] == incident["id"]
    assert parse(body["detected_at"]) == zabbix_instant(first), "the first detection stands"
    assert body["detected_at_estimated"] is False
    assert sorted(a["problem_key"] for a in body["alerts"]) == sorted(keys)
    kinds = [t["kind"] for t in body["timeline"]]
    assert (kinds.count("detected"), kinds.count("reopened")) == (1, 1), kinds
    clocks = {c["name"]: c for c in body["clocks"]}
    assert sorted(clocks) == ["contact", "report"]
    assert parse(clocks["contact"]["start"]) == zabbix_instant(first)
    assert (clocks["contact"]["state"], clocks["contact"]["outcome"]) == ("stopped", "met")
    assert clocks["report"]["state"] == "running"
    assert clocks["report"]["start"] == contacted["contacted_at"], "one contact, kept"
    again = slad.request("POST", f"/v1/incidents/{incident['id']}/contact", json={})
    assert again.status_code == 409, "the customer was contacted once for this failure"
    owed = slad.ok(
        "GET", "/v1/incidents", params={"resource": flapping.resource_id, "owed": "true"}
    )["items"]
    assert [i["id"] for i in owed] == [incident["id"]], "the report is owed once"

    reported = slad.ok("POST", f"/v1/incidents/{incident['id']}/report", json={})
    report = next(c for c in reported["clocks"] if c["name"] == "report")
    assert (report["state"], report["outcome"]) == ("stopped", "met")
    assert (
        slad.ok("GET", "/v1/incidents", params={"resource": flapping.resource_id, "owed": "true"})[
            "items"
        ]
        == []
    )
    flap(cpu, "1")
    flap(disk, "1")
    wait_for(lambda: settled(keys, "resolved"), 90, "slad to resolve the incident again")
    assert len(incidents_of(slad, flapping.resource_id)) == 1
