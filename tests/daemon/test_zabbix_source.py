"""Zabbix in the daemon: the signed webhook, reconciliation, maintenance sync, health, write-back.

No real Zabbix here: `FakeZabbix` is an `ApiCaller` holding a tiny Zabbix state (events,
hosts, maintenances) that the tests change between polls, swapped into the instance's
client through the connector's caller seam. The poller runs with the test's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.zabbix import SIGNATURE_HEADER, ZabbixClient
from connectors.zabbix.source import ZabbixSource
from daemon.sources.runner import InstanceRunner, build_sources
from daemon.store.models import AlertEventRecord, AuditEntry, MaintenanceWindow
from sla_engine.policy import DEFAULT_PLANS, apply_overrides
from tests.daemon.conftest import Api, ApiFactory, seed_registry

SECRET = "s3cret-for-tests"
DETECTED = datetime(2026, 11, 24, 0, 52, 55, 653839, tzinfo=UTC)  # clock 1795481575.653839515


def epoch(at: datetime) -> int:
    return int(at.timestamp())


class FakeZabbix:
    """Answers the API methods slad uses from `events`, `hosts` and `maintenances`."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.hosts = [
            {
                "hostid": "10563",
                "host": "web01",
                "groups": [{"name": "Web"}],
                "tags": [{"tag": "customer", "value": "acme"}],
            },
            {"hostid": "10564", "host": "db01", "groups": [{"name": "DB"}], "tags": []},
        ]
        self.maintenances: list[dict[str, Any]] = []
        self.acknowledged: list[tuple[list[str], str]] = []
        self.down = False
        self.calls = 0

    @property
    def version(self) -> tuple[int, int]:
        return (6, 0)

    def problem(self, event_id: str, at: datetime, host: str = "web01") -> None:
        self.events[event_id] = {
            "eventid": event_id,
            "clock": str(epoch(at)),
            "ns": str(at.microsecond * 1000),
            "r_eventid": "0",
            "severity": "4",
            "name": f"Problem {event_id} on {host}",
            "objectid": "23137",
            "value": "1",
            "hosts": [{"hostid": "10563", "host": host, "name": host}],
            "tags": [{"tag": "service", "value": "web"}],
        }

    def recover(self, problem_id: str, recovery_id: str, at: datetime) -> None:
        self.events[problem_id]["r_eventid"] = recovery_id
        self.events[recovery_id] = {
            "eventid": recovery_id,
            "clock": str(epoch(at)),
            "ns": str(at.microsecond * 1000),
            "r_eventid": "0",
            "value": "0",
        }

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        self.calls += 1
        if self.down:
            raise OSError("connection refused")
        if method == "event.get" and "eventids" in params:
            return [self.events[i] for i in params["eventids"] if i in self.events]
        if method == "event.get":
            since, till = params["problem_time_from"], params["problem_time_till"]
            return [
                e
                for e in self.events.values()
                if e["value"] == "1"
                and int(e["clock"]) <= till
                and (e["r_eventid"] == "0" or int(self.events[e["r_eventid"]]["clock"]) >= since)
            ]
        if method == "host.get":
            return self.hosts
        if method == "maintenance.get":
            return self.maintenances
        if method == "event.acknowledge":
            self.acknowledged.append((list(params["eventids"]), params["message"]))
            return {"eventids": params["eventids"]}
        raise AssertionError(f"unexpected API call {method}")


def section(**instance: Any) -> dict[str, Any]:
    table = {
        "api_url": "http://zabbix.test/api_jsonrpc.php",
        "api_token": "t",
        "timezone": "Asia/Tokyo",
        "webhook_secret": SECRET,
        "failure_threshold": 2,
        **instance,
    }
    return {"instances": {"main": table}, "lookback_seconds": 3600}


@pytest.fixture
def fake() -> FakeZabbix:
    return FakeZabbix()


def zabbix_api(
    api_factory: ApiFactory,
    fake: FakeZabbix,
    changes: Mapping[str, Any] | None = None,
    **instance: Any,
) -> Api:
    api = api_factory(sections={"zabbix": section(**instance)}, **(changes or {}))
    use_fake(api.services.sources.runner("zabbix", "main"), fake)
    return api


def use_fake(runner: InstanceRunner | None, fake: FakeZabbix) -> None:
    """Point the runner's Zabbix client at `fake`."""
    assert runner is not None and isinstance(runner.connector, ZabbixSource)
    runner.connector.clients["main"] = ZabbixClient(runner.instance, fake)


@pytest.fixture
def api(api_factory: ApiFactory, fake: FakeZabbix) -> Api:
    return zabbix_api(api_factory, fake)


@pytest.fixture
def per_problem(api_factory: ApiFactory, fake: FakeZabbix) -> Api:
    """The plan opens an incident per problem, so each Zabbix problem can be followed
    to an incident of its own."""
    plans = apply_overrides(DEFAULT_PLANS, {"standard": {"group_by": "problem"}})
    return zabbix_api(api_factory, fake, {"plans": plans})


def poller(api: Api) -> InstanceRunner:
    runner = api.services.sources.runner("zabbix", "main")
    assert runner is not None
    return runner


def poll(api: Api) -> None:
    """One poll, then correlation of what it put in the inbox."""
    poller(api).poll(api.clock())
    api.services.correlator.run_pending()


def body(
    event_id: str = "29",
    value: str = "1",
    recovery_id: str = "{EVENT.RECOVERY.ID}",
    host: str = "web01",
) -> dict[str, Any]:
    return {
        "event_date": "2026.11.24",
        "event_time": "09:52:55",
        "event_id": event_id,
        "event_name": f"Problem {event_id} on {host}",
        "event_value": value,
        "host": host,
        "host_groups": "Web",
        "host_id": "10563",
        "severity": "4",
        "tags": [{"tag": "service", "value": "web"}],
        "trigger_id": "23137",
        "recovery_date": "2026.11.24",
        "recovery_time": "10:05:00",
        "recovery_id": recovery_id,
        "update_status": "0",
        "instance": "main",
    }


def sign(raw: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {SIGNATURE_HEADER: f"sha256={digest}", "Content-Type": "application/json"}


def deliver(
    api: Api, payload: dict[str, Any] | bytes, secret: str = SECRET, instance: str = "main"
) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    path = f"/v1/webhooks/zabbix/{instance}?wait=true"
    return api.client.post(path, content=raw, headers=sign(raw, secret))


def incidents(api: Api) -> list[dict[str, Any]]:
    return list(api.ok(api.get("/v1/incidents"))["items"])


def stored_events(api: Api) -> int:
    with api.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AlertEventRecord)) or 0)


def contact_due(api: Api, incident_id: int) -> str:
    incident = api.ok(api.get(f"/v1/incidents/{incident_id}"))
    return str(next(c for c in incident["clocks"] if c["name"] == "contact")["slo_due"])


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def same_instant(text: str, at: datetime) -> bool:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) == at


# --- webhook ---------------------------------------------------------------------------


def test_signed_problem_opens_an_incident_at_the_api_clock(api: Api, fake: FakeZabbix) -> None:
    seed_registry(api)
    fake.problem("29", DETECTED)
    answer = api.ok(deliver(api, body()))
    assert answer["results"][0]["status"] == "created"
    (incident,) = incidents(api)
    assert same_instant(incident["detected_at"], DETECTED)
    assert incident["detected_at_estimated"] is False
    assert incident["source"] == "zabbix"


def test_signed_recovery_resolves_it(api: Api, fake: FakeZabbix) -> None:
    seed_registry(api)
    fake.problem("29", DETECTED)
    fake.recover("29", "30", DETECTED + timedelta(minutes=12))
    api.ok(deliver(api, body()))
    answer = api.ok(deliver(api, body(value="0", recovery_id="30")))
    assert answer["results"][0]["status"] == "resolved"
    (incident,) = incidents(api)
    assert incident["status"] == "resolved"
    assert same_instant(incident["resolved_at"], DETECTED + timedelta(minutes=12))


@pytest.mark.parametrize("secret", ["wrong", None])
def test_wrong_or_missing_signature_is_401_and_stores_nothing(
    api: Api, fake: FakeZabbix, secret: str | None
) -> None:
    seed_registry(api)
    fake.problem("29", DETECTED)
    raw = json.dumps(body()).encode()
    headers = sign(raw, secret) if secret else {"Content-Type": "application/json"}
    answer = api.client.post("/v1/webhooks/zabbix/main", content=raw, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:slad:problem:bad-signature"
    assert stored_events(api) == 0 and incidents(api) == []
    assert fake.calls == 0


def test_redelivery_is_a_duplicate(api: Api, fake: FakeZabbix) -> None:
    seed_registry(api)
    fake.problem("29", DETECTED)
    api.ok(deliver(api, body()))
    before = stored_events(api), incidents(api)
    answer = api.ok(deliver(api, body()))
    assert answer["results"][0]["status"] == "duplicate"
    assert (stored_events(api), incidents(api)) == before


@pytest.mark.parametrize("payload", [b"not json", b"[]", json.dumps(body(value="7")).encode()])
def test_malformed_body_is_422(api: Api, payload: bytes) -> None:
    answer = deliver(api, payload)
    assert answer.status_code == 422
    assert answer.json()["type"] == "urn:slad:problem:malformed-webhook"
    assert stored_events(api) == 0


def test_unknown_instance_is_404(api: Api) -> None:
    answer = deliver(api, body(), instance="other")
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:slad:problem:unknown-instance"


def test_api_down_falls_back_to_the_estimated_local_time(api: Api, fake: FakeZabbix) -> None:
    seed_registry(api)
    fake.down = True
    api.ok(deliver(api, body()))
    (incident,) = incidents(api)
    assert incident["detected_at_estimated"] is True
    assert same_instant(incident["detected_at"], datetime(2026, 11, 24, 0, 52, 55, tzinfo=UTC))


# --- reconciliation ----------------------------------------------------------------------


def test_poll_creates_a_missed_problem_and_resolves_a_missed_recovery(
    per_problem: Api, fake: FakeZabbix
) -> None:
    api = per_problem
    seed_registry(api)
    fake.problem("29", DETECTED)
    api.ok(deliver(api, body()))
    fake.recover("29", "30", DETECTED + timedelta(minutes=3))
    missed = DETECTED + timedelta(minutes=5)
    fake.problem("41", missed)
    poll(api)
    by_title = {i["title"]: i for i in incidents(api)}
    assert by_title["Problem 29 on web01"]["status"] == "resolved"
    assert same_instant(
        by_title["Problem 29 on web01"]["resolved_at"], DETECTED + timedelta(minutes=3)
    )
    new = by_title["Problem 41 on web01"]
    assert new["status"] == "open" and same_instant(new["detected_at"], missed)
    assert new["detected_at_estimated"] is False
    count = stored_events(api)
    api.clock.advance(minutes=1)
    poll(api)
    assert stored_events(api) == count


def test_a_fresh_process_reaches_back_to_the_last_stored_event(
    per_problem: Api, fake: FakeZabbix
) -> None:
    api = per_problem
    seed_registry(api)
    fake.problem("29", DETECTED)
    api.ok(deliver(api, body()))
    api.clock.advance(hours=5)  # longer than lookback_seconds: the store tells the gap
    gone = api.clock() - timedelta(hours=4)
    fake.problem("50", gone)
    fake.recover("50", "51", gone + timedelta(minutes=1))
    poll(api)
    titles = {i["title"]: i["status"] for i in incidents(api)}
    assert titles["Problem 50 on web01"] == "resolved"


# --- maintenance --------------------------------------------------------------------------


def maintenance(
    start: datetime, minutes: int, hosts: list[str] | None = None, groups: list[str] | None = None
) -> dict[str, Any]:
    return {
        "maintenanceid": "7",
        "name": "patching",
        "description": "kernel",
        "maintenance_type": "0",
        "active_since": str(epoch(start - timedelta(days=1))),
        "active_till": str(epoch(start + timedelta(days=1))),
        "hosts": [{"hostid": "1", "host": h} for h in hosts or []],
        "groups": [{"groupid": "2", "name": g} for g in groups or []],
        "timeperiods": [
            {
                "timeperiod_type": "0",
                "start_date": str(epoch(start)),
                "period": str(minutes * 60),
                "every": "1",
                "dayofweek": "0",
                "day": "0",
                "month": "0",
                "start_time": "0",
            }
        ],
        "tags": [],
    }


def windows(api: Api) -> list[MaintenanceWindow]:
    with api.services.sessions() as session:
        return list(session.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.id)))


def audits(api: Api, action: str) -> list[AuditEntry]:
    with api.services.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_maintenance_sync_creates_updates_and_deletes_windows(api: Api, fake: FakeZabbix) -> None:
    ids = seed_registry(api)
    fake.problem("29", DETECTED)
    incident_id = api.ok(deliver(api, body()))["results"][0]["incident_id"]
    due = DETECTED + timedelta(minutes=30)
    assert same_instant(contact_due(api, incident_id), due)

    fake.maintenances = [maintenance(DETECTED + timedelta(minutes=10), 20, groups=["Web"])]
    poll(api)
    (window,) = windows(api)
    assert window.external_ref == f"zabbix:main:7:0:{ids['resource']}"
    assert (window.scope, window.scope_ref, window.kind, window.author) == (
        "resource",
        ids["resource"],
        "maintenance",
        "zabbix:main",
    )
    assert window.start_at == DETECTED.replace(microsecond=0) + timedelta(minutes=10)
    assert same_instant(contact_due(api, incident_id), due + timedelta(minutes=20))
    created = audits(api, "window.create")
    assert [a.reason for a in created] == ["synchronised from Zabbix"]

    fake.maintenances = [maintenance(DETECTED + timedelta(minutes=10), 5, hosts=["web01"])]
    api.clock.advance(minutes=1)
    poll(api)
    (updated,) = windows(api)
    assert updated.id == window.id
    assert updated.end_at == window.start_at + timedelta(minutes=5)
    assert same_instant(contact_due(api, incident_id), due + timedelta(minutes=5))
    assert len(audits(api, "window.update")) == 1

    api.clock.advance(minutes=1)
    poll(api)
    assert len(audits(api, "window.update")) == 1  # nothing changed, nothing written

    fake.maintenances = []
    poll(api)
    assert windows(api) == []
    assert same_instant(contact_due(api, incident_id), due)
    assert len(audits(api, "window.delete")) == 1
    timeline = api.ok(api.get(f"/v1/incidents/{incident_id}"))["timeline"]
    assert [e["detail"]["action"] for e in timeline if e["kind"] == "clocks_recomputed"] == [
        "window.create",
        "window.update",
        "window.delete",
    ]


def test_maintenance_of_unmapped_hosts_makes_no_window(api: Api, fake: FakeZabbix) -> None:
    seed_registry(api)
    fake.maintenances = [maintenance(DETECTED, 20, hosts=["db01"], groups=["DB"])]
    poll(api)
    assert windows(api) == []


def test_recurring_maintenance_starts_at_its_first_active_occurrence(
    api: Api, fake: FakeZabbix
) -> None:
    ids = seed_registry(api)
    since = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 12:00 Tokyo: 02:00 that day is before
    daily = {
        **maintenance(since, 0, hosts=["web01"]),
        "active_since": str(epoch(since)),
        "active_till": str(epoch(since + timedelta(days=10))),
        "timeperiods": [
            {
                "timeperiod_type": "2",
                "every": "1",
                "start_time": str(2 * 3600),
                "period": str(2 * 3600),
                "start_date": "0",
                "dayofweek": "0",
                "day": "0",
                "month": "0",
            }
        ],
    }
    fake.maintenances = [daily]
    poll(api)
    (window,) = windows(api)
    assert window.external_ref == f"zabbix:main:7:0:{ids['resource']}"
    assert window.rrule is not None and window.rrule.startswith("FREQ=DAILY;INTERVAL=1")
    assert window.start_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 25th 02:00 Tokyo
    assert (window.duration_seconds, window.timezone) == (7200, "Asia/Tokyo")
    assert window.until_at == since + timedelta(days=10)
    assert window.end_at is None


# --- health ------------------------------------------------------------------------------


def test_failures_open_a_fault_and_an_answer_closes_it(
    api_factory: ApiFactory, fake: FakeZabbix
) -> None:
    api = zabbix_api(api_factory, fake)
    seen: list[tuple[str, str, bool]] = []
    failures: list[tuple[str, str]] = []
    built = build_sources(
        {"zabbix": {"instances": {"main": section()["instances"]["main"]}}},
        api.services.sessions,
        api.services.inbox,
        api.services.horizon,
        on_health=lambda s, i, up: seen.append((s, i, up)),
        on_failure=lambda s, i: failures.append((s, i)),
    ).runner("zabbix", "main")
    use_fake(built, fake)
    assert built is not None
    seed_registry(api)
    fake.problem("29", DETECTED)
    incident_id = api.ok(deliver(api, body()))["results"][0]["incident_id"]

    fake.down = True
    first = api.clock()
    built.poll(first)
    assert windows(api) == []
    api.clock.advance(minutes=2)
    built.poll(api.clock())
    (fault,) = windows(api)
    assert (fault.scope, fault.source, fault.kind, fault.author) == (
        "source",
        "zabbix:main",
        "monitoring_fault",
        "slad",
    )
    assert (fault.start_at, fault.end_at) == (first, None)
    # The webhook still reached slad: the fault hid nothing, so the incident keeps counting.
    assert same_instant(contact_due(api, incident_id), DETECTED + timedelta(minutes=30))
    api.clock.advance(minutes=1)
    built.poll(api.clock())
    assert len(windows(api)) == 1

    fake.down = False
    api.clock.advance(minutes=7)
    back = api.clock()
    built.poll(back)
    (closed,) = windows(api)
    assert closed.end_at == back
    assert same_instant(contact_due(api, incident_id), DETECTED + timedelta(minutes=30))
    assert failures == [("zabbix", "main")] * 3
    assert seen == [("zabbix", "main", False)] * 3 + [("zabbix", "main", True)]
    assert [a.reason for a in audits(api, "window.update")] == ["zabbix:main answered again"]


# --- write-back ----------------------------------------------------------------------------


def test_contact_and_report_are_written_back_once(
    api_factory: ApiFactory, fake: FakeZabbix
) -> None:
    api = zabbix_api(api_factory, fake, acknowledge=True)
    seed_registry(api)
    fake.problem("29", DETECTED)
    incident_id = api.ok(deliver(api, body()))["results"][0]["incident_id"]
    fake.down = True
    api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))  # never waits on Zabbix
    poll(api)
    assert fake.acknowledged == []

    fake.down = False
    api.clock.advance(minutes=1)
    poll(api)
    poll(api)
    assert len(fake.acknowledged) == 1
    event_ids, message = fake.acknowledged[0]
    assert event_ids == ["29"] and "customer contacted" in message

    api.ok(api.post(f"/v1/incidents/{incident_id}/report", {}))
    api.clock.advance(minutes=1)
    poll(api)
    poll(api)
    assert [m for _, m in fake.acknowledged][1].startswith("slad: incident report delivered")
    assert len(fake.acknowledged) == 2
    timeline = api.ok(api.get(f"/v1/incidents/{incident_id}"))["timeline"]
    assert [e["kind"] for e in timeline].count("zabbix_ack") == 2


def test_no_write_back_unless_switched_on(api: Api, fake: FakeZabbix) -> None:
    seed_registry(api)
    fake.problem("29", DETECTED)
    incident_id = api.ok(deliver(api, body()))["results"][0]["incident_id"]
    api.ok(api.post(f"/v1/incidents/{incident_id}/contact", {}))
    poll(api)
    assert fake.acknowledged == []


def test_section_is_validated(api_factory: ApiFactory) -> None:
    from daemon.config import ConfigError

    with pytest.raises(ConfigError, match="unknown key"):
        api_factory(sections={"zabbix": {"instances": {}, "lookbak_seconds": 1}})
    with pytest.raises(ConfigError, match="api_url"):
        api_factory(sections={"zabbix": {"instances": {"main": {"api_url": "ftp://x"}}}})


def test_the_signed_test_webhook_is_answered_and_stores_nothing(api: Api, fake: FakeZabbix) -> None:
    seed_registry(api)
    runner = poller(api)
    test = runner.connector.signed_test(runner.instance)
    assert test is not None
    answer = api.client.post(
        "/v1/webhooks/zabbix/main", content=test.body, headers=dict(test.headers)
    )
    assert answer.status_code == 200 and answer.json()["note"].startswith("signed test")
    assert stored_events(api) == 0 and incidents(api) == [] and fake.calls == 0
    forged = api.client.post(
        "/v1/webhooks/zabbix/main", content=test.body, headers=sign(test.body, "wrong")
    )
    assert forged.status_code == 401
