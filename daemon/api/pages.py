"""Cursor pagination, newest first, shared by every list that pages.

A cursor is the opaque form of the last id a page showed; the next page holds the rows
with a smaller id. One row more than the page is read to know whether another follows.
"""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from daemon.api.problems import Problem
from daemon.api.types import MAX_ID

RowT = TypeVar("RowT")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        last_id = int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise cursor_not_issued() from exc
    if not 1 <= last_id <= MAX_ID:
        raise cursor_not_issued()
    return last_id


def cursor_not_issued() -> Problem:
    return Problem(
        422, "invalid-cursor", "cursor: not one this API issued; pass a page's next_cursor"
    )


def newest_first(
    session: Session,
    stmt: Select[RowT],
    id_column: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
) -> tuple[list[RowT], str | None]:
    """One page of `stmt`'s rows by descending `id_column`, and the next page's cursor."""
    if cursor is not None:
        stmt = stmt.where(id_column < decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor(getattr(rows[limit - 1], id_column.key))
