from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sla_engine.clock import countable, due_instant, evaluate_elapsed
from sla_engine.evaluation import ClockState, Outcome, judge_instant
from sla_engine.intervals import Interval, IntervalSet

T0 = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # Saturday 23:00 JST, near midnight
HOUR_US = 3_600_000_000
ZONES = [
    UTC,
    ZoneInfo("Asia/Tokyo"),
    ZoneInfo("America/New_York"),  # DST starts 2026-03-08
    ZoneInfo("Europe/London"),
    timezone(timedelta(hours=5, minutes=30)),
]
RANK = {Outcome.MET: 0, Outcome.SLO_BREACHED: 1, Outcome.SLA_BREACHED: 2}

# Offsets in microseconds, so exactness is tested below the second.
offsets = st.integers(min_value=-3 * HOUR_US, max_value=6 * HOUR_US)
lengths = st.integers(min_value=1, max_value=2 * HOUR_US)
targets = st.integers(min_value=0, max_value=3 * HOUR_US).map(lambda us: timedelta(microseconds=us))
zones = st.sampled_from(ZONES)


def at(us: int) -> datetime:
    return T0 + timedelta(microseconds=us)


@st.composite
def interval_sets(draw: st.DrawFn, max_size: int = 6) -> IntervalSet:
    pairs = draw(st.lists(st.tuples(offsets, lengths), max_size=max_size))
    return IntervalSet.of(*(Interval(at(s), at(s + n)) for s, n in pairs))


@st.composite
def slo_sla(draw: st.DrawFn) -> tuple[timedelta, timedelta]:
    slo = draw(st.integers(min_value=1, max_value=2 * HOUR_US))
    sla = draw(st.integers(min_value=slo, max_value=4 * HOUR_US))
    return timedelta(microseconds=slo), timedelta(microseconds=sla)


def in_zone(exclusions: IntervalSet, zone: timezone | ZoneInfo) -> IntervalSet:
    return IntervalSet.of(
        *(Interval(i.start.astimezone(zone), i.end.astimezone(zone)) for i in exclusions)
    )


# --- due instants --------------------------------------------------------------------


@settings(deadline=None)
@given(start=offsets, target=targets, exclusions=interval_sets())
def test_countable_time_up_to_the_due_instant_is_the_target(
    start: int, target: timedelta, exclusions: IntervalSet
) -> None:
    due = due_instant(at(start), target, exclusions)
    assert countable(at(start), due, exclusions) == target
    if target:
        # ... and it is the first such instant.
        assert countable(at(start), due - timedelta(microseconds=1), exclusions) < target
        assert not exclusions.contains(due - timedelta(microseconds=1))


@settings(deadline=None)
@given(start=offsets, target=targets, exclusions=interval_sets(), extra=st.tuples(offsets, lengths))
def test_adding_a_window_never_moves_a_due_instant_earlier(
    start: int, target: timedelta, exclusions: IntervalSet, extra: tuple[int, int]
) -> None:
    window = IntervalSet.of(Interval(at(extra[0]), at(extra[0] + extra[1])))
    before = due_instant(at(start), target, exclusions)
    after = due_instant(at(start), target, exclusions.union(window))
    assert after >= before


@settings(deadline=None)
@given(start=offsets, a=offsets, b=offsets, exclusions=interval_sets())
def test_countable_plus_excluded_is_wall_time(
    start: int, a: int, b: int, exclusions: IntervalSet
) -> None:
    lo, hi = sorted((a, b))
    wall = at(hi) - at(lo)
    assert countable(at(lo), at(hi), exclusions) + exclusions.measure_within(at(lo), at(hi)) == wall


# --- evaluation ----------------------------------------------------------------------


@settings(deadline=None)
@given(
    start=offsets,
    first=st.integers(min_value=0, max_value=6 * HOUR_US),
    second=st.integers(min_value=0, max_value=6 * HOUR_US),
    targets=slo_sla(),
    exclusions=interval_sets(),
)
def test_outcome_never_improves_as_the_stop_moves_later(
    start: int,
    first: int,
    second: int,
    targets: tuple[timedelta, timedelta],
    exclusions: IntervalSet,
) -> None:
    slo, sla = targets
    early, late = sorted((first, second))

    def outcome(stop: int) -> Outcome:
        result = evaluate_elapsed(
            at(start), at(start + stop), at(start + stop), slo=slo, sla=sla, exclusions=exclusions
        )
        assert result.outcome is not None
        return result.outcome

    assert RANK[outcome(early)] <= RANK[outcome(late)]


@settings(deadline=None)
@given(
    start=offsets,
    stop=st.none() | st.integers(min_value=0, max_value=6 * HOUR_US),
    now=offsets,
    targets=slo_sla(),
    exclusions=interval_sets(),
    zone_start=zones,
    zone_stop=zones,
    zone_now=zones,
    zone_windows=zones,
)
def test_results_do_not_depend_on_the_zone_of_the_instants(
    start: int,
    stop: int | None,
    now: int,
    targets: tuple[timedelta, timedelta],
    exclusions: IntervalSet,
    zone_start: timezone,
    zone_stop: timezone,
    zone_now: timezone,
    zone_windows: timezone,
) -> None:
    slo, sla = targets
    stop_at = None if stop is None else at(start + stop)
    reference = evaluate_elapsed(
        at(start), stop_at, at(now), slo=slo, sla=sla, exclusions=exclusions
    )
    zoned = evaluate_elapsed(
        at(start).astimezone(zone_start),
        None if stop_at is None else stop_at.astimezone(zone_stop),
        at(now).astimezone(zone_now),
        slo=slo,
        sla=sla,
        exclusions=in_zone(exclusions, zone_windows),
    )
    assert zoned == reference
    assert zoned.slo_due.isoformat() == reference.slo_due.isoformat()
    assert zoned.start.isoformat() == reference.start.isoformat()


@settings(deadline=None)
@given(
    start=offsets,
    stop=st.none() | st.integers(min_value=0, max_value=6 * HOUR_US),
    now=offsets,
    targets=slo_sla(),
    exclusions=interval_sets(),
)
def test_evaluation_is_self_consistent(
    start: int,
    stop: int | None,
    now: int,
    targets: tuple[timedelta, timedelta],
    exclusions: IntervalSet,
) -> None:
    slo, sla = targets
    stop_at = None if stop is None else at(start + stop)
    result = evaluate_elapsed(at(start), stop_at, at(now), slo=slo, sla=sla, exclusions=exclusions)
    assert result.slo_due <= result.sla_due
    assert [w.at for w in result.warnings] == sorted(w.at for w in result.warnings)
    assert all(w.at <= result.slo_due for w in result.warnings)
    assert result.slo_remaining == max(timedelta(0), slo - result.counted)
    assert result.sla_remaining == max(timedelta(0), sla - result.counted)
    if stop_at is not None:
        assert result.state is ClockState.STOPPED
        assert result.next_due is None
        assert result.outcome is not None
        # Judging by countable time is never harsher than judging the stop instant.
        by_instant = judge_instant(stop_at, result.slo_due, result.sla_due)
        assert RANK[result.outcome] <= RANK[by_instant]
        if not exclusions.contains(stop_at) and stop_at not in exclusions.ends:
            assert result.outcome is by_instant
    else:
        assert result.state is not ClockState.STOPPED
        assert result.next_due is None or result.next_due > at(now)
        # Running: a breach is reported exactly once its due instant has passed.
        assert (result.outcome is not None) == (at(now) > result.slo_due)
        assert (result.outcome is Outcome.SLA_BREACHED) == (at(now) > result.sla_due)


# --- interval set algebra ------------------------------------------------------------


@settings(deadline=None)
@given(a=interval_sets(), b=interval_sets())
def test_union_and_intersection_measures(a: IntervalSet, b: IntervalSet) -> None:
    assert a.union(b).measure() + a.intersection(b).measure() == a.measure() + b.measure()
    assert a.union(b) == b.union(a)
    assert a.intersection(b) == b.intersection(a)


@settings(deadline=None)
@given(a=interval_sets(), b=interval_sets())
def test_subtract_measures(a: IntervalSet, b: IntervalSet) -> None:
    difference = a.subtract(b)
    assert difference.measure() == a.measure() - a.intersection(b).measure()
    assert not difference.intersection(b)
    assert difference.union(a.intersection(b)) == a


@settings(deadline=None)
@given(a=interval_sets(max_size=10))
def test_sets_are_normalised(a: IntervalSet) -> None:
    starts, ends = a.starts, a.ends
    assert all(s < e for s, e in zip(starts, ends, strict=True))
    assert all(e < s for e, s in zip(ends, starts[1:], strict=False))
    assert all(s.tzinfo is UTC for s in starts)


@settings(deadline=None)
@given(a=interval_sets(), b=interval_sets(), instant=offsets)
def test_membership_follows_the_algebra(a: IntervalSet, b: IntervalSet, instant: int) -> None:
    x = at(instant)
    assert a.union(b).contains(x) == (a.contains(x) or b.contains(x))
    assert a.intersection(b).contains(x) == (a.contains(x) and b.contains(x))
    assert a.subtract(b).contains(x) == (a.contains(x) and not b.contains(x))


@settings(deadline=None)
@given(a=interval_sets(), lo=offsets, hi=offsets)
def test_clip_measure_is_measure_within(a: IntervalSet, lo: int, hi: int) -> None:
    assert a.clip(at(lo), at(hi)).measure() == a.measure_within(at(lo), at(hi))
    assert a.clip(at(lo), at(hi)) == a.intersection(
        IntervalSet.of(Interval(at(lo), at(hi))) if lo < hi else IntervalSet.EMPTY
    )
