"""The fault rule (SPEC section 4): a fault excuses only what it hid, unless read literally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sla_engine.clock import evaluate_elapsed
from sla_engine.evaluation import ClockState, Outcome
from sla_engine.faults import Excusal, Fault, FaultExclusion, excusals
from sla_engine.intervals import Interval, IntervalSet

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SLO = timedelta(minutes=30)
SLA = timedelta(minutes=60)
HIDDEN = FaultExclusion.HIDDEN
ALL = FaultExclusion.ALL


def at(minutes: float | None) -> datetime | None:
    return None if minutes is None else T0 + timedelta(minutes=minutes)


def at_(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def spans(
    fault: tuple[float, float | None], detected: float, received: float, mode: FaultExclusion
) -> list[tuple[datetime, datetime | None]]:
    start, end = fault
    result = excusals([Fault("f", at_(start), at(end))], at_(detected), at_(received), mode)
    return [(e.start, e.end) for e in result]


@pytest.mark.parametrize(
    ("fault", "detected", "received", "mode", "expected"),
    [
        # hidden: the first alert reached slad only after the fault began
        ((10, 40), 20, 50, HIDDEN, [(20, 40)]),  # fault began before detection
        ((10, 40), 0, 30, HIDDEN, [(10, 30)]),  # fault began after detection
        ((10, 40), 0, 60, HIDDEN, [(10, 40)]),  # the whole fault lies in the hidden span
        ((10, None), 20, 50, HIDDEN, [(20, 50)]),  # open fault: bounded by first receipt
        ((10, None), 0, 30, HIDDEN, [(10, 30)]),
        # known: slad had the incident when the fault began
        ((10, 40), 0, 5, HIDDEN, []),
        ((10, 40), 0, 10, HIDDEN, []),  # received at the very instant it began: seen
        ((10, None), 0, 5, HIDDEN, []),  # an open fault pauses nothing slad knew
        # the fault ended before detection: nothing to excuse
        ((0, 10), 20, 50, HIDDEN, []),
        # detection later than receipt never happens (skew correction), excuses nothing
        ((0, 60), 30, 30, HIDDEN, []),
        # all: the literal reading, the fault's whole span for every incident it covers
        ((10, 40), 0, 5, ALL, [(10, 40)]),
        ((10, 40), 20, 50, ALL, [(10, 40)]),
        ((10, None), 0, 5, ALL, [(10, None)]),
    ],
)
def test_fault_rule_table(
    fault: tuple[float, float | None],
    detected: float,
    received: float,
    mode: FaultExclusion,
    expected: list[tuple[float, float | None]],
) -> None:
    assert spans(fault, detected, received, mode) == [(at(a), at(b)) for a, b in expected]


def test_excusals_name_their_fault_and_keep_its_order() -> None:
    first = Fault("7", at_(10), at_(20))
    second = Fault("3", at_(5), None)
    known = Fault("9", at_(45), at_(50))
    result = excusals([first, second, known], at_(0), at_(40), HIDDEN)
    assert result == (Excusal(first, at_(10), at_(20)), Excusal(second, at_(5), at_(40)))


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        excusals([], datetime(2026, 3, 2), at_(0), HIDDEN)


def test_a_window_with_no_end_pauses_without_inventing_due_instants() -> None:
    result = evaluate_elapsed(
        T0, None, at_(40), slo=SLO, sla=SLA, exclusions=IntervalSet.EMPTY, open_from=at_(20)
    )
    assert result.state is ClockState.PAUSED
    assert (result.slo_due, result.sla_due, result.next_due) == (None, None, None)
    assert result.counted == timedelta(minutes=20)
    assert [w.at for w in result.warnings] == [at_(15), None]  # 50 % was reached before it
    assert result.outcome is None and result.passed == ()


def test_targets_reached_before_the_open_window_keep_their_instants() -> None:
    result = evaluate_elapsed(
        T0, None, at_(50), slo=SLO, sla=SLA, exclusions=IntervalSet.EMPTY, open_from=at_(40)
    )
    assert result.slo_due == at_(30)  # passed before the window opened: a real breach
    assert result.sla_due is None
    assert result.passed == ("slo",)
    assert result.state is ClockState.PAUSED
    exactly = evaluate_elapsed(
        T0, None, at_(50), slo=SLO, sla=SLA, exclusions=IntervalSet.EMPTY, open_from=at_(30)
    )
    assert exactly.slo_due == at_(30), "reached exactly when the window opens"


def test_before_the_open_window_the_clock_runs_and_is_judged_as_usual() -> None:
    finite = IntervalSet.of(Interval(at_(5), at_(10)))
    result = evaluate_elapsed(
        T0, None, at_(12), slo=SLO, sla=SLA, exclusions=finite, open_from=at_(50)
    )
    assert result.state is ClockState.RUNNING
    assert (result.slo_due, result.sla_due) == (at_(35), None)
    assert result.next_due == at_(20)  # the 50 % warning, after the 5-minute window
    stopped = evaluate_elapsed(
        T0, at_(70), at_(80), slo=SLO, sla=SLA, exclusions=finite, open_from=at_(50)
    )
    assert stopped.counted == timedelta(minutes=45), "nothing counts after the window opened"
    assert (stopped.state, stopped.outcome) == (ClockState.STOPPED, Outcome.SLO_BREACHED)


def test_passed_names_the_targets_a_clock_went_beyond() -> None:
    def passed(now: float) -> tuple[str, ...]:
        return evaluate_elapsed(
            T0, None, at_(now), slo=SLO, sla=SLA, exclusions=IntervalSet.EMPTY
        ).passed

    assert (passed(30), passed(31), passed(60), passed(61)) == (
        (),
        ("slo",),
        ("slo",),
        ("slo", "sla"),
    )
