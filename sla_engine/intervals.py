"""Sets of half-open time intervals, the shape of every exclusion in a clock.

Maintenance windows and monitoring faults overlap, touch and nest freely; a clock only
cares about the instants they cover together. `IntervalSet` keeps that union in a
normalised form (sorted, disjoint, with touching intervals merged), so measuring the
excluded part of a span or walking forward to a deadline is a single ordered scan.

Every interval set stores its bounds in UTC. Aware `datetime` arithmetic between two
values that share a `tzinfo` object is wall-clock arithmetic (wrong across a DST change)
and comparisons between different `tzinfo` objects are slow; normalising once at the edge
makes every later comparison and subtraction both exact and cheap, and makes results
independent of the zone the instants were given in.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

ZERO = timedelta(0)


def require_aware(instant: datetime, what: str = "instant") -> datetime:
    """Return `instant` in UTC, or raise ValueError when it carries no offset.

    A naive datetime names no instant at all: the same wall time means different moments
    in Tokyo and in UTC, so guessing a zone would silently shift every deadline.
    """
    tz = instant.tzinfo
    if tz is UTC:
        return instant
    if tz is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Interval:
    """The half-open span [start, end): `start` is inside it, `end` is not.

    Half-open intervals tile without overlap, so a window ending at 04:00 and one starting
    at 04:00 share no instant and an instant at the end of a window is countable again.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = require_aware(self.start, "interval start")
        end = require_aware(self.end, "interval end")
        if not start < end:
            raise ValueError(
                f"interval start {self.start.isoformat()} must be before its end "
                f"{self.end.isoformat()}"
            )

    @property
    def duration(self) -> timedelta:
        """The length of the interval in elapsed time."""
        return require_aware(self.end) - require_aware(self.start)


class IntervalSet:
    """An immutable, normalised union of half-open intervals.

    Bounds are kept as two parallel tuples (`starts`, `ends`) of UTC instants, sorted and
    strictly alternating (`starts[i] < ends[i] < starts[i + 1]`), so that `bisect` finds
    the interval around any instant in logarithmic time without building objects.
    """

    __slots__ = ("_ends", "_starts")

    _starts: tuple[datetime, ...]
    _ends: tuple[datetime, ...]

    EMPTY: ClassVar[IntervalSet]

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._starts, self._ends = _merge(
            (require_aware(interval.start), require_aware(interval.end)) for interval in intervals
        )

    @classmethod
    def of(cls, *intervals: Interval) -> IntervalSet:
        """The union of the given intervals."""
        return cls(intervals)

    @classmethod
    def from_intervals(cls, intervals: Iterable[Interval]) -> IntervalSet:
        """The union of any iterable of intervals, in any order, overlapping or not."""
        return cls(intervals)

    @classmethod
    def _normalised(cls, starts: tuple[datetime, ...], ends: tuple[datetime, ...]) -> IntervalSet:
        """Wrap bounds that are already UTC, sorted, disjoint and non-touching."""
        result = object.__new__(cls)
        result._starts = starts
        result._ends = ends
        return result

    @property
    def starts(self) -> tuple[datetime, ...]:
        """Start of each interval, in UTC, ascending."""
        return self._starts

    @property
    def ends(self) -> tuple[datetime, ...]:
        """End of each interval, in UTC, ascending; `ends[i]` closes `starts[i]`."""
        return self._ends

    def __iter__(self) -> Iterator[Interval]:
        return map(Interval, self._starts, self._ends)

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    def __hash__(self) -> int:
        return hash((self._starts, self._ends))

    def __repr__(self) -> str:
        spans = ", ".join(
            f"[{start.isoformat()}, {end.isoformat()})"
            for start, end in zip(self._starts, self._ends, strict=True)
        )
        return f"IntervalSet({spans})"

    def union(self, other: IntervalSet) -> IntervalSet:
        """Every instant in either set."""
        if not other._starts:
            return self
        if not self._starts:
            return other
        return IntervalSet._normalised(
            *_merge(
                [
                    *zip(self._starts, self._ends, strict=True),
                    *zip(other._starts, other._ends, strict=True),
                ]
            )
        )

    def intersection(self, other: IntervalSet) -> IntervalSet:
        """Every instant in both sets."""
        a_starts, a_ends = self._starts, self._ends
        b_starts, b_ends = other._starts, other._ends
        starts: list[datetime] = []
        ends: list[datetime] = []
        i = j = 0
        while i < len(a_starts) and j < len(b_starts):
            start = max(a_starts[i], b_starts[j])
            end = min(a_ends[i], b_ends[j])
            if start < end:
                starts.append(start)
                ends.append(end)
            if a_ends[i] < b_ends[j]:
                i += 1
            else:
                j += 1
        return IntervalSet._normalised(tuple(starts), tuple(ends))

    def subtract(self, other: IntervalSet) -> IntervalSet:
        """Every instant in this set and not in `other`."""
        if not other._starts or not self._starts:
            return self
        b_starts, b_ends = other._starts, other._ends
        starts: list[datetime] = []
        ends: list[datetime] = []
        j = 0
        for start, end in zip(self._starts, self._ends, strict=True):
            while j < len(b_ends) and b_ends[j] <= start:
                j += 1
            cursor = start
            k = j
            while k < len(b_starts) and b_starts[k] < end:
                if b_starts[k] > cursor:
                    starts.append(cursor)
                    ends.append(b_starts[k])
                cursor = max(cursor, b_ends[k])
                k += 1
            if cursor < end:
                starts.append(cursor)
                ends.append(end)
        return IntervalSet._normalised(tuple(starts), tuple(ends))

    def clip(self, start: datetime, end: datetime) -> IntervalSet:
        """The part of this set inside [start, end); empty when end <= start."""
        lo = require_aware(start, "clip start")
        hi = require_aware(end, "clip end")
        if hi <= lo:
            return IntervalSet.EMPTY
        first = bisect_right(self._ends, lo)
        last = bisect_left(self._starts, hi)
        if first >= last:
            return IntervalSet.EMPTY
        starts = list(self._starts[first:last])
        ends = list(self._ends[first:last])
        starts[0] = max(starts[0], lo)
        ends[-1] = min(ends[-1], hi)
        return IntervalSet._normalised(tuple(starts), tuple(ends))

    def measure(self) -> timedelta:
        """Total elapsed time covered by the set."""
        total = ZERO
        for start, end in zip(self._starts, self._ends, strict=True):
            total += end - start
        return total

    def measure_within(self, start: datetime, end: datetime) -> timedelta:
        """Elapsed time the set covers inside [start, end); zero when end <= start."""
        return _covered(self._starts, self._ends, require_aware(start), require_aware(end))

    def contains(self, instant: datetime) -> bool:
        """Whether `instant` lies in one of the intervals (an interval's end does not)."""
        at = require_aware(instant)
        i = bisect_right(self._starts, at)
        return i > 0 and at < self._ends[i - 1]

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.contains(instant)


def _merge(
    pairs: Iterable[tuple[datetime, datetime]],
) -> tuple[tuple[datetime, ...], tuple[datetime, ...]]:
    """Sort (start, end) pairs in UTC and merge the ones that overlap or touch."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for start, end in sorted(pairs):
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return tuple(starts), tuple(ends)


def _covered(
    starts: tuple[datetime, ...], ends: tuple[datetime, ...], lo: datetime, hi: datetime
) -> timedelta:
    """Time covered by the normalised intervals inside [lo, hi); bounds already in UTC."""
    total = ZERO
    if hi <= lo:
        return total
    i = bisect_right(ends, lo)
    n = len(starts)
    while i < n:
        start = starts[i]
        if start >= hi:
            break
        end = ends[i]
        total += (hi if end > hi else end) - (lo if start < lo else start)
        i += 1
    return total


IntervalSet.EMPTY = IntervalSet._normalised((), ())
