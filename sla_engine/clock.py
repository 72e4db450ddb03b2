"""Elapsed-time clocks: the `contact` and `report` clocks of managed-service incidents.

A clock counts *countable* time: wall time from its start that lies outside every
exclusion (maintenance windows covering the resource, monitoring faults). Its deadline for
a target is the first instant at which countable time reaches that target, so a window
that opens before the deadline pushes the deadline back by the part of the window it
overlaps, and an incident detected inside a window starts counting when the window ends.

Everything here is derived from facts given as arguments; nothing reads a clock, so a
restarted daemon, a recomputation after a window edit and a test all get the same answer.
Results are returned in UTC, whatever zone the instants were given in.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta

from sla_engine.evaluation import ClockEvaluation, ClockState, Outcome, WarningPoint, judge_counted
from sla_engine.intervals import ZERO, IntervalSet, require_aware

DEFAULT_WARN_FRACTIONS: tuple[float, ...] = (0.5, 0.8)


def countable(start: datetime, end: datetime, exclusions: IntervalSet) -> timedelta:
    """Wall time in [start, end) that lies inside no exclusion; zero when end <= start."""
    lo = require_aware(start, "start")
    hi = require_aware(end, "end")
    if hi <= lo:
        return ZERO
    return hi - lo - exclusions.measure_within(lo, hi)


def due_instant(start: datetime, target: timedelta, exclusions: IntervalSet) -> datetime:
    """The first instant at which countable time since `start` reaches `target`.

    For a positive target this always falls at the end of a countable stretch, never
    inside an exclusion: a window opening exactly at the deadline does not move it. A zero
    target is reached at `start` itself.
    """
    if target < ZERO:
        raise ValueError(f"target must not be negative, got {target}")
    lo = require_aware(start, "start")
    return _dues(lo, (target,), exclusions.starts, exclusions.ends)[0]


def evaluate_elapsed(
    start: datetime,
    stop: datetime | None,
    now: datetime,
    *,
    slo: timedelta,
    sla: timedelta,
    exclusions: IntervalSet,
    warn_fractions: Sequence[float] = DEFAULT_WARN_FRACTIONS,
    open_from: datetime | None = None,
) -> ClockEvaluation:
    """Judge an elapsed-time clock at `now`.

    `stop` is the event that ends the clock (first contact, report delivered) or None
    while it runs. `exclusions` may reach past `now`: a planned window ahead of a running
    clock already moves its due instants, so the scheduler wakes at the right time.

    `open_from` is where a window with no end yet (an open fault, a notice with no
    announced end) begins: nothing from there on counts, and a target the clock would
    reach only after it has no due instant (None) rather than one invented from a
    placeholder end. A clock at or past `open_from` is paused.

    A stopped clock is judged on countable time against inclusive targets, so a stop
    inside a window just after the due instant still meets the target: the window
    stopped the count before it passed the target. A running clock reports the breach it
    has already reached at `now` (None while within the SLO). `now` before `start` is
    allowed and counts nothing.
    """
    begin = require_aware(start, "start")
    at = require_aware(now, "now")
    end = None if stop is None else require_aware(stop, "stop")
    paused_from = None if open_from is None else require_aware(open_from, "open_from")
    if not ZERO < slo <= sla:
        raise ValueError(f"targets must satisfy 0 < slo <= sla, got slo={slo}, sla={sla}")
    starts = exclusions.starts
    ends = exclusions.ends

    if end is not None and end < begin:
        raise ValueError(f"stop {end.isoformat()} is before start {begin.isoformat()}")
    counted_to = at if end is None else end
    if paused_from is not None and paused_from < counted_to:
        counted_to = paused_from
    if counted_to > begin:
        counted = counted_to - begin - exclusions.measure_within(begin, counted_to)
    else:
        counted = ZERO

    targets = []
    for fraction in warn_fractions:
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"warning fractions must lie strictly between 0 and 1, got {fraction}")
        targets.append(slo * fraction)
    targets.append(slo)
    targets.append(sla)
    dues: list[datetime | None] = list(_dues(begin, targets, starts, ends))
    if paused_from is not None:
        dues = [due if due is not None and due <= paused_from else None for due in dues]
    slo_due = dues[-2]
    sla_due = dues[-1]
    warnings = tuple(map(WarningPoint, warn_fractions, dues))

    if end is not None:
        state = ClockState.STOPPED
        outcome: Outcome | None = judge_counted(counted, slo, sla)
        next_due = None
    else:
        paused = at < begin or _inside(at, starts, ends)
        if paused_from is not None and at >= paused_from:
            paused = True
        state = ClockState.PAUSED if paused else ClockState.RUNNING
        if counted > sla:
            outcome = Outcome.SLA_BREACHED
        elif counted > slo:
            outcome = Outcome.SLO_BREACHED
        else:
            outcome = None
        next_due = None
        for due in dues:
            if due is not None and due > at and (next_due is None or due < next_due):
                next_due = due

    return ClockEvaluation(
        start=begin,
        stop=end,
        counted=counted,
        slo_due=slo_due,
        sla_due=sla_due,
        state=state,
        outcome=outcome,
        slo_remaining=slo - counted if counted < slo else ZERO,
        sla_remaining=sla - counted if counted < sla else ZERO,
        warnings=warnings,
        next_due=next_due,
    )


def _dues(
    lo: datetime,
    targets: Sequence[timedelta],
    starts: tuple[datetime, ...],
    ends: tuple[datetime, ...],
) -> list[datetime]:
    """Due instant from UTC `lo` for each non-negative target, in one forward scan.

    The scan walks the gaps between exclusions, keeping the countable time `used` up to
    `cursor`; ascending targets (warnings, then SLO, then SLA) share one pass, and a target
    not above the time already used starts the walk again.
    """
    n = len(starts)
    first = bisect_right(ends, lo)
    origin = lo
    if first < n and starts[first] <= lo:
        origin = ends[first]
        first += 1
    cursor = origin
    used = ZERO
    i = first
    dues: list[datetime] = []
    for target in targets:
        if not target:
            dues.append(lo)
            continue
        if target <= used:
            cursor = origin
            used = ZERO
            i = first
        while i < n:
            gap = starts[i] - cursor
            if target - used <= gap:
                break
            used += gap
            cursor = ends[i]
            i += 1
        dues.append(cursor + (target - used))
    return dues


def _inside(at: datetime, starts: tuple[datetime, ...], ends: tuple[datetime, ...]) -> bool:
    """Whether UTC instant `at` lies inside one of the normalised intervals."""
    i = bisect_right(starts, at)
    return i > 0 and at < ends[i - 1]
