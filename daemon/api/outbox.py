"""Notification delivery state: what is queued, what was sent, what failed and why."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from daemon import audit
from daemon.api.deps import Admin, NowDep, Operator, ReaderDep, SessionDep, StrictQuery
from daemon.api.problems import Problem, not_found, problem_responses
from daemon.api.types import Id
from daemon.api.utc import Instant
from daemon.store.models import OutboxMessage

router = APIRouter(prefix="/v1/outbox", tags=["notifications"], dependencies=[StrictQuery])


class OutboxOut(BaseModel):
    id: int
    event: str
    purpose: str
    channel: str
    recipient: str
    subject: str
    incident_id: int | None
    status: str
    attempts: int
    next_attempt_at: Instant
    last_error: str | None
    accepted_at: Instant | None
    created_at: Instant


def outbox_out(row: OutboxMessage) -> OutboxOut:
    return OutboxOut(
        id=row.id,
        event=row.event,
        purpose=row.purpose,
        channel=row.channel,
        recipient=row.recipient,
        subject=str(row.message.get("subject", "")),
        incident_id=row.incident_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        accepted_at=row.accepted_at,
        created_at=row.created_at,
    )


@router.get("", response_model=list[OutboxOut])
def list_outbox(
    session: ReaderDep,
    _who: Operator,
    status: Literal["pending", "sent", "failed"] | None = None,
    incident_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxOut]:
    """Newest first; `status=failed` lists deliveries that gave up."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if incident_id is not None:
        stmt = stmt.where(OutboxMessage.incident_id == incident_id)
    return [outbox_out(r) for r in session.scalars(stmt)]


@router.post("/{message_id}/retry", response_model=OutboxOut, responses=problem_responses(409))
def retry_outbox(message_id: Id, session: SessionDep, who: Admin, now: NowDep) -> OutboxOut:
    """Queue a failed delivery again (after fixing the channel's configuration)."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise not_found("outbox message", message_id)
    if row.status != "failed":
        raise Problem(409, "not-failed", f"outbox message {message_id} is {row.status}")
    row.status, row.next_attempt_at, row.attempts = "pending", now, 0
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="outbox.retry",
        target_type="outbox",
        target_id=message_id,
        detail={"last_error": row.last_error},
    )
    return outbox_out(row)
