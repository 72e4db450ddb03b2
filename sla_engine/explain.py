"""Why an elapsed-time clock's deadlines are where they are: its strip of counted and
excluded time.

A clock's due instants follow from its start, its targets and the excluded time before
them. `explain_elapsed` lays that out as consecutive segments from the start to the stop
(or, while the clock runs, to the later of `now` and the SLA due instant): each segment
is counted or excluded, and an excluded one names every exclusion that covers it, so an
operator can see which window moved a deadline and by how much. The judgement is
`evaluate_elapsed`'s own, on the union of the same exclusions, so the strip and the
clock can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sla_engine.clock import DEFAULT_WARN_FRACTIONS, evaluate_elapsed
from sla_engine.evaluation import ClockEvaluation
from sla_engine.intervals import ZERO, Interval, IntervalSet, require_aware


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch [start, end) of the strip: counted, or excluded by `causes`.

    `ahead` marks a stretch after `now` (a planned window before a running clock's
    deadline): it has not happened yet but already moves the due instants.
    """

    start: datetime
    end: datetime
    causes: tuple[str, ...]
    ahead: bool

    @property
    def counted(self) -> bool:
        return not self.causes

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Explanation:
    """A clock's evaluation and the strip that justifies it.

    `counted` and `excluded` add up the segments up to the stop (or `now`), so `counted`
    equals the evaluation's countable time; segments ahead of `now` are in neither.
    """

    evaluation: ClockEvaluation
    segments: tuple[Segment, ...]
    counted: timedelta
    excluded: timedelta


def explain_elapsed(
    start: datetime,
    stop: datetime | None,
    now: datetime,
    *,
    slo: timedelta,
    sla: timedelta,
    exclusions: Mapping[str, IntervalSet],
    open_from: Mapping[str, datetime] | None = None,
    warn_fractions: Sequence[float] = DEFAULT_WARN_FRACTIONS,
) -> Explanation:
    """The strip of an elapsed-time clock.

    `exclusions` maps each cause to its finite intervals, `open_from` each cause with no
    end yet to where it begins (the engine counts nothing from there and invents no due
    instant after it). While a clock runs the strip ends at the later of `now` and its
    SLA due instant, or at `now` when a window with no end leaves it without one.
    """
    union = IntervalSet()
    for intervals in exclusions.values():
        union = union.union(intervals)
    endless = dict(open_from or {})
    evaluation = evaluate_elapsed(
        start,
        stop,
        now,
        slo=slo,
        sla=sla,
        exclusions=union,
        warn_fractions=warn_fractions,
        open_from=min(endless.values(), default=None),
    )
    at = require_aware(now, "now")
    begin = evaluation.start
    if evaluation.stop is not None:
        end = evaluation.stop
    elif evaluation.sla_due is not None:
        end = max(at, evaluation.sla_due)
    else:
        end = max(at, begin)
    causes = dict(exclusions)
    for cause, since in endless.items():
        if since < end:
            span = IntervalSet.of(Interval(since, end))
            causes[cause] = causes[cause].union(span) if cause in causes else span
    segments = _segments(begin, end, at, causes)
    elapsed_end = end if evaluation.stop is not None else max(at, begin)
    counted = excluded = ZERO
    for segment in segments:
        if segment.ahead:
            continue
        part = min(segment.end, elapsed_end) - segment.start
        if segment.counted:
            counted += part
        else:
            excluded += part
    return Explanation(evaluation, segments, counted, excluded)


def _segments(
    begin: datetime, end: datetime, now: datetime, exclusions: Mapping[str, IntervalSet]
) -> tuple[Segment, ...]:
    """Cut [begin, end) at every exclusion edge and at `now`; merge equal neighbours."""
    if end <= begin:
        return ()
    clipped = {cause: intervals.clip(begin, end) for cause, intervals in exclusions.items()}
    edges = {begin, end}
    if begin < now < end:
        edges.add(now)
    for intervals in clipped.values():
        for interval in intervals:
            edges.update((interval.start, interval.end))
    cuts = sorted(edges)
    segments: list[Segment] = []
    for lo, hi in pairwise(cuts):
        causes = tuple(sorted(c for c, intervals in clipped.items() if intervals.contains(lo)))
        ahead = lo >= now
        last = segments[-1] if segments else None
        if last is not None and last.causes == causes and last.ahead == ahead:
            segments[-1] = Segment(last.start, hi, causes, ahead)
        else:
            segments.append(Segment(lo, hi, causes, ahead))
    return tuple(segments)
