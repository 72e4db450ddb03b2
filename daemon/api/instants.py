"""The `at` of an operator action: now by default, the past only with a reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Body, Depends

from daemon.api.problems import Problem
from daemon.api.schemas import ActionIn

FUTURE_SKEW = timedelta(seconds=5)


def action_body(body: Annotated[ActionIn | None, Body()] = None) -> ActionIn:
    """An operator action's body; none at all is the action done now, without a note."""
    return body or ActionIn()


ActionBody = Annotated[ActionIn, Depends(action_body)]


def resolve_at(
    at: datetime | None, reason: str | None, now: datetime, past_tolerance: timedelta
) -> tuple[datetime, bool]:
    """The instant an action happened and whether it was back-dated.

    A future instant is refused (beyond a few seconds of clock skew). An instant older
    than `past_tolerance` is a correction of the record and needs a reason, which the
    caller audits.
    """
    if at is None:
        return now, False
    if at > now + FUTURE_SKEW:
        raise Problem(422, "future-instant", f"'at' {at.isoformat()} lies in the future")
    backdated = at < now - past_tolerance
    if backdated and not (reason and reason.strip()):
        raise Problem(
            422,
            "reason-required",
            f"'at' {at.isoformat()} lies in the past; a reason is required to back-date",
        )
    return min(at, now), backdated
