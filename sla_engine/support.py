"""The professional-support `support_reply` clock, counted in business days (SPEC §5).

A support request promises a first reply within 2 business days (SLO) and 5 business
days (SLA). Unlike the incident clocks, the targets are deadlines on the calendar, not
amounts of elapsed time: the deadline for N business days is the closing of the N-th
business day after the day the request counts from, whatever the hour of receipt on
that day. Only requests on the channels of seed ch. 5 §2 carry the promise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sla_engine.calendar import BusinessCalendar, require_aware
from sla_engine.evaluation import ClockEvaluation, ClockState, Outcome, WarningPoint, judge_instant

DEFAULT_SLO_DAYS = 2
DEFAULT_SLA_DAYS = 5
DEFAULT_WARN_FRACTIONS = (0.5, 0.8)


class SupportChannel(StrEnum):
    """The channels on which a request carries the reply promise (seed ch. 5 §2, ch. 6 §2)."""

    TICKET = "ticket"
    EMAIL = "email"
    PHONE = "phone"


IN_SCOPE_CHANNELS: frozenset[str] = frozenset(channel.value for channel in SupportChannel)


def is_in_scope(channel: str) -> bool:
    """Whether a request on `channel` gets a `support_reply` clock.

    Requests on any other channel (the inquiry form, chat, ...) are still recorded but
    are out of scope (第5章第2項の連絡先以外への依頼及び問合せは対象外). Channel keys are
    compared without regard to case or surrounding blanks, so "Email " is e-mail.
    """
    return channel.strip().lower() in IN_SCOPE_CHANNELS


def support_deadline(
    received: datetime, business_days: int, calendar: BusinessCalendar
) -> datetime:
    """Closing time on the `business_days`-th business day after the request's counting day.

    With the default calendar, received Mon 10:00 and 2 days gives Wed 18:30; zero
    days gives the closing of the counting day itself. The result is in the calendar's
    zone.
    """
    require_aware(received, "received")
    if business_days < 0:
        raise ValueError(f"business_days must not be negative, got {business_days}")
    day = calendar.add_business_days(calendar.counting_day(received), business_days)
    return calendar.closing_on(day)


def evaluate_support(
    received: datetime,
    reply: datetime | None,
    now: datetime,
    *,
    calendar: BusinessCalendar,
    slo_days: int = DEFAULT_SLO_DAYS,
    sla_days: int = DEFAULT_SLA_DAYS,
    warn_fractions: tuple[float, ...] = DEFAULT_WARN_FRACTIONS,
) -> ClockEvaluation:
    """Judge the `support_reply` clock of a request at instant `now`.

    Like every engine result, the instants returned are in UTC; the business calendar's
    zone is only used to find them.

    The clock starts at `received` and stops at the first `reply`. Deadlines come from
    `support_deadline`; a reply at or before a deadline meets it, and while no reply
    exists the outcome is the breach already reached at `now` (strictly after a
    deadline), else None.

    `counted` is the business time from `received` to the reply (or to `now`), which is
    the same as counting from the request's counting moment: a request received outside
    business hours counts from the next opening, one received inside them counts from
    its receipt. Time before receipt on the counting day is deliberately not counted,
    although the deadline is fixed by the day alone: counting from that day's opening
    would report time spent before the request existed and could place early warnings
    before the request arrived.

    Warnings sit at each fraction of the business time from receipt to the SLO
    deadline and are moved into business hours, so nobody is paged at night. Remaining
    times are business time from `now` (from the reply once stopped) to each deadline,
    zero once passed. A recorded reply is final whatever `now` is; `now` must not be
    before `received`, because a clock cannot be judged before it exists.
    """
    require_aware(received, "received")
    require_aware(now, "now")
    if reply is not None:
        require_aware(reply, "reply")
        if reply < received:
            raise ValueError(f"reply {reply.isoformat()} is before receipt {received.isoformat()}")
    if now < received:
        raise ValueError(f"now {now.isoformat()} is before receipt {received.isoformat()}")
    if not 0 <= slo_days <= sla_days:
        raise ValueError(f"need 0 <= slo_days <= sla_days, got {slo_days} and {sla_days}")
    if any(not 0 < fraction < 1 for fraction in warn_fractions):
        raise ValueError(f"warning fractions must lie strictly between 0 and 1: {warn_fractions}")

    slo_due = support_deadline(received, slo_days, calendar)
    sla_due = support_deadline(received, sla_days, calendar)
    budget = calendar.business_time_between(received, slo_due)
    warnings = tuple(
        (
            fraction,
            calendar.defer_into_business_hours(
                calendar.instant_after_business_time(received, budget * fraction)
            ),
        )
        for fraction in sorted(warn_fractions)
    )
    until = now if reply is None else reply
    outcome: Outcome | None
    if reply is not None:
        state = ClockState.STOPPED
        outcome = judge_instant(reply, slo_due, sla_due)
        next_due = None
    else:
        state = ClockState.RUNNING if calendar.is_open(now) else ClockState.PAUSED
        outcome = _breach_reached(now, slo_due, sla_due)
        upcoming = [at for _, at in warnings] + [slo_due, sla_due]
        next_due = min((at for at in upcoming if at > now), default=None)
    return ClockEvaluation(
        start=_utc(received),
        stop=None if reply is None else _utc(reply),
        counted=calendar.business_time_between(received, until),
        slo_due=_utc(slo_due),
        sla_due=_utc(sla_due),
        state=state,
        outcome=outcome,
        slo_remaining=calendar.business_time_between(until, slo_due),
        sla_remaining=calendar.business_time_between(until, sla_due),
        warnings=tuple(WarningPoint(fraction, _utc(at)) for fraction, at in warnings),
        next_due=None if next_due is None else _utc(next_due),
    )


def _utc(instant: datetime) -> datetime:
    """The instant in UTC, with `fold` cleared: UTC has no repeated wall times."""
    return instant.astimezone(UTC).replace(fold=0)


def _breach_reached(now: datetime, slo_due: datetime, sla_due: datetime) -> Outcome | None:
    """The worst breach a running clock has reached at `now` (a deadline is met up to it)."""
    if now > sla_due:
        return Outcome.SLA_BREACHED
    if now > slo_due:
        return Outcome.SLO_BREACHED
    return None
