"""The `support_reply` business-day clock (SPEC §5)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla_engine.calendar import BusinessCalendar
from sla_engine.evaluation import ClockState, Outcome
from sla_engine.support import (
    IN_SCOPE_CHANNELS,
    SupportChannel,
    evaluate_support,
    is_in_scope,
    support_deadline,
)

JST = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar()
SECOND = timedelta(seconds=1)
ZONES = [
    UTC,
    JST,
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/Berlin"),
    timezone(timedelta(hours=-3, minutes=-30)),
]


def jst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=JST)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("ticket", True),
        ("email", True),
        ("phone", True),
        ("Email", True),
        (" phone ", True),
        ("form", False),
        ("chat", False),
        ("web", False),
        ("", False),
    ],
)
def test_is_in_scope(channel: str, expected: bool) -> None:
    assert is_in_scope(channel) is expected


def test_in_scope_channels_are_the_ch5_contact_points() -> None:
    assert {"ticket", "email", "phone"} == IN_SCOPE_CHANNELS
    assert {str(c) for c in SupportChannel} == IN_SCOPE_CHANNELS


# (received, SLO due, SLA due) with the default 2 / 5 business days.
DEADLINES = [
    # SPEC §5: Mon 10:00 → Wed 18:30 and the following Mon 18:30.
    (jst(2026, 6, 1, 10, 0), jst(2026, 6, 3, 18, 30), jst(2026, 6, 8, 18, 30)),
    # Tue 08:00 counts from Tue; Tue 19:00 from Wed.
    (jst(2026, 6, 2, 8, 0), jst(2026, 6, 4, 18, 30), jst(2026, 6, 9, 18, 30)),
    (jst(2026, 6, 2, 19, 0), jst(2026, 6, 5, 18, 30), jst(2026, 6, 10, 18, 30)),
    # Fri 19:00 counts from Mon → SLO Wed 18:30.
    (jst(2026, 6, 5, 19, 0), jst(2026, 6, 10, 18, 30), jst(2026, 6, 15, 18, 30)),
    # Exactly at opening counts from that day; exactly at closing from the next one.
    (jst(2026, 6, 1, 9, 30), jst(2026, 6, 3, 18, 30), jst(2026, 6, 8, 18, 30)),
    (jst(2026, 6, 1, 18, 30), jst(2026, 6, 4, 18, 30), jst(2026, 6, 9, 18, 30)),
    (jst(2026, 6, 1, 18, 29, 59), jst(2026, 6, 3, 18, 30), jst(2026, 6, 8, 18, 30)),
    # Silver Week 2026: 21-23 Sep closed.
    (jst(2026, 9, 18, 10, 0), jst(2026, 9, 25, 18, 30), jst(2026, 9, 30, 18, 30)),
    (jst(2026, 9, 18, 19, 0), jst(2026, 9, 28, 18, 30), jst(2026, 10, 1, 18, 30)),
    # Golden Week 2026: 29 Apr and 3-6 May closed.
    (jst(2026, 4, 28, 15, 0), jst(2026, 5, 1, 18, 30), jst(2026, 5, 11, 18, 30)),
    (jst(2026, 5, 2, 10, 0), jst(2026, 5, 11, 18, 30), jst(2026, 5, 14, 18, 30)),
    # Year-end closure 29 Dec - 3 Jan, then 成人の日 on 11 Jan 2027.
    (jst(2026, 12, 28, 12, 0), jst(2027, 1, 5, 18, 30), jst(2027, 1, 8, 18, 30)),
    (jst(2026, 12, 28, 18, 30), jst(2027, 1, 6, 18, 30), jst(2027, 1, 12, 18, 30)),
    (jst(2026, 12, 31, 10, 0), jst(2027, 1, 6, 18, 30), jst(2027, 1, 12, 18, 30)),
    # Instants given in UTC near midnight JST.
    (utc(2026, 11, 23, 15, 30), jst(2026, 11, 26, 18, 30), jst(2026, 12, 1, 18, 30)),  # Tue 00:30
    (utc(2026, 11, 20, 15, 30), jst(2026, 11, 26, 18, 30), jst(2026, 12, 1, 18, 30)),  # Sat 00:30
    (utc(2026, 11, 20, 9, 29), jst(2026, 11, 25, 18, 30), jst(2026, 11, 30, 18, 30)),  # Fri 18:29
]


@pytest.mark.parametrize(("received", "slo_due", "sla_due"), DEADLINES)
def test_deadlines(received: datetime, slo_due: datetime, sla_due: datetime) -> None:
    assert support_deadline(received, 2, CAL) == slo_due
    assert support_deadline(received, 5, CAL) == sla_due
    evaluation = evaluate_support(received, None, received, calendar=CAL)
    assert (evaluation.slo_due, evaluation.sla_due) == (slo_due, sla_due)
    assert evaluation.slo_due.tzinfo == UTC


def test_deadline_in_utc_is_the_same_instant() -> None:
    assert support_deadline(utc(2026, 11, 23, 15, 30), 2, CAL) == utc(2026, 11, 26, 9, 30)


def test_zero_business_days_is_the_close_of_the_counting_day() -> None:
    assert support_deadline(jst(2026, 6, 2, 8, 0), 0, CAL) == jst(2026, 6, 2, 18, 30)
    assert support_deadline(jst(2026, 6, 2, 19, 0), 0, CAL) == jst(2026, 6, 3, 18, 30)


MON_10 = jst(2026, 6, 1, 10, 0)
SLO_DUE = jst(2026, 6, 3, 18, 30)
SLA_DUE = jst(2026, 6, 8, 18, 30)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (MON_10, Outcome.MET),
        (SLO_DUE - SECOND, Outcome.MET),
        (SLO_DUE, Outcome.MET),
        (SLO_DUE + SECOND, Outcome.SLO_BREACHED),
        (jst(2026, 6, 4, 9, 0), Outcome.SLO_BREACHED),  # before opening the next day
        (SLA_DUE, Outcome.SLO_BREACHED),
        (SLA_DUE + SECOND, Outcome.SLA_BREACHED),
        (jst(2026, 7, 1, 12, 0), Outcome.SLA_BREACHED),
    ],
)
def test_outcome_of_a_reply(reply: datetime, expected: Outcome) -> None:
    evaluation = evaluate_support(MON_10, reply, reply + hours(1), calendar=CAL)
    assert evaluation.state is ClockState.STOPPED
    assert evaluation.outcome is expected
    assert evaluation.stop == reply
    assert evaluation.next_due is None


def test_stopped_clock_counts_to_the_reply() -> None:
    reply = jst(2026, 6, 2, 12, 0)
    evaluation = evaluate_support(MON_10, reply, jst(2026, 6, 20), calendar=CAL)
    assert evaluation.counted == hours(11)  # Mon 8.5 h + Tue 2.5 h
    assert evaluation.slo_remaining == hours(15.5)  # Tue 6.5 h + Wed 9 h
    assert evaluation.sla_remaining == hours(42.5)  # + Thu, Fri, Mon


@pytest.mark.parametrize(
    ("now", "state", "outcome", "counted", "slo_remaining", "sla_remaining", "next_due"),
    [
        (
            MON_10,
            ClockState.RUNNING,
            None,
            hours(0),
            hours(26.5),
            hours(53.5),
            jst(2026, 6, 2, 14, 15),
        ),
        (
            jst(2026, 6, 1, 11, 0),
            ClockState.RUNNING,
            None,
            hours(1),
            hours(25.5),
            hours(52.5),
            jst(2026, 6, 2, 14, 15),
        ),
        (
            jst(2026, 6, 1, 20, 0),
            ClockState.PAUSED,
            None,
            hours(8.5),
            hours(18),
            hours(45),
            jst(2026, 6, 2, 14, 15),
        ),
        (
            jst(2026, 6, 2, 14, 15),
            ClockState.RUNNING,
            None,
            hours(13.25),
            hours(13.25),
            hours(40.25),
            jst(2026, 6, 3, 13, 12),
        ),
        (
            jst(2026, 6, 3, 13, 12),
            ClockState.RUNNING,
            None,
            hours(21.2),
            hours(5.3),
            hours(32.3),
            SLO_DUE,
        ),
        (SLO_DUE, ClockState.PAUSED, None, hours(26.5), hours(0), hours(27), SLA_DUE),
        (
            SLO_DUE + SECOND,
            ClockState.PAUSED,
            Outcome.SLO_BREACHED,
            hours(26.5),
            hours(0),
            hours(27),
            SLA_DUE,
        ),
        (
            jst(2026, 6, 6, 12, 0),
            ClockState.PAUSED,
            Outcome.SLO_BREACHED,
            hours(44.5),
            hours(0),
            hours(9),
            SLA_DUE,
        ),
        (
            jst(2026, 6, 8, 10, 0),
            ClockState.RUNNING,
            Outcome.SLO_BREACHED,
            hours(45),
            hours(0),
            hours(8.5),
            SLA_DUE,
        ),
        (SLA_DUE, ClockState.PAUSED, Outcome.SLO_BREACHED, hours(53.5), hours(0), hours(0), None),
        (
            SLA_DUE + SECOND,
            ClockState.PAUSED,
            Outcome.SLA_BREACHED,
            hours(53.5),
            hours(0),
            hours(0),
            None,
        ),
    ],
)
def test_running_clock(
    now: datetime,
    state: ClockState,
    outcome: Outcome | None,
    counted: timedelta,
    slo_remaining: timedelta,
    sla_remaining: timedelta,
    next_due: datetime | None,
) -> None:
    evaluation = evaluate_support(MON_10, None, now, calendar=CAL)
    assert evaluation.state is state
    assert evaluation.outcome is outcome
    assert evaluation.counted == counted
    assert evaluation.slo_remaining == slo_remaining
    assert evaluation.sla_remaining == sla_remaining
    assert evaluation.next_due == next_due
    assert evaluation.stop is None
    assert evaluation.start == MON_10


def test_request_before_opening_counts_nothing_until_opening() -> None:
    received = jst(2026, 6, 2, 8, 0)
    evaluation = evaluate_support(received, None, jst(2026, 6, 2, 9, 0), calendar=CAL)
    assert evaluation.state is ClockState.PAUSED
    assert evaluation.counted == timedelta()
    assert evaluation.slo_remaining == hours(27)
    assert [w.at for w in evaluation.warnings] == [jst(2026, 6, 3, 14, 0), jst(2026, 6, 4, 13, 6)]


def test_warnings_at_fractions_of_the_slo_budget() -> None:
    evaluation = evaluate_support(MON_10, None, MON_10, calendar=CAL)
    # Budget Mon 10:00 → Wed 18:30 is 26.5 business hours.
    assert [(w.fraction, w.at) for w in evaluation.warnings] == [
        (0.5, jst(2026, 6, 2, 14, 15)),  # 13.25 h: Mon 8.5 h + Tue 4.75 h
        (0.8, jst(2026, 6, 3, 13, 12)),  # 21.2 h: Mon 8.5 h + Tue 9 h + Wed 3.7 h
    ]


def test_warning_at_closing_moves_to_the_next_opening() -> None:
    # Budget Mon 14:00 → Wed 18:30 is 22.5 h; a fifth of it ends exactly at Mon 18:30.
    received = jst(2026, 6, 1, 14, 0)
    evaluation = evaluate_support(received, None, received, calendar=CAL, warn_fractions=(0.2,))
    assert [w.at for w in evaluation.warnings] == [jst(2026, 6, 2, 9, 30)]


def test_warning_for_a_night_request_is_not_at_night() -> None:
    # Fri 19:00 before Silver Week counts from Thu 24 Sep; the budget to Mon 28 18:30 is
    # 27 h, and a third of it ends exactly at Thu 18:30, so that warning waits for Fri.
    received = jst(2026, 9, 18, 19, 0)
    evaluation = evaluate_support(
        received, None, received, calendar=CAL, warn_fractions=(1 / 3, 0.25)
    )
    assert [(w.fraction, w.at) for w in evaluation.warnings] == [
        (0.25, jst(2026, 9, 24, 16, 15)),
        (1 / 3, jst(2026, 9, 25, 9, 30)),
    ]
    assert evaluation.next_due == jst(2026, 9, 24, 16, 15)
    assert evaluation.state is ClockState.PAUSED


def test_custom_targets() -> None:
    evaluation = evaluate_support(MON_10, None, MON_10, calendar=CAL, slo_days=1, sla_days=3)
    assert evaluation.slo_due == jst(2026, 6, 2, 18, 30)
    assert evaluation.sla_due == jst(2026, 6, 4, 18, 30)


def test_results_are_expressed_in_utc_like_every_engine_result() -> None:
    evaluation = evaluate_support(
        utc(2026, 6, 1, 1, 0), utc(2026, 6, 2, 3, 0), utc(2026, 6, 3, 0, 0), calendar=CAL
    )
    assert evaluation.start == jst(2026, 6, 1, 10, 0)
    assert evaluation.stop == jst(2026, 6, 2, 12, 0)
    for instant in (evaluation.start, evaluation.stop, evaluation.slo_due, evaluation.sla_due):
        assert instant is not None
        assert instant.tzinfo == UTC


def test_reply_is_final_even_if_now_is_earlier() -> None:
    reply = jst(2026, 6, 2, 12, 0)
    evaluation = evaluate_support(MON_10, reply, MON_10, calendar=CAL)
    assert evaluation.state is ClockState.STOPPED
    assert evaluation.outcome is Outcome.MET
    assert evaluation.counted == hours(11)


@pytest.mark.parametrize(
    ("received", "reply", "now", "kwargs", "message"),
    [
        (MON_10, MON_10 - SECOND, MON_10, {}, "before receipt"),
        (MON_10, None, MON_10 - SECOND, {}, "before receipt"),
        (datetime(2026, 6, 1, 10), None, MON_10, {}, "timezone-aware"),
        (MON_10, datetime(2026, 6, 2, 10), MON_10, {}, "timezone-aware"),
        (MON_10, None, datetime(2026, 6, 2, 10), {}, "timezone-aware"),
        (MON_10, None, MON_10, {"slo_days": 3, "sla_days": 2}, "slo_days"),
        (MON_10, None, MON_10, {"slo_days": -1}, "slo_days"),
        (MON_10, None, MON_10, {"warn_fractions": (0.5, 1.0)}, "between 0 and 1"),
        (MON_10, None, MON_10, {"warn_fractions": (0.0,)}, "between 0 and 1"),
    ],
)
def test_invalid_input_is_rejected(
    received: datetime,
    reply: datetime | None,
    now: datetime,
    kwargs: dict[str, object],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_support(received, reply, now, calendar=CAL, **kwargs)  # type: ignore[arg-type]


def test_support_deadline_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="negative"):
        support_deadline(MON_10, -1, CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        support_deadline(datetime(2026, 6, 1, 10), 2, CAL)


instants = st.datetimes(
    min_value=datetime(2025, 12, 1),
    max_value=datetime(2027, 2, 1),
    timezones=st.sampled_from(ZONES),
)
delays = st.timedeltas(min_value=timedelta(), max_value=timedelta(days=20))
RANK = {Outcome.MET: 0, Outcome.SLO_BREACHED: 1, Outcome.SLA_BREACHED: 2}


@given(instants, delays, delays)
def test_outcome_never_improves_as_the_reply_moves_later(
    received: datetime, first: timedelta, second: timedelta
) -> None:
    early, late = sorted((first, second))
    received = received.astimezone(UTC)  # exact arithmetic, even across a DST fold
    now = received + timedelta(days=30)
    earlier = evaluate_support(received, received + early, now, calendar=CAL).outcome
    later = evaluate_support(received, received + late, now, calendar=CAL).outcome
    assert earlier is not None and later is not None
    assert RANK[earlier] <= RANK[later]


@given(instants, delays, st.booleans(), st.sampled_from(ZONES))
def test_results_do_not_depend_on_the_zone_of_the_instants(
    received: datetime, delay: timedelta, replied: bool, zone: object
) -> None:
    assert isinstance(zone, (ZoneInfo, timezone))
    later = received.astimezone(UTC) + delay  # wall-clock arithmetic in a DST zone drops `fold`
    reply = later if replied else None
    original = evaluate_support(received, reply, later, calendar=CAL)
    moved = evaluate_support(
        received.astimezone(zone),
        None if reply is None else reply.astimezone(zone),
        later.astimezone(zone),
        calendar=CAL,
    )
    assert moved == original
    assert repr(moved) == repr(original)


@given(
    instants, delays, st.lists(st.floats(min_value=0.01, max_value=0.99), min_size=1, max_size=4)
)
def test_warnings_fall_inside_business_hours_before_the_slo_deadline(
    received: datetime, delay: timedelta, fractions: list[float]
) -> None:
    evaluation = evaluate_support(
        received, None, received + delay, calendar=CAL, warn_fractions=tuple(fractions)
    )
    for warning in evaluation.warnings:
        assert CAL.is_open(warning.at)
        assert CAL.next_opening(received) <= warning.at < evaluation.slo_due
    ats = [w.at for w in evaluation.warnings]
    assert ats == sorted(ats)


@given(instants, delays)
def test_running_clock_invariants(received: datetime, delay: timedelta) -> None:
    now = received + delay
    evaluation = evaluate_support(received, None, now, calendar=CAL)
    budget = CAL.business_time_between(received, evaluation.slo_due)
    assert evaluation.counted == CAL.business_time_between(received, now)
    assert evaluation.slo_remaining == max(budget - evaluation.counted, timedelta())
    assert evaluation.slo_due <= evaluation.sla_due
    for due in (evaluation.slo_due, evaluation.sla_due):
        assert due.astimezone(JST).time() == time(18, 30)
        assert CAL.is_business_day(due.date())
    assert evaluation.state is (ClockState.RUNNING if CAL.is_open(now) else ClockState.PAUSED)
    assert evaluation.next_due is None or evaluation.next_due > now
