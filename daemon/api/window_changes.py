"""``/v1/window-changes``: window changes a source's sync held because they rewrite the past.

An administrator accepts (the past part applies, the clocks it touches are recomputed)
or rejects (the past stays as judged) each pending change; both are audited. See
`daemon.sources.window_changes`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from daemon.api.deps import (
    Admin,
    NowDep,
    ReaderDep,
    ServicesDep,
    SessionDep,
    StrictQuery,
    Viewer,
)
from daemon.api.problems import Problem, not_found, problem_responses
from daemon.api.types import Id
from daemon.sources.window_changes import decide
from daemon.store.models import WindowChange

router = APIRouter(
    prefix="/v1/window-changes", tags=["maintenance windows"], dependencies=[StrictQuery]
)


class WindowChangeOut(BaseModel):
    id: int
    kind: Literal["create", "update", "delete"]
    status: Literal["pending", "accepted", "rejected"]
    window_id: int
    previous_window_id: int | None
    author: str
    past_start: datetime
    past_end: datetime
    detail: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    incidents_recomputed: int | None = None


class DecisionIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


def _out(change: WindowChange, recomputed: int | None = None) -> WindowChangeOut:
    return WindowChangeOut.model_validate(
        {
            **{c: getattr(change, c) for c in WindowChangeOut.model_fields if hasattr(change, c)},
            "incidents_recomputed": recomputed,
        }
    )


@router.get("", response_model=list[WindowChangeOut])
def list_changes(
    session: ReaderDep,
    _who: Viewer,
    status: Annotated[Literal["pending", "accepted", "rejected"] | None, Query()] = None,
) -> list[WindowChangeOut]:
    stmt = select(WindowChange).order_by(WindowChange.id)
    if status is not None:
        stmt = stmt.where(WindowChange.status == status)
    return [_out(c) for c in session.scalars(stmt)]


@router.get("/{change_id}", response_model=WindowChangeOut)
def get_change(change_id: Id, session: ReaderDep, _who: Viewer) -> WindowChangeOut:
    change = session.get(WindowChange, change_id)
    if change is None:
        raise not_found("window change", change_id)
    return _out(change)


def _decide(
    change_id: Id,
    accept: bool,
    body: DecisionIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Admin,
    now: NowDep,
) -> WindowChangeOut:
    change = session.get(WindowChange, change_id)
    if change is None:
        raise not_found("window change", change_id)
    if change.status != "pending":
        raise Problem(409, "already-decided", f"window change {change_id} is {change.status}")
    changed = decide(session, change, accept, who.name, body.reason, now, svc.horizon)
    return _out(change, changed)


@router.post(
    "/{change_id}/accept", response_model=WindowChangeOut, responses=problem_responses(409)
)
def accept_change(
    change_id: Id,
    body: DecisionIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Admin,
    now: NowDep,
) -> WindowChangeOut:
    """Apply the held past part; the clocks it touches are recomputed."""
    return _decide(change_id, True, body, session, svc, who, now)


@router.post(
    "/{change_id}/reject", response_model=WindowChangeOut, responses=problem_responses(409)
)
def reject_change(
    change_id: Id,
    body: DecisionIn,
    session: SessionDep,
    svc: ServicesDep,
    who: Admin,
    now: NowDep,
) -> WindowChangeOut:
    """Keep the past as it was judged."""
    return _decide(change_id, False, body, session, svc, who, now)
