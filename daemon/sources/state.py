"""The stored state of each source instance (`SourceInstanceState`): read, created, updated.

The row is created on first use by whichever process gets there first (the leader's
poll, or any replica's webhook); a concurrent creator's row wins and is used instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, overload

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from daemon.store.models import SourceInstanceState

UNKNOWN_INSTANCE = "*"
"""The row that keeps a source's webhooks addressed to no configured instance."""


@overload
def instance_state(
    session: Session, source: str, instance: str, create: Literal[True] = ...
) -> SourceInstanceState: ...


@overload
def instance_state(
    session: Session, source: str, instance: str, create: bool
) -> SourceInstanceState | None: ...


def instance_state(
    session: Session, source: str, instance: str, create: bool = True
) -> SourceInstanceState | None:
    """The instance's row; with `create`, made (empty) when there is none yet."""
    state = session.get(SourceInstanceState, (source, instance))
    if state is not None or not create:
        return state
    try:
        with session.begin_nested():
            state = SourceInstanceState(source=source, instance=instance, failures=0)
            session.add(state)
    except IntegrityError:
        state = session.get(SourceInstanceState, (source, instance), populate_existing=True)
        assert state is not None
    return state


def record_accepted(
    sessions: sessionmaker[Session], source: str, instance: str, note: str, at: datetime
) -> None:
    """Remember the instance's last accepted webhook and what it brought."""
    with sessions.begin() as session:
        state = instance_state(session, source, instance)
        state.last_accepted_at = at
        state.last_accepted_note = note[:500]


def record_rejected(
    sessions: sessionmaker[Session],
    source: str,
    instance: str,
    reason: str,
    detail: str,
    at: datetime,
) -> None:
    """Remember the instance's last rejected webhook: when, why, and what was wrong."""
    with sessions.begin() as session:
        state = instance_state(session, source, instance)
        state.last_rejected_at = at
        state.last_rejected_reason = reason
        state.last_rejected_detail = detail[:500]
