"""The API client against recorded 6.0.14 answers and 7.0-shaped ones, via a fake session."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from zabbix_utils.exceptions import APIRequestError, ProcessingError

from connectors.events import EventKind, Severity
from connectors.zabbix import ZabbixApiError, ZabbixClient, ZabbixInstance

DATA = Path(__file__).parent / "data" / "zabbix"
CAPTURED = json.loads((DATA / "api-6.0.14-captured.json").read_text())
SHARED = json.loads((DATA / "api-6.0.14-responses.json").read_text())
INSTANCE = ZabbixInstance(
    name="main",
    api_url="http://z/api_jsonrpc.php",
    api_token="t",
    timezone=ZoneInfo("Asia/Tokyo"),
    webhook_secret="s",
    acknowledge=True,
)
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


class FakeApi:
    """Answers by method name, records every request."""

    def __init__(self, answers: Mapping[str, Any], version: tuple[int, int] = (6, 0)) -> None:
        self.answers = dict(answers)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._version = version

    @property
    def version(self) -> tuple[int, int]:
        return self._version

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        self.requests.append((method, dict(params)))
        answer = self.answers[method]
        if isinstance(answer, Exception):
            raise answer
        return answer(params) if callable(answer) else answer


def event_get(params: Mapping[str, Any]) -> Any:
    if "problem_time_from" in params:
        return CAPTURED["event.get problem"]
    return CAPTURED["event.get recovery"]


def test_event_detected_at_is_cached() -> None:
    api = FakeApi({"event.get": [{"eventid": "21", "clock": "1795481575", "ns": "653839515"}]})
    client = ZabbixClient(INSTANCE, api)
    expected = datetime(2026, 11, 24, 0, 52, 55, 653839, tzinfo=UTC)
    assert client.event_detected_at("21") == expected
    assert client.event_detected_at("21") == expected
    assert len(api.requests) == 1


def test_unknown_event_is_none_and_not_cached() -> None:
    api = FakeApi({"event.get": []})
    client = ZabbixClient(INSTANCE, api)
    assert client.event_detected_at("99") is None
    assert client.event_detected_at("99") is None
    assert len(api.requests) == 2


def test_cache_is_bounded() -> None:
    def answer(params: Mapping[str, Any]) -> Any:
        return [{"eventid": params["eventids"][0], "clock": "1", "ns": "0"}]

    api = FakeApi({"event.get": answer})
    client = ZabbixClient(INSTANCE, api, clock_cache_size=2)
    for event_id in ("1", "2", "3", "1"):
        client.event_detected_at(event_id)
    assert len(api.requests) == 4  # "1" was evicted by "3"


def test_reconcile_yields_problem_and_missed_recovery_6_0() -> None:
    api = FakeApi({"event.get": event_get, "host.get": CAPTURED["host.get groups"]})
    events = ZabbixClient(INSTANCE, api).reconcile(datetime(2026, 11, 24, tzinfo=UTC), NOW)
    problem, recovery = events
    assert problem.kind is EventKind.PROBLEM
    assert problem.event_key == problem.problem_key == "zabbix:main:29"
    assert problem.detected_at == datetime(2026, 11, 24, 6, 41, 12, 551551, tzinfo=UTC)
    assert problem.received_at == NOW
    assert problem.severity is Severity.HIGH
    assert problem.resource_ids == {
        "zabbix.instance": "main",
        "zabbix.host": "slad-e2e-88d63b94",
        "zabbix.hostid": "10563",
        "zabbix.trigger": "23137",
        "zabbix.hostgroup.slad e2e 88d63b94": "slad e2e 88d63b94",
        "zabbix.tag.service": "web",
        "zabbix.tag.customer": "acme",
    }
    assert recovery.kind is EventKind.RECOVERY
    assert (recovery.event_key, recovery.problem_key) == ("zabbix:main:30", "zabbix:main:29")
    assert recovery.detected_at > problem.detected_at
    window = api.requests[0][1]
    assert window["problem_time_from"] == int(datetime(2026, 11, 24, tzinfo=UTC).timestamp())
    assert window["value"] == 1 and window["selectHosts"]
    assert api.requests[-1][1]["selectGroups"] == ["name"]


def test_reconcile_open_problems_from_the_shared_sample_7_0_names() -> None:
    hosts = [
        {"hostid": "10559", "hostgroups": [{"name": "Linux servers"}]},
        {"hostid": "10084", "hostgroups": [{"name": "Zabbix servers"}]},
    ]
    api = FakeApi({"event.get": SHARED["event.get"], "host.get": hosts}, version=(7, 0))
    events = ZabbixClient(INSTANCE, api).reconcile(datetime(2026, 11, 23, tzinfo=UTC), NOW)
    assert [e.kind for e in events] == [EventKind.PROBLEM, EventKind.PROBLEM]
    by_key = {e.event_key: e for e in events}
    web = by_key["zabbix:main:21"]
    assert web.resource_ids["zabbix.hostgroup.Linux servers"] == "Linux servers"
    assert by_key["zabbix:main:18"].resource_ids["zabbix.tag.scope"] == "availability"
    assert by_key["zabbix:main:18"].severity is Severity.AVERAGE
    assert api.requests[-1][1]["selectHostGroups"] == ["name"]
    assert len([m for m, _ in api.requests if m == "event.get"]) == 1  # nothing resolved


def test_reconcile_with_nothing_open() -> None:
    api = FakeApi({"event.get": []})
    assert ZabbixClient(INSTANCE, api).reconcile(NOW, NOW) == []
    assert [m for m, _ in api.requests] == ["event.get"]


@pytest.mark.parametrize(
    ("version", "select"), [((6, 0), "selectGroups"), ((7, 0), "selectHostGroups")]
)
def test_maintenances_ask_with_the_versions_names(version: tuple[int, int], select: str) -> None:
    api = FakeApi({"maintenance.get": SHARED["maintenance.get"]}, version=version)
    [maintenance] = ZabbixClient(INSTANCE, api).maintenances()
    assert maintenance.hosts == ("web01",)
    assert select in api.requests[0][1]
    assert api.requests[0][1]["selectTimeperiods"] == "extend"


def test_host_maintenance() -> None:
    api = FakeApi({"host.get": SHARED["host.get"]})
    [state] = ZabbixClient(INSTANCE, api).host_maintenance()
    assert (state.host, state.in_maintenance) == ("web01", False)


def test_acknowledge_adds_a_message_only() -> None:
    api = FakeApi({"event.acknowledge": {"eventids": ["29"]}})
    assert ZabbixClient(INSTANCE, api).acknowledge("29", "x" * 3000)
    method, params = api.requests[0]
    assert method == "event.acknowledge"
    assert params["eventids"] == ["29"] and params["action"] == 4
    assert len(params["message"]) == 2048


def test_acknowledge_is_skipped_when_switched_off() -> None:
    api = FakeApi({})
    off = ZabbixInstance(
        name="main", api_url="http://z", api_token="t", timezone=ZoneInfo("UTC"), webhook_secret="s"
    )
    assert not ZabbixClient(off, api).acknowledge("29", "hi")
    assert api.requests == []


@pytest.mark.parametrize(
    "error",
    [
        ProcessingError("Unable to connect"),
        APIRequestError(
            {"code": -32500, "message": "Application error.", "data": "No permissions.", "body": {}}
        ),
        TimeoutError("timed out"),
        ConnectionRefusedError(),
    ],
)
def test_failures_raise_the_connector_error(error: Exception) -> None:
    api = FakeApi({"event.get": error})
    with pytest.raises(ZabbixApiError):
        ZabbixClient(INSTANCE, api).event_detected_at("1")


def test_unreachable_instance_fails_at_first_use_not_at_construction() -> None:
    down = ZabbixInstance(
        name="down",
        api_url="http://127.0.0.1:9/api_jsonrpc.php",
        api_token="t",
        timezone=ZoneInfo("UTC"),
        webhook_secret="s",
        api_timeout_seconds=2,
    )
    client = ZabbixClient(down)
    with pytest.raises(ZabbixApiError, match="down"):
        client.event_detected_at("1")
