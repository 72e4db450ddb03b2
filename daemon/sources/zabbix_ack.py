"""Write contact and report back to the Zabbix problems of an incident, once each.

Operators record contact and report in slad; Zabbix users should see them on the
problem too. The write-back runs in the poller, never in the operator's request, so a
slow or unreachable Zabbix can neither fail nor delay it. Each ``contacted`` or
``reported`` timeline entry is answered by one ``zabbix_ack`` entry naming it (``of``);
an entry without one is written back at the next poll, for as long as it is younger
than the look-back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.events import Source
from connectors.zabbix import ZabbixApiError, ZabbixClient, ZabbixInstance
from daemon.store.models import Alert, Incident, TimelineEntry
from daemon.timeline import add_timeline

log = logging.getLogger("slad.sources.zabbix")

ACK_KIND = "zabbix_ack"
_STEPS = {"contacted": "customer contacted", "reported": "incident report delivered"}


def write_back(
    sessions: sessionmaker[Session],
    instance: ZabbixInstance,
    client: ZabbixClient,
    since: datetime,
    now: datetime,
) -> int:
    """Post every pending contact/report recorded since `since`; returns how many."""
    with sessions() as session:
        pending = _pending(session, instance, since)
    done = 0
    for incident_id, entry_id, message, event_ids in pending:
        try:
            for event_id in event_ids:
                client.acknowledge(event_id, message)
        except ZabbixApiError as exc:
            log.warning(
                "write-back of incident %s failed, retrying next poll: %s", incident_id, exc
            )
            continue
        with sessions.begin() as session:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                add_timeline(
                    session,
                    incident,
                    now,
                    now,
                    ACK_KIND,
                    f"zabbix:{instance.name}",
                    {"of": entry_id, "event_ids": event_ids, "message": message},
                )
        done += 1
    return done


def _pending(
    session: Session, instance: ZabbixInstance, since: datetime
) -> list[tuple[int, int, str, list[str]]]:
    """(incident id, timeline entry id, message, Zabbix event ids) not yet written back."""
    steps = session.execute(
        select(TimelineEntry, Incident)
        .join(Incident, TimelineEntry.incident_id == Incident.id)
        .where(
            Incident.source == Source.ZABBIX.value,
            Incident.instance == instance.name,
            TimelineEntry.kind.in_(tuple(_STEPS)),
            TimelineEntry.recorded_at >= since,
        )
        .order_by(TimelineEntry.id)
    ).all()
    if not steps:
        return []
    incident_ids = {incident.id for _, incident in steps}
    acked = {
        detail.get("of")
        for detail in session.scalars(
            select(TimelineEntry.detail).where(
                TimelineEntry.kind == ACK_KIND, TimelineEntry.incident_id.in_(incident_ids)
            )
        )
    }
    prefix = f"{Source.ZABBIX.value}:{instance.name}:"
    pending = []
    for entry, incident in steps:
        if entry.id in acked:
            continue
        event_ids = sorted(
            {
                a.problem_key.removeprefix(prefix)
                for a in session.scalars(select(Alert).where(Alert.incident_id == incident.id))
                if a.problem_key.startswith(prefix)
            }
        )
        if event_ids:
            message = (
                f"slad: {_STEPS[entry.kind]} at {entry.at.isoformat()} by {entry.actor}"
                f" (slad incident {incident.id})"
            )
            pending.append((incident.id, entry.id, message, event_ids))
    return pending
