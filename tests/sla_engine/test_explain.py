"""The strip of an elapsed-time clock: counted and excluded segments, named by cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sla_engine.evaluation import ClockState, Outcome
from sla_engine.explain import Segment, explain_elapsed
from sla_engine.intervals import Interval, IntervalSet

T = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SLO = timedelta(minutes=30)
SLA = timedelta(minutes=60)


def m(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def span(lo: float, hi: float) -> IntervalSet:
    return IntervalSet.of(Interval(m(lo), m(hi)))


def shape(segments: tuple[Segment, ...]) -> list[tuple[float, float, tuple[str, ...], bool]]:
    return [
        (
            (s.start - T) / timedelta(minutes=1),
            (s.end - T) / timedelta(minutes=1),
            s.causes,
            s.ahead,
        )
        for s in segments
    ]


def test_running_clock_shows_the_window_that_moved_its_deadlines() -> None:
    result = explain_elapsed(T, None, m(20), slo=SLO, sla=SLA, exclusions={"7": span(10, 30)})
    assert result.evaluation.slo_due == m(50) and result.evaluation.sla_due == m(80)
    assert shape(result.segments) == [
        (0, 10, (), False),
        (10, 20, ("7",), False),
        (20, 30, ("7",), True),
        (30, 80, (), True),
    ]
    assert result.counted == timedelta(minutes=10) == result.evaluation.counted
    assert result.excluded == timedelta(minutes=10)


def test_overlapping_windows_name_every_cause() -> None:
    result = explain_elapsed(
        T, m(90), m(95), slo=SLO, sla=SLA, exclusions={"1": span(10, 30), "2": span(20, 40)}
    )
    assert shape(result.segments) == [
        (0, 10, (), False),
        (10, 20, ("1",), False),
        (20, 30, ("1", "2"), False),
        (30, 40, ("2",), False),
        (40, 90, (), False),
    ]
    assert result.evaluation.state is ClockState.STOPPED
    assert result.counted == timedelta(minutes=60) == result.evaluation.counted
    assert result.excluded == timedelta(minutes=30)
    assert result.evaluation.outcome is Outcome.SLO_BREACHED


def test_detection_inside_a_window_starts_with_an_excluded_segment() -> None:
    result = explain_elapsed(T, m(40), m(41), slo=SLO, sla=SLA, exclusions={"3": span(-10, 15)})
    assert shape(result.segments) == [(0, 15, ("3",), False), (15, 40, (), False)]
    assert result.evaluation.outcome is Outcome.MET
    assert result.counted == timedelta(minutes=25)


def test_windows_outside_the_strip_and_no_windows_leave_one_counted_segment() -> None:
    result = explain_elapsed(T, m(5), m(6), slo=SLO, sla=SLA, exclusions={"9": span(100, 120)})
    assert shape(result.segments) == [(0, 5, (), False)]
    assert result.excluded == timedelta(0)
    running = explain_elapsed(T, None, m(70), slo=SLO, sla=SLA, exclusions={})
    assert shape(running.segments) == [(0, 70, (), False)], "past the SLA the strip ends at now"
    assert running.evaluation.outcome is Outcome.SLA_BREACHED


def test_a_window_with_no_end_pauses_the_strip_without_inventing_due_instants() -> None:
    result = explain_elapsed(
        T, None, m(40), slo=SLO, sla=SLA, exclusions={"4": span(5, 10)}, open_from={"8": m(20)}
    )
    assert result.evaluation.slo_due is None and result.evaluation.sla_due is None
    assert shape(result.segments) == [
        (0, 5, (), False),
        (5, 10, ("4",), False),
        (10, 20, (), False),
        (20, 40, ("8",), False),
    ], "the strip ends at now: nothing beyond an unknown end is drawn"
    assert result.counted == timedelta(minutes=15) == result.evaluation.counted
    assert result.excluded == timedelta(minutes=25)
