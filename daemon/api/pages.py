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

RowT = TypeVar("RowT")


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(422, "invalid-cursor", "the cursor is not one this API issued") from exc


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
