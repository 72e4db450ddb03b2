"""Incident timeline entries: what happened, when it happened, and who said so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from daemon.store.models import Incident, TimelineEntry


def timeline_row(
    incident: Incident,
    at: datetime,
    recorded_at: datetime,
    kind: str,
    actor: str,
    detail: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The column values of an entry."""
    return {
        "incident_id": incident.id,
        "at": at,
        "recorded_at": recorded_at,
        "kind": kind,
        "actor": actor,
        "detail": dict(detail or {}),
    }


def add_timeline(
    session: Session,
    incident: Incident,
    at: datetime,
    recorded_at: datetime,
    kind: str,
    actor: str,
    detail: Mapping[str, object] | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(**timeline_row(incident, at, recorded_at, kind, actor, detail))
    session.add(entry)
    return entry


_TIMELINE = cast(Table, TimelineEntry.__table__)


def insert_timeline(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert entries (`timeline_row`s), in order, with one statement.

    Ingest collects the entries of a whole batch and writes them at its end: an object
    per entry would cost a statement and a share of a flush each. The statement is
    Core's, on the table: the ORM's bulk insert costs as much again in bookkeeping.
    """
    if rows:
        session.execute(insert(_TIMELINE), rows)
