"""Recurring maintenance windows described by RFC 5545 recurrence rules.

A window such as "every Sunday 02:00-04:00 Asia/Tokyo" is stored once, as a start, a
duration and an RRULE, and expanded on demand into the concrete intervals that overlap the
span a clock cares about. Occurrences follow the wall clock of `dtstart`'s zone (02:00
local every Sunday, whatever the UTC offset that day); each then lasts exactly `duration`
of elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrule as RecurrenceRule
from dateutil.rrule import rrulestr

from sla_engine.intervals import Interval, IntervalSet, require_aware

_PREFIX = "RRULE:"
# Wide enough to absorb any UTC-offset change between the range bounds and local time.
_OFFSET_MARGIN = timedelta(days=1)
_TOO_FREQUENT = frozenset({"MINUTELY", "SECONDLY"})


def normalise_rrule(text: str) -> str:
    """The rule body without its optional `RRULE:` prefix or surrounding blanks."""
    body = text.strip()
    if body[: len(_PREFIX)].upper() == _PREFIX:
        body = body[len(_PREFIX) :].strip()
    return body


def parse_rrule(text: str, dtstart: datetime) -> RecurrenceRule:
    """Parse one RRULE body anchored at `dtstart`; ValueError says what is wrong.

    Only a single rule is accepted (no DTSTART, EXDATE or further lines): the window's
    start is its own field, so a second source of truth inside the text would be
    ambiguous. Rules repeating more often than hourly are refused, because a maintenance
    window every few seconds or minutes is a configuration error and would expand into
    an unbounded number of intervals.
    """
    require_aware(dtstart, "recurrence dtstart")
    body = normalise_rrule(text)
    if not body:
        raise ValueError("recurrence rule is empty")
    if any(char in body for char in "\r\n:"):
        raise ValueError(f"recurrence rule must be a single RRULE body, got {text!r}")
    parts = dict(_split_part(part) for part in body.split(";") if part.strip())
    if "FREQ" not in parts:
        raise ValueError(f"recurrence rule {body!r} has no FREQ")
    if parts["FREQ"] in _TOO_FREQUENT:
        raise ValueError(f"recurrence rule {body!r} repeats more often than hourly")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError(f"recurrence rule {body!r} must not give both COUNT and UNTIL")
    try:
        rule = rrulestr(body, dtstart=dtstart)
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"invalid recurrence rule {body!r}: {error}") from error
    if not isinstance(rule, RecurrenceRule):
        raise ValueError(f"recurrence rule {body!r} must be a single RRULE")
    return rule


def _split_part(part: str) -> tuple[str, str]:
    """One `NAME=VALUE` part of a rule, the name upper-cased for lookups."""
    name, _, value = part.partition("=")
    return name.strip().upper(), value.strip().upper()


@dataclass(frozen=True, slots=True)
class RecurringWindow:
    """A window that opens at every occurrence of `rrule` and stays open for `duration`.

    `dtstart` is the first occurrence, given in the zone whose wall clock the rule follows
    (e.g. 2026-01-04 02:00 Asia/Tokyo with `FREQ=WEEKLY;BYDAY=SU`). `rrule` is kept as
    text, without the optional `RRULE:` prefix, so windows compare and store by value.
    """

    dtstart: datetime
    duration: timedelta
    rrule: str
    _rule: RecurrenceRule = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError(f"window duration must be positive, got {self.duration}")
        rule = parse_rrule(self.rrule, self.dtstart)
        object.__setattr__(self, "rrule", normalise_rrule(self.rrule))
        object.__setattr__(self, "_rule", rule)


def expand(window: RecurringWindow, range_start: datetime, range_end: datetime) -> IntervalSet:
    """Every occurrence of `window` that overlaps [range_start, range_end), unclipped.

    An occurrence that opened before `range_start` and is still open at it is included
    whole, so a clock started inside a window sees the window's real end.
    """
    lo = require_aware(range_start, "range start")
    hi = require_aware(range_end, "range end")
    if hi <= lo:
        return IntervalSet.EMPTY
    duration = window.duration
    zone = window.dtstart.tzinfo
    after = (lo - duration - _OFFSET_MARGIN).astimezone(zone)
    before = (hi + _OFFSET_MARGIN).astimezone(zone)
    intervals = []
    for occurrence in window._rule.between(after, before, inc=True):
        start = occurrence.astimezone(UTC)
        end = start + duration
        if start < hi and end > lo:
            intervals.append(Interval(start, end))
    return IntervalSet.from_intervals(intervals)
