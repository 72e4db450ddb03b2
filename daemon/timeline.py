"""Incident timeline entries: what happened, when it happened, and who said so."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from daemon.store.models import Incident, TimelineEntry


def add_timeline(
    session: Session,
    incident: Incident,
    at: datetime,
    recorded_at: datetime,
    kind: str,
    actor: str,
    detail: Mapping[str, object] | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        incident_id=incident.id,
        at=at,
        recorded_at=recorded_at,
        kind=kind,
        actor=actor,
        detail=dict(detail or {}),
    )
    session.add(entry)
    return entry
