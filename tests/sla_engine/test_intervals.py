from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla_engine.intervals import Interval, IntervalSet

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iv(a: float, b: float) -> Interval:
    return Interval(at(a), at(b))


def spans(intervals: IntervalSet) -> list[tuple[float, float]]:
    return [
        ((i.start - T0) / timedelta(minutes=1), (i.end - T0) / timedelta(minutes=1))
        for i in intervals
    ]


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], []),
        ([(0, 10)], [(0, 10)]),
        ([(20, 30), (0, 10)], [(0, 10), (20, 30)]),
        ([(0, 10), (5, 15)], [(0, 15)]),
        ([(0, 10), (10, 20)], [(0, 20)]),  # touching intervals merge
        ([(0, 30), (5, 10), (12, 14)], [(0, 30)]),  # nested
        ([(0, 10), (0, 10)], [(0, 10)]),
        ([(40, 50), (0, 5), (4, 20), (19, 25), (30, 35)], [(0, 25), (30, 35), (40, 50)]),
    ],
)
def test_normalisation(
    given: list[tuple[float, float]], expected: list[tuple[float, float]]
) -> None:
    built = IntervalSet.from_intervals(iv(a, b) for a, b in given)
    assert spans(built) == expected
    assert spans(IntervalSet.of(*(iv(a, b) for a, b in given))) == expected
    assert len(built) == len(expected)
    assert bool(built) == bool(expected)


def test_empty() -> None:
    assert not IntervalSet.EMPTY
    assert len(IntervalSet.EMPTY) == 0
    assert IntervalSet.EMPTY.measure() == timedelta(0)
    assert IntervalSet.of() == IntervalSet.EMPTY
    assert not IntervalSet.EMPTY.contains(T0)


def test_interval_must_be_ordered_and_aware() -> None:
    with pytest.raises(ValueError, match="before its end"):
        Interval(at(10), at(10))
    with pytest.raises(ValueError, match="before its end"):
        Interval(at(10), at(5))
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2026, 3, 2), at(5))
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(at(0), datetime(2026, 3, 3))


def test_interval_duration() -> None:
    assert iv(0, 90).duration == minutes(90)


def test_set_is_stored_in_utc_whatever_zone_it_was_given_in() -> None:
    tokyo = IntervalSet.of(Interval(at(0).astimezone(TOKYO), at(10).astimezone(TOKYO)))
    assert tokyo == IntervalSet.of(iv(0, 10))
    assert hash(tokyo) == hash(IntervalSet.of(iv(0, 10)))
    assert all(i.start.tzinfo is UTC for i in tokyo)


@pytest.mark.parametrize(
    ("a", "b", "union", "intersection", "a_minus_b"),
    [
        ([(0, 10)], [], [(0, 10)], [], [(0, 10)]),
        ([], [(0, 10)], [(0, 10)], [], []),
        ([(0, 10)], [(5, 15)], [(0, 15)], [(5, 10)], [(0, 5)]),
        ([(0, 10)], [(10, 20)], [(0, 20)], [], [(0, 10)]),
        (
            [(0, 30)],
            [(5, 10), (20, 25)],
            [(0, 30)],
            [(5, 10), (20, 25)],
            [(0, 5), (10, 20), (25, 30)],
        ),
        ([(5, 10), (20, 25)], [(0, 30)], [(0, 30)], [(5, 10), (20, 25)], []),
        ([(0, 10), (20, 30)], [(5, 25)], [(0, 30)], [(5, 10), (20, 25)], [(0, 5), (25, 30)]),
        ([(0, 10)], [(0, 10)], [(0, 10)], [(0, 10)], []),
        ([(0, 10), (40, 50)], [(20, 30)], [(0, 10), (20, 30), (40, 50)], [], [(0, 10), (40, 50)]),
    ],
)
def test_algebra(
    a: list[tuple[float, float]],
    b: list[tuple[float, float]],
    union: list[tuple[float, float]],
    intersection: list[tuple[float, float]],
    a_minus_b: list[tuple[float, float]],
) -> None:
    sa = IntervalSet.from_intervals(iv(x, y) for x, y in a)
    sb = IntervalSet.from_intervals(iv(x, y) for x, y in b)
    assert spans(sa.union(sb)) == union
    assert spans(sa.intersection(sb)) == intersection
    assert spans(sb.intersection(sa)) == intersection
    assert spans(sa.subtract(sb)) == a_minus_b


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (-10, 100, [(0, 10), (20, 30)]),
        (5, 25, [(5, 10), (20, 25)]),
        (10, 20, []),
        (12, 18, []),
        (25, 25, []),
        (30, 10, []),
        (0, 10, [(0, 10)]),
        (9, 21, [(9, 10), (20, 21)]),
    ],
)
def test_clip_and_measure_within(
    start: float, end: float, expected: list[tuple[float, float]]
) -> None:
    s = IntervalSet.of(iv(0, 10), iv(20, 30))
    assert spans(s.clip(at(start), at(end))) == expected
    assert s.measure_within(at(start), at(end)) == minutes(sum(b - a for a, b in expected))


def test_measure() -> None:
    assert IntervalSet.of(iv(0, 10), iv(5, 15), iv(20, 21)).measure() == minutes(16)


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        (-1, False),
        (0, True),
        (5, True),
        (9.99, True),
        (10, False),
        (15, False),
        (20, True),
        (30, False),
    ],
)
def test_contains_is_half_open(instant: float, inside: bool) -> None:
    s = IntervalSet.of(iv(0, 10), iv(20, 30))
    assert s.contains(at(instant)) is inside
    assert (at(instant) in s) is inside
    assert s.contains(at(instant).astimezone(TOKYO)) is inside


def test_contains_rejects_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        IntervalSet.of(iv(0, 10)).contains(datetime(2026, 3, 2, 0, 5))
    with pytest.raises(ValueError, match="timezone-aware"):
        IntervalSet.of(iv(0, 10)).measure_within(datetime(2026, 3, 2), at(5))


def test_equality_and_repr() -> None:
    assert IntervalSet.of(iv(0, 10), iv(10, 20)) == IntervalSet.of(iv(0, 20))
    assert IntervalSet.of(iv(0, 10)) != IntervalSet.of(iv(0, 11))
    assert IntervalSet.of(iv(0, 10)) != "not a set"
    assert repr(IntervalSet.of(iv(0, 10))) == (
        "IntervalSet([2026-03-02T00:00:00+00:00, 2026-03-02T00:10:00+00:00))"
    )
