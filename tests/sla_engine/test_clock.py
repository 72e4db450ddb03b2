from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla_engine.clock import countable, due_instant, evaluate_elapsed
from sla_engine.evaluation import ClockEvaluation, ClockState, Outcome, WarningPoint
from sla_engine.intervals import Interval, IntervalSet
from sla_engine.policy import DEFAULT_PLANS
from sla_engine.recurrence import RecurringWindow, expand

TOKYO = ZoneInfo("Asia/Tokyo")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 JST
SLO = timedelta(minutes=30)
SLA = timedelta(minutes=60)
NO_WINDOWS = IntervalSet.EMPTY


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def mins(value: float) -> timedelta:
    return timedelta(minutes=value)


def windows(*pairs: tuple[float, float]) -> IntervalSet:
    return IntervalSet.of(*(Interval(at(a), at(b)) for a, b in pairs))


def contact(
    stop: float | None, now: float, exclusions: IntervalSet = NO_WINDOWS
) -> ClockEvaluation:
    return evaluate_elapsed(
        T0,
        None if stop is None else at(stop),
        at(now),
        slo=SLO,
        sla=SLA,
        exclusions=exclusions,
    )


# --- countable and due_instant -------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "pairs", "expected"),
    [
        (0, 30, [], 30),
        (0, 30, [(10, 20)], 20),
        (0, 30, [(-10, 5)], 25),  # window open at the start
        (0, 30, [(25, 40)], 25),  # window open at the end
        (0, 30, [(-10, 40)], 0),
        (0, 30, [(5, 10), (8, 15), (20, 22)], 18),  # overlapping windows count once
        (0, 30, [(-10, 0), (30, 40)], 30),  # windows touching the span do not eat it
        (30, 0, [], 0),  # backwards span
        (10, 10, [], 0),
    ],
)
def test_countable(
    start: float, end: float, pairs: list[tuple[float, float]], expected: float
) -> None:
    assert countable(at(start), at(end), windows(*pairs)) == mins(expected)


@pytest.mark.parametrize(
    ("target", "pairs", "expected"),
    [
        (30, [], 30),
        (0, [], 0),
        (0, [(-5, 10)], 0),  # zero target is reached at the start itself
        (30, [(10, 20)], 40),
        (30, [(-10, 20)], 50),  # detection inside a window counts from its end
        (30, [(0, 20)], 50),  # window opening exactly at detection
        (30, [(30, 40)], 30),  # window opening exactly at the due instant
        (30, [(29, 40)], 41),
        (30, [(5, 15), (10, 25), (40, 50)], 60),  # overlaps merge; a later window also counts
        (30, [(5, 10), (15, 20), (25, 30)], 45),
        (30, [(-60, -30)], 30),  # window in the past
    ],
)
def test_due_instant(target: float, pairs: list[tuple[float, float]], expected: float) -> None:
    assert due_instant(T0, mins(target), windows(*pairs)) == at(expected)


def test_due_instant_rejects_negative_targets_and_naive_starts() -> None:
    with pytest.raises(ValueError, match="negative"):
        due_instant(T0, mins(-1), NO_WINDOWS)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_instant(datetime(2026, 3, 2, 1, 0), SLO, NO_WINDOWS)
    with pytest.raises(ValueError, match="timezone-aware"):
        countable(T0, datetime(2026, 3, 2, 2, 0), NO_WINDOWS)


# --- SPEC §3: stopped clocks and inclusive targets -----------------------------------


@pytest.mark.parametrize(
    ("stop", "pairs", "counted", "outcome"),
    [
        (29 + 59 / 60, [], 29 + 59 / 60, Outcome.MET),
        (30, [], 30, Outcome.MET),  # exactly 30:00 meets the SLO
        (30 + 1 / 60, [], 30 + 1 / 60, Outcome.SLO_BREACHED),  # one second past
        (60, [], 60, Outcome.SLO_BREACHED),  # exactly 60:00 is within the SLA
        (60 + 1 / 60, [], 60 + 1 / 60, Outcome.SLA_BREACHED),
        (0, [], 0, Outcome.MET),  # contact at the detection instant
        (40, [(10, 20)], 30, Outcome.MET),  # window moved the SLO to 40:00
        (40 + 1 / 60, [(10, 20)], 30 + 1 / 60, Outcome.SLO_BREACHED),
        (35, [(30, 40)], 30, Outcome.MET),  # stop inside a window right after the due instant
        (40, [(30, 40)], 30, Outcome.MET),  # stop as that window closes
        (40 + 1 / 60, [(30, 40)], 30 + 1 / 60, Outcome.SLO_BREACHED),
        (45, [(-10, 15)], 30, Outcome.MET),  # detected inside a window
        (90, [(-10, 15)], 75, Outcome.SLA_BREACHED),
    ],
)
def test_stopped_clock(
    stop: float, pairs: list[tuple[float, float]], counted: float, outcome: Outcome
) -> None:
    result = contact(stop, now=stop + 100, exclusions=windows(*pairs))
    assert result.state is ClockState.STOPPED
    assert result.stop == at(stop)
    assert result.counted == mins(counted)
    assert result.outcome is outcome
    assert result.next_due is None
    assert result.slo_remaining == max(mins(0), SLO - mins(counted))
    assert result.sla_remaining == max(mins(0), SLA - mins(counted))


def test_stopped_clock_judged_before_now_reaches_the_stop() -> None:
    # Facts may arrive late; the evaluation depends on stop, not on now.
    assert contact(31, now=10) == contact(31, now=500)


# --- running clocks ------------------------------------------------------------------


def test_running_clock_without_windows() -> None:
    result = contact(None, now=10)
    assert result == ClockEvaluation(
        start=T0,
        stop=None,
        counted=mins(10),
        slo_due=at(30),
        sla_due=at(60),
        state=ClockState.RUNNING,
        outcome=None,
        slo_remaining=mins(20),
        sla_remaining=mins(50),
        warnings=(WarningPoint(0.5, at(15)), WarningPoint(0.8, at(24))),
        next_due=at(15),
    )


@pytest.mark.parametrize(
    ("now", "outcome", "next_due", "slo_remaining", "sla_remaining"),
    [
        (15, None, 24, 15, 45),  # the 50% warning is due now, so the next is 80%
        (20, None, 24, 10, 40),
        (24, None, 30, 6, 36),
        (30, None, 60, 0, 30),  # exactly on the SLO: not breached yet
        (30 + 1 / 60, Outcome.SLO_BREACHED, 60, 0, 30 - 1 / 60),
        (60, Outcome.SLO_BREACHED, None, 0, 0),
        (61, Outcome.SLA_BREACHED, None, 0, 0),
    ],
)
def test_running_clock_over_time(
    now: float,
    outcome: Outcome | None,
    next_due: float | None,
    slo_remaining: float,
    sla_remaining: float,
) -> None:
    result = contact(None, now=now)
    assert result.state is ClockState.RUNNING
    assert result.outcome is outcome
    assert result.next_due == (None if next_due is None else at(next_due))
    assert result.slo_remaining == mins(slo_remaining)
    assert result.sla_remaining == mins(sla_remaining)


def test_running_clock_with_a_window() -> None:
    result = contact(None, now=15, exclusions=windows((10, 20)))
    assert result.state is ClockState.PAUSED
    assert result.counted == mins(10)
    assert [w.at for w in result.warnings] == [at(25), at(34)]
    assert (result.slo_due, result.sla_due) == (at(40), at(70))
    assert result.next_due == at(25)
    assert contact(None, now=20, exclusions=windows((10, 20))).state is ClockState.RUNNING


def test_detection_inside_a_window_starts_counting_when_it_ends() -> None:
    exclusions = windows((-10, 20))
    paused = contact(None, now=5, exclusions=exclusions)
    assert paused.state is ClockState.PAUSED
    assert paused.counted == mins(0)
    assert paused.slo_due == at(50)
    assert paused.sla_due == at(80)
    assert [w.at for w in paused.warnings] == [at(35), at(44)]
    running = contact(None, now=25, exclusions=exclusions)
    assert running.state is ClockState.RUNNING
    assert running.counted == mins(5)


def test_windows_overlapping_each_other_and_the_start() -> None:
    result = contact(None, now=12, exclusions=windows((-5, 5), (3, 8), (10, 15), (14, 20)))
    assert result.counted == mins(2)
    assert result.state is ClockState.PAUSED
    # Countable: 8-10 (2 min), then from 20: 28 more minutes.
    assert result.slo_due == at(48)
    assert result.sla_due == at(78)


def test_planned_future_window_moves_the_due_instants() -> None:
    planned = windows((20, 35))
    result = contact(None, now=5, exclusions=planned)
    assert result.state is ClockState.RUNNING
    assert result.slo_due == at(45)
    assert result.sla_due == at(75)
    assert result.next_due == at(15)
    assert contact(None, now=5).slo_due == at(30)


def test_now_before_start_counts_nothing() -> None:
    result = contact(None, now=-5)
    assert result.counted == mins(0)
    assert result.state is ClockState.PAUSED
    assert result.outcome is None
    assert result.next_due == at(15)


def test_report_clock_uses_its_own_targets() -> None:
    report = DEFAULT_PLANS["standard"].clock("report")
    result = evaluate_elapsed(
        T0,
        at(61),
        at(61),
        slo=report.slo_delta,
        sla=report.sla_delta,
        exclusions=NO_WINDOWS,
        warn_fractions=report.warn_fractions,
    )
    assert result.outcome is Outcome.SLO_BREACHED
    assert result.sla_due == at(180)
    assert [w.at for w in result.warnings] == [at(30), at(48)]


def test_custom_warning_fractions() -> None:
    result = evaluate_elapsed(
        T0, None, T0, slo=SLO, sla=SLA, exclusions=NO_WINDOWS, warn_fractions=(0.9,)
    )
    assert result.warnings == (WarningPoint(0.9, at(27)),)
    none = evaluate_elapsed(
        T0, None, T0, slo=SLO, sla=SLA, exclusions=NO_WINDOWS, warn_fractions=()
    )
    assert none.warnings == ()
    assert none.next_due == at(30)


# --- time zones ----------------------------------------------------------------------


def test_utc_instants_near_midnight_jst() -> None:
    # 14:50 UTC is 23:50 JST; the SLO falls at 00:20 JST the next day.
    start = datetime(2026, 3, 2, 14, 50, tzinfo=UTC)
    result = evaluate_elapsed(
        start,
        datetime(2026, 3, 3, 0, 20, tzinfo=TOKYO),
        datetime(2026, 3, 3, 1, 0, tzinfo=TOKYO),
        slo=SLO,
        sla=SLA,
        exclusions=NO_WINDOWS,
    )
    assert result.counted == SLO
    assert result.outcome is Outcome.MET
    assert result.slo_due == datetime(2026, 3, 2, 15, 20, tzinfo=UTC)
    assert result.slo_due.tzinfo is UTC


def test_same_result_whatever_zone_the_instants_are_given_in() -> None:
    exclusions = windows((10, 20))
    in_utc = contact(None, now=25, exclusions=exclusions)
    in_tokyo = evaluate_elapsed(
        T0.astimezone(TOKYO),
        None,
        at(25).astimezone(ZoneInfo("America/New_York")),
        slo=SLO,
        sla=SLA,
        exclusions=IntervalSet.of(Interval(at(10).astimezone(TOKYO), at(20).astimezone(TOKYO))),
    )
    assert in_tokyo == in_utc
    assert in_tokyo.start.isoformat() == in_utc.start.isoformat()
    assert in_tokyo.slo_due.isoformat() == in_utc.slo_due.isoformat()


def test_recurring_sunday_window_moves_the_due_instant() -> None:
    # Detected Sunday 01:45 JST; the 02:00-04:00 JST window pauses the clock.
    sundays = RecurringWindow(
        datetime(2026, 1, 4, 2, 0, tzinfo=TOKYO), timedelta(hours=2), "RRULE:FREQ=WEEKLY;BYDAY=SU"
    )
    start = datetime(2026, 3, 8, 1, 45, tzinfo=TOKYO)
    exclusions = expand(sundays, start, start + timedelta(days=1))
    result = evaluate_elapsed(
        start,
        None,
        datetime(2026, 3, 8, 3, 0, tzinfo=TOKYO),
        slo=SLO,
        sla=SLA,
        exclusions=exclusions,
    )
    assert result.state is ClockState.PAUSED
    assert result.counted == mins(15)
    assert result.slo_due == datetime(2026, 3, 8, 4, 15, tzinfo=TOKYO)
    assert result.sla_due == datetime(2026, 3, 8, 4, 45, tzinfo=TOKYO)
    # 50% (15 min) was reached as the window opened; 80% (24 min) falls after it.
    assert [w.at for w in result.warnings] == [
        datetime(2026, 3, 8, 2, 0, tzinfo=TOKYO),
        datetime(2026, 3, 8, 4, 9, tzinfo=TOKYO),
    ]
    assert result.next_due == datetime(2026, 3, 8, 4, 9, tzinfo=TOKYO)


# --- invalid input -------------------------------------------------------------------


def test_stop_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        contact(-1, now=10)


@pytest.mark.parametrize("which", ["start", "stop", "now"])
def test_naive_instants_are_refused(which: str) -> None:
    naive = datetime(2026, 3, 2, 1, 30)
    args = {"start": T0, "stop": at(30), "now": at(40)}
    args[which] = naive
    with pytest.raises(ValueError, match=f"{which} must be timezone-aware"):
        evaluate_elapsed(
            args["start"], args["stop"], args["now"], slo=SLO, sla=SLA, exclusions=NO_WINDOWS
        )


@pytest.mark.parametrize(
    ("slo", "sla", "fractions", "message"),
    [
        (mins(0), SLA, (0.5,), "0 < slo <= sla"),
        (mins(90), SLA, (0.5,), "0 < slo <= sla"),
        (SLO, SLA, (0.0,), "strictly between 0 and 1"),
        (SLO, SLA, (1.0,), "strictly between 0 and 1"),
    ],
)
def test_bad_targets_are_refused(
    slo: timedelta, sla: timedelta, fractions: tuple[float, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_elapsed(
            T0, None, at(1), slo=slo, sla=sla, exclusions=NO_WINDOWS, warn_fractions=fractions
        )
