"""Write contact and report back to a source's problems of an incident, once each.

Operators record contact and report in slad; the source's users should see them on the
problem too. The write-back runs in the poller, never in the operator's request, so a
slow or unreachable source can neither fail nor delay it. Each ``contacted`` or
``reported`` timeline entry is answered by one ``<source>_ack`` entry naming it (``of``);
an entry without one is written back at the next poll, for as long as it is younger
than the source's look-back.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.source import SourceConnector, SourceInstance, SourceUnreachable, WriteBack
from daemon.store.models import Alert, Incident, TimelineEntry
from daemon.timeline import add_timeline

log = logging.getLogger("slad.sources")

_STEPS = {"contacted": "customer contacted", "reported": "incident report delivered"}


def write_back(
    sessions: sessionmaker[Session],
    connector: SourceConnector[Any],
    instance: SourceInstance,
    since: datetime,
    now: datetime,
) -> int:
    """Post every pending contact/report recorded since `since`; returns how many."""
    ack_kind = f"{connector.name}_ack"
    with sessions() as session:
        pending = _pending(session, connector.name, instance.name, ack_kind, since)
    done = 0
    for step in pending:
        try:
            connector.write_back(instance, step)
        except SourceUnreachable as exc:
            log.warning(
                "write-back of incident %s failed, retrying next poll: %s", step.incident_id, exc
            )
            continue
        with sessions.begin() as session:
            incident = session.get(Incident, step.incident_id)
            if incident is not None:
                add_timeline(
                    session,
                    incident,
                    now,
                    now,
                    ack_kind,
                    f"{connector.name}:{instance.name}",
                    {
                        "of": step.entry_id,
                        "problem_keys": list(step.problem_keys),
                        "message": step.message,
                    },
                )
        done += 1
    return done


def _pending(
    session: Session, source: str, instance: str, ack_kind: str, since: datetime
) -> list[WriteBack]:
    """The contact/report entries of the instance's incidents not yet written back."""
    steps = session.execute(
        select(TimelineEntry, Incident)
        .join(Incident, TimelineEntry.incident_id == Incident.id)
        .where(
            Incident.source == source,
            Incident.instance == instance,
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
                TimelineEntry.kind == ack_kind, TimelineEntry.incident_id.in_(incident_ids)
            )
        )
    }
    pending = []
    for entry, incident in steps:
        if entry.id in acked:
            continue
        keys = sorted(
            set(
                session.scalars(
                    select(Alert.problem_key).where(
                        Alert.incident_id == incident.id,
                        Alert.source == source,
                        Alert.instance == instance,
                    )
                )
            )
        )
        if keys:
            message = (
                f"slad: {_STEPS[entry.kind]} at {entry.at.isoformat()} by {entry.actor}"
                f" (slad incident {incident.id})"
            )
            pending.append(
                WriteBack(incident.id, entry.id, entry.kind, entry.at, entry.actor, message, keys)
            )
    return pending
