"""Pages of incidents by next due: what falls due first comes first.

The order is the incident's next due instant (overdue ones first, as their instant has
passed), incidents that owe no due instant last, and the id to break ties. The cursor
carries the last row's due instant and id, so a page follows on exactly where the last
one ended even while new incidents arrive.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from daemon.api.pages import cursor_not_issued
from daemon.api.types import MAX_ID, instant_out_of_range
from daemon.store.models import Incident


def encode_due_cursor(due: datetime | None, last_id: int) -> str:
    raw = json.dumps([due.isoformat() if due else None, last_id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_due_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        due, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        instant = None if due is None else datetime.fromisoformat(due)
        if not isinstance(last_id, int) or not 1 <= last_id <= MAX_ID:
            raise ValueError(cursor)
        if instant is not None and (instant.tzinfo is None or instant_out_of_range(instant)):
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
        raise cursor_not_issued() from exc
    return instant, last_id


def _after(next_due: ColumnElement[Any], due: datetime | None, last_id: int) -> ColumnElement[bool]:
    if due is None:
        return and_(next_due.is_(None), Incident.id > last_id)
    return or_(
        next_due > due,
        and_(next_due == due, Incident.id > last_id),
        next_due.is_(None),
    )


def by_next_due(
    session: Session,
    stmt: Select[Any],
    next_due: ColumnElement[Any],
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Incident, datetime | None]], str | None]:
    """One page of `stmt`'s incidents with their next due, and the next page's cursor."""
    stmt = stmt.add_columns(next_due)
    if cursor is not None:
        stmt = stmt.where(_after(next_due, *decode_due_cursor(cursor)))
    ordered = stmt.order_by(next_due.is_(None), next_due, Incident.id).limit(limit + 1)
    rows = [(incident, due) for incident, due in session.execute(ordered)]
    if len(rows) <= limit:
        return rows, None
    last, due = rows[limit - 1]
    return rows[:limit], encode_due_cursor(due, last.id)
