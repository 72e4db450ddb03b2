"""Incident timeline entries: what happened, when it happened, and who said so."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from daemon.store.models import Incident, TimelineEntry


def timeline_entry(
    incident: Incident,
    at: datetime,
    recorded_at: datetime,
    kind: str,
    actor: str,
    detail: Mapping[str, object] | None = None,
) -> TimelineEntry:
    """An entry not yet in any session: ingest adds a whole batch's entries at its end,
    so they are written together instead of riding along with every flush."""
    return TimelineEntry(
        incident_id=incident.id,
        at=at,
        recorded_at=recorded_at,
        kind=kind,
        actor=actor,
        detail=dict(detail or {}),
    )


def add_timeline(
    session: Session,
    incident: Incident,
    at: datetime,
    recorded_at: datetime,
    kind: str,
    actor: str,
    detail: Mapping[str, object] | None = None,
) -> TimelineEntry:
    entry = timeline_entry(incident, at, recorded_at, kind, actor, detail)
    session.add(entry)
    return entry
