"""The windows calendar: the next days in the calendar's zone, each with the windows and
faults that exclude part of it, recurring ones expanded exactly as clocks expand them
(`daemon.windows.window_intervals`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from daemon.store.models import MaintenanceWindow
from daemon.windows import window_intervals

DAYS = 14


@dataclass(frozen=True, slots=True)
class Occurrence:
    """The part [start, end) of one window on one day, and its local times (`24:00`
    for an end at the next midnight)."""

    window: MaintenanceWindow
    start: datetime
    end: datetime
    shown: str


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    occurrences: list[Occurrence]


def upcoming_windows(session: Session, start: datetime, end: datetime) -> list[MaintenanceWindow]:
    """Windows that may exclude time in [start, end): recurring ones, open ones, and
    spans overlapping it (rejected ones never)."""
    return list(
        session.scalars(
            select(MaintenanceWindow)
            .where(
                MaintenanceWindow.status != "rejected",
                MaintenanceWindow.start_at < end,
                or_(
                    MaintenanceWindow.rrule.is_not(None),
                    MaintenanceWindow.end_at.is_(None),
                    MaintenanceWindow.end_at > start,
                ),
            )
            .order_by(MaintenanceWindow.id)
        )
    )


def first_day(now: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(zone).date(), time(), zone)


def calendar_days(
    windows: Iterable[MaintenanceWindow], start: datetime, zone: ZoneInfo, days: int = DAYS
) -> list[Day]:
    """`days` local days from `start` (a local midnight), each with its occurrences."""
    chosen = list(windows)
    result = []
    for n in range(days):
        day = start.date() + timedelta(days=n)
        lo = datetime.combine(day, time(), zone)
        hi = datetime.combine(day + timedelta(days=1), time(), zone)
        found = []
        for window in chosen:
            for span in window_intervals(window, lo, hi):
                begin, end = max(span.start, lo), min(span.end, hi)
                until = "24:00" if end == hi else f"{end.astimezone(zone):%H:%M}"
                found.append(
                    Occurrence(window, begin, end, f"{begin.astimezone(zone):%H:%M}-{until}")
                )
        result.append(Day(day, sorted(found, key=lambda o: (o.start, o.window.id))))
    return result
