"""The Zabbix API side of the connector: exact instants, reconciliation, maintenance, acks.

Webhooks are fast but can be lost; the API is the source of truth. `reconcile` asks for
every problem that was open at any moment since the watermark, so a problem whose webhook
never arrived still yields its event with Zabbix's own detection instant, and a missed
recovery still resolves it. Keys match the webhook path (see `mapping`), so ingest
deduplicates whichever arrives second.

Every failure to talk to the instance surfaces as `ZabbixApiError` (a `SourceUnreachable`),
the one exception the daemon counts against the instance's health.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from zabbix_utils import ZabbixAPI
from zabbix_utils.exceptions import ModuleBaseException

from connectors.events import AlertEvent, EventKind, Source
from connectors.source import SourceUnreachable
from connectors.zabbix import mapping
from connectors.zabbix.config import ZabbixInstance
from connectors.zabbix.maintenance import (
    HostMaintenance,
    Maintenance,
    map_host_maintenance,
    map_maintenances,
)

_HOST_FIELDS = ["hostid", "host", "name"]
_ACK_ADD_MESSAGE = 4
_ACK_MESSAGE_LIMIT = 2048  # acknowledges.message is varchar(2048) in Zabbix 6.0


class ZabbixApiError(SourceUnreachable):
    """The instance could not be reached or refused a request."""


class ApiCaller(Protocol):
    """The two things the client needs from an API session; tests substitute a fake."""

    @property
    def version(self) -> tuple[int, int]: ...

    def call(self, method: str, params: Mapping[str, Any]) -> Any: ...


class SdkCaller:
    """`ApiCaller` over `zabbix_utils`, which picks ``auth`` (6.0) or Bearer (6.4+)."""

    def __init__(self, instance: ZabbixInstance) -> None:
        self._api = ZabbixAPI(
            url=instance.api_url,
            token=instance.api_token,
            validate_certs=instance.verify_tls,
            timeout=instance.api_timeout_seconds,
            skip_version_check=True,
        )
        major, minor = str(self._api.version).split(".")[:2]
        self._version = (int(major), int(minor))

    @property
    def version(self) -> tuple[int, int]:
        return self._version

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        return self._api.send_api_request(method, dict(params))["result"]


class ZabbixClient:
    """API access for one instance, connecting lazily so a down server does not block start."""

    def __init__(
        self,
        instance: ZabbixInstance,
        caller: ApiCaller | None = None,
        clock_cache_size: int = 4096,
    ) -> None:
        self.instance = instance
        self._caller = caller
        self._clocks: OrderedDict[str, datetime] = OrderedDict()
        self._cache_size = clock_cache_size

    def event_detected_at(self, event_id: str) -> datetime | None:
        """Zabbix's clock of one event (to the microsecond), or None if it does not exist.

        Found clocks are cached: redelivered webhooks and reconciliation ask again.
        """
        cached = self._clocks.get(event_id)
        if cached is not None:
            self._clocks.move_to_end(event_id)
            return cached
        events = self.call(
            "event.get", {"eventids": [event_id], "output": ["eventid", "clock", "ns"]}
        )
        if not events:
            return None
        return self._remember(events[0])

    def reconcile(self, since: datetime, received_at: datetime) -> list[AlertEvent]:
        """Problems open at any moment in [since, received_at], and recoveries of those closed.

        ``event.get`` with ``problem_time_from``/``problem_time_till`` returns exactly
        that set, with hosts and tags, in one request (``problem.get`` lacks hosts).
        """
        problems = self.call(
            "event.get",
            {
                "output": "extend",
                "source": 0,
                "object": 0,
                "value": 1,
                "problem_time_from": int(since.timestamp()),
                "problem_time_till": int(received_at.timestamp()) + 1,
                "selectHosts": _HOST_FIELDS,
                "selectTags": ["tag", "value"],
                "sortfield": ["eventid"],
                "sortorder": "ASC",
            },
        )
        recovery_ids = [str(p["r_eventid"]) for p in problems if str(p["r_eventid"]) != "0"]
        recoveries = {}
        if recovery_ids:
            for event in self.call(
                "event.get", {"eventids": recovery_ids, "output": ["eventid", "clock", "ns"]}
            ):
                recoveries[str(event["eventid"])] = self._remember(event)
        groups = self._host_groups({h["hostid"] for p in problems for h in p.get("hosts", [])})
        events: list[AlertEvent] = []
        for problem in problems:
            events.append(self._problem_event(problem, groups, received_at))
            recovered_at = recoveries.get(str(problem["r_eventid"]))
            if recovered_at is not None:
                events.append(
                    self._recovery_event(events[-1], str(problem["r_eventid"]), recovered_at)
                )
        return events

    def maintenances(self) -> list[Maintenance]:
        """Every maintenance with hosts, host groups and time periods."""
        groups = "selectHostGroups" if self._api().version >= (6, 2) else "selectGroups"
        results = self.call(
            "maintenance.get",
            {
                "output": "extend",
                "selectHosts": ["hostid", "host"],
                groups: ["groupid", "name"],
                "selectTimeperiods": "extend",
                "selectTags": "extend",
            },
        )
        return map_maintenances(self.instance.name, results, self.instance.timezone)

    def host_maintenance(self) -> list[HostMaintenance]:
        """Which hosts Zabbix considers in maintenance right now."""
        results = self.call(
            "host.get",
            {
                "output": [
                    "host",
                    "maintenance_status",
                    "maintenanceid",
                    "maintenance_type",
                    "maintenance_from",
                ]
            },
        )
        return map_host_maintenance(results)

    def host_identifiers(self) -> dict[str, dict[str, str]]:
        """Technical host name -> the identifiers an alert of that host carries.

        Maintenances name hosts and host groups; the daemon maps them to resources with
        the same identifiers (instance, host, host id, groups, host tags) an alert from
        the host has, so a registry selector on any of them covers the maintenance too.
        """
        modern = self._api().version >= (6, 2)
        select, key = ("selectHostGroups", "hostgroups") if modern else ("selectGroups", "groups")
        hosts = self.call(
            "host.get",
            {"output": ["hostid", "host"], select: ["name"], "selectTags": ["tag", "value"]},
        )
        return {
            str(h["host"]): mapping.resource_ids(
                self.instance.name,
                str(h["host"]),
                h.get("tags", []),
                sorted(str(g["name"]) for g in h.get(key, [])),
                {"zabbix.hostid": str(h["hostid"])},
            )
            for h in hosts
        }

    def acknowledge(self, event_id: str, message: str) -> bool:
        """Add `message` to the problem in Zabbix; False when write-back is switched off.

        Only a message is added (action 4): acknowledging or closing stays a human decision
        in Zabbix.
        """
        if not self.instance.acknowledge:
            return False
        self.call(
            "event.acknowledge",
            {
                "eventids": [event_id],
                "action": _ACK_ADD_MESSAGE,
                "message": message[:_ACK_MESSAGE_LIMIT],
            },
        )
        return True

    def _problem_event(
        self,
        problem: Mapping[str, Any],
        groups: Mapping[str, Sequence[str]],
        received_at: datetime,
    ) -> AlertEvent:
        event_id = str(problem["eventid"])
        hosts = problem.get("hosts", [])
        host_groups = sorted({g for h in hosts for g in groups.get(str(h["hostid"]), ())})
        return AlertEvent(
            source=Source.ZABBIX.value,
            event_key=mapping.event_key(self.instance.name, event_id),
            problem_key=mapping.problem_key(self.instance.name, event_id),
            kind=EventKind.PROBLEM,
            detected_at=self._remember(problem),
            received_at=received_at,
            severity=mapping.severity(int(problem["severity"])),
            title=str(problem.get("name") or f"Zabbix event {event_id}"),
            resource_ids=mapping.resource_ids(
                self.instance.name,
                str(hosts[0]["host"]) if hosts else None,
                problem.get("tags", []),
                host_groups,
                {
                    "zabbix.hostid": str(hosts[0]["hostid"]) if hosts else "",
                    "zabbix.trigger": str(problem.get("objectid", "")),
                },
            ),
            raw=dict(problem),
            instance=self.instance.name,
        )

    def _recovery_event(
        self, problem: AlertEvent, recovery_id: str, recovered_at: datetime
    ) -> AlertEvent:
        return AlertEvent(
            source=problem.source,
            event_key=mapping.event_key(self.instance.name, recovery_id),
            problem_key=problem.problem_key,
            kind=EventKind.RECOVERY,
            detected_at=recovered_at,
            received_at=problem.received_at,
            severity=problem.severity,
            title=problem.title,
            resource_ids=problem.resource_ids,
            raw={"eventid": recovery_id, "problem": problem.raw},
            instance=self.instance.name,
        )

    def _host_groups(self, host_ids: set[str]) -> dict[str, list[str]]:
        """Host id -> group names, so API events carry the same ids as webhook events."""
        if not host_ids:
            return {}
        modern = self._api().version >= (6, 2)
        select, key = ("selectHostGroups", "hostgroups") if modern else ("selectGroups", "groups")
        hosts = self.call(
            "host.get", {"hostids": sorted(host_ids), "output": ["hostid"], select: ["name"]}
        )
        return {str(h["hostid"]): [str(g["name"]) for g in h.get(key, [])] for h in hosts}

    def _remember(self, event: Mapping[str, Any]) -> datetime:
        detected = mapping.instant(event["clock"], event.get("ns", 0))
        self._clocks[str(event["eventid"])] = detected
        self._clocks.move_to_end(str(event["eventid"]))
        while len(self._clocks) > self._cache_size:
            self._clocks.popitem(last=False)
        return detected

    def _api(self) -> ApiCaller:
        if self._caller is None:
            try:
                self._caller = SdkCaller(self.instance)
            except (ModuleBaseException, OSError, ValueError) as exc:
                raise ZabbixApiError(f"zabbix {self.instance.name}: {exc}") from exc
        return self._caller

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """One API call; any failure to reach the instance is a `ZabbixApiError`."""
        api = self._api()
        try:
            return api.call(method, params)
        except (ModuleBaseException, OSError, ValueError, KeyError) as exc:
            raise ZabbixApiError(f"zabbix {self.instance.name}: {method}: {exc}") from exc
