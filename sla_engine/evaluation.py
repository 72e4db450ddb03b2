"""What every clock evaluation returns, whatever calendar it counts in.

Both the elapsed-time clocks of managed-service incidents (`contact`, `report`) and the
business-day clock of professional support (`support_reply`) answer with a
`ClockEvaluation`, so the daemon stores, schedules and reports them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, NamedTuple

Target = Literal["slo", "sla"]


class ClockState(StrEnum):
    """Whether a clock is counting now."""

    RUNNING = "running"
    PAUSED = "paused"  # started, not stopped, but `now` lies in excluded time
    STOPPED = "stopped"


class Outcome(StrEnum):
    """How a clock ended (or, while it runs, the worst it has already reached)."""

    MET = "met"
    SLO_BREACHED = "slo_breached"
    SLA_BREACHED = "sla_breached"


@dataclass(frozen=True, slots=True)
class WarningPoint:
    """An instant at which a configured fraction of the SLO target has been used.

    `at` is None when a window with no end yet pauses the clock before that fraction is
    used: the instant depends on an end nobody knows.
    """

    fraction: float
    at: datetime | None


class ClockEvaluation(NamedTuple):
    """A clock judged at one instant `now`.

    `counted` is the countable time from `start` to `stop` (or to `now` while running).
    `slo_due`/`sla_due` are the first instants at which countable time reaches each
    target, or None when a window with no end yet pauses the clock before it does.
    `outcome` is final once stopped; while running it is the breach already
    reached at `now`, or None when still within the SLO. Remaining times are countable
    time left to each target, never negative. `next_due` is the earliest warning or due
    instant strictly after `now` that the scheduler must still act on (None once
    stopped or when nothing is left).

    It is an immutable named tuple rather than a frozen dataclass because the scheduler
    re-evaluates every open clock, and building a named tuple costs a fraction of a
    frozen dataclass's field-by-field `object.__setattr__`.
    """

    start: datetime
    stop: datetime | None
    counted: timedelta
    slo_due: datetime | None
    sla_due: datetime | None
    state: ClockState
    outcome: Outcome | None
    slo_remaining: timedelta
    sla_remaining: timedelta
    warnings: tuple[WarningPoint, ...]
    next_due: datetime | None

    @property
    def passed(self) -> tuple[Target, ...]:
        """The targets (`slo`, `sla`) countable time has already gone beyond, in order."""
        if self.outcome is Outcome.SLA_BREACHED:
            return ("slo", "sla")
        if self.outcome is Outcome.SLO_BREACHED:
            return ("slo",)
        return ()


def judge_counted(counted: timedelta, slo: timedelta, sla: timedelta) -> Outcome:
    """Outcome of countable time against inclusive targets (exactly on target meets it)."""
    if counted <= slo:
        return Outcome.MET
    if counted <= sla:
        return Outcome.SLO_BREACHED
    return Outcome.SLA_BREACHED


def judge_instant(stop: datetime, slo_due: datetime, sla_due: datetime) -> Outcome:
    """Outcome of a stop instant against inclusive deadlines (at the deadline meets it)."""
    if stop <= slo_due:
        return Outcome.MET
    if stop <= sla_due:
        return Outcome.SLO_BREACHED
    return Outcome.SLA_BREACHED
