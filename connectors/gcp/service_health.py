"""Service Health events of an instance's projects as provider notices (SPEC §6).

``ServiceHealth.ListEvents`` (google-cloud-servicehealth, REST transport) gives, per
project, the Google Cloud incidents that concern it. Only those whose relevance is
``IMPACTED`` or ``RELATED`` become notices; Google publishes no maintenance category, so
every notice is an `incident`, forwarded to the affected customers and opening no window
until an operator confirms its impact (``POST /v1/provider-notices/{id}/confirm-impact``).

- ``ACTIVE`` is `active`; ``CLOSED`` is `resolved` at ``end_time``.
- ``FALSE_POSITIVE`` is `cancelled`: the notice is withdrawn with a follow-up, and a
  window an operator confirmed is removed.
- ``MERGED`` follows its parent event: the notice takes the parent's status and end
  (the parent is listed alongside), and says which event it was merged into.

Each update of an event (its ``update_time``) is a new update of the notice, so an
unchanged event listed again changes nothing. The affected resources are the project
(``gcp.project``), and per impact the project with the product and the location
(``gcp.product``, ``gcp.location``), matched through the registry's selectors.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.servicehealth_v1 import Event, EventView, ServiceHealthClient

from connectors.events import Source
from connectors.gcp.config import GcpInstance
from connectors.gcp.credentials import credentials_for
from connectors.notices import NoticeKind, NoticeStatus, ProviderNotice
from connectors.source import SourceUnreachable

RELEVANT = frozenset({Event.Relevance.IMPACTED, Event.Relevance.RELATED})


class HealthClients:
    """One Service Health client per instance, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, ServiceHealthClient] = {}

    def client(self, instance: GcpInstance) -> ServiceHealthClient:
        with self._lock:
            if instance.name not in self._clients:
                endpoint = instance.service_health_endpoint
                self._clients[instance.name] = ServiceHealthClient(
                    credentials=credentials_for(instance),
                    transport="rest",
                    client_options={"api_endpoint": endpoint} if endpoint else None,
                )
            return self._clients[instance.name]


def list_events(
    clients: HealthClients, instance: GcpInstance, project: str, since: datetime
) -> list[Event]:
    """The project's events updated since `since`, in full."""
    since_text = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        pager = clients.client(instance).list_events(
            request={
                "parent": f"projects/{project}/locations/global",
                "filter": f'update_time>="{since_text}"',
                "view": EventView.EVENT_VIEW_FULL,
            },
            timeout=instance.http_timeout_seconds,
        )
        return list(pager)
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError) as exc:
        raise SourceUnreachable(f"Service Health events of {project}: {exc}") from exc


def event_notices(
    instance: GcpInstance, project: str, events: Sequence[Event]
) -> list[ProviderNotice]:
    """The notices the relevant events stand for (module docstring)."""
    by_name = {e.name: e for e in events}
    notices = []
    for event in events:
        if event.relevance not in RELEVANT or not event.name:
            continue
        notice = _notice(instance, project, event, by_name)
        if notice is not None:
            notices.append(notice)
    return notices


def _notice(
    instance: GcpInstance, project: str, event: Event, by_name: Mapping[str, Event]
) -> ProviderNotice | None:
    start = _instant(event.start_time) or _instant(event.update_time)
    if start is None:
        return None
    status, end, note = _status(event, by_name)
    if end is not None and end < start:
        end = start
    services = sorted(
        {i.product.product_name for i in event.event_impacts if i.product.product_name}
    )
    regions = sorted(
        {i.location.location_name for i in event.event_impacts if i.location.location_name}
    )
    affected: list[dict[str, str]] = [{"gcp.project": project}]
    for impact in event.event_impacts:
        target = {"gcp.project": project}
        if impact.product.product_name:
            target["gcp.product"] = impact.product.product_name
        if impact.location.location_name:
            target["gcp.location"] = impact.location.location_name
        if len(target) > 1 and target not in affected:
            affected.append(target)
    latest = max(event.updates, key=lambda u: _instant(u.update_time) or start, default=None)
    description = (latest.description if latest is not None else "") or event.description
    if note:
        description = f"{note}\n\n{description}" if description else note
    updated = _instant(event.update_time) or start
    return ProviderNotice(
        source=Source.GCP.value,
        event_id=event.name,
        update_id=f"{updated.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}:{event.detailed_state.name}",
        kind=NoticeKind.INCIDENT,
        status=status,
        title={"en": event.title or event.name},
        starts_at=start,
        ends_at=end,
        description={"en": description} if description else {},
        services=services,
        regions=regions,
        affected_resources=affected,
        instance=instance.name,
        raw=_raw(event),
    )


def _status(
    event: Event, by_name: Mapping[str, Event]
) -> tuple[NoticeStatus, datetime | None, str]:
    """(status, end, a note for the operators and customers) of one event."""
    detailed = event.detailed_state
    if detailed == Event.DetailedState.FALSE_POSITIVE:
        return NoticeStatus.CANCELLED, _instant(event.end_time), "Google withdrew this incident."
    if detailed == Event.DetailedState.MERGED and event.parent_event:
        parent = by_name.get(event.parent_event)
        note = (
            f"Merged by Google into {parent.title if parent is not None else event.parent_event}."
        )
        if parent is not None:
            status, end, _ = _status(parent, by_name)
            return status, end, note
        return NoticeStatus.RESOLVED, _instant(event.end_time) or _instant(event.update_time), note
    if event.state == Event.State.CLOSED:
        return NoticeStatus.RESOLVED, _instant(event.end_time) or _instant(event.update_time), ""
    return NoticeStatus.ACTIVE, None, ""


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, datetime) or value.timestamp() <= 0:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _raw(event: Event) -> dict[str, Any]:
    payload = Event.to_dict(event)
    return {k: v for k, v in payload.items() if k != "updates"} | {
        "updates": payload.get("updates", [])[-5:]
    }
