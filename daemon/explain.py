"""Explain one incident clock: its strip of counted and excluded time from the stored
facts, the windows behind each excluded stretch, and the timeline entries that set its
start and stop or moved its due instants.

The strip comes from the pure engine (`sla_engine.explain`) over the same windows and
policy snapshot the clock itself is judged on, so what is explained is what is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from daemon.clocks import RECOMPUTED, incident_bounds, incident_facts
from daemon.exclusions import FAULT, incident_exclusions
from daemon.store.models import Incident, MaintenanceWindow, TimelineEntry
from daemon.windows import window_intervals, windows_for
from sla_engine.explain import Explanation, explain_elapsed
from sla_engine.intervals import Interval, IntervalSet
from sla_engine.policy import ClockPolicy


@dataclass(frozen=True, slots=True)
class Fact:
    """A timeline entry that set something of the clock: its `start`, its `stop`, or a
    change of its `due` instants or outcome (`before` and `after` as recorded)."""

    entry: TimelineEntry
    sets: str
    before: object = None
    after: object = None


@dataclass(frozen=True, slots=True)
class ClockExplained:
    """A clock's explanation; `explanation` is None while its start event has not
    happened (the report clock before the first contact)."""

    name: str
    policy: ClockPolicy
    explanation: Explanation | None
    windows: dict[str, MaintenanceWindow]
    facts: list[Fact]


def explain_clock(
    session: Session, incident: Incident, name: str, now: datetime, horizon: timedelta
) -> ClockExplained:
    """Raises LookupError when the incident's policy snapshot has no clock `name`."""
    policy = next((p for p in map(ClockPolicy.from_dict, incident.policy) if p.name == name), None)
    if policy is None:
        raise LookupError(name)
    facts = incident_facts(incident)
    start = facts.get(policy.start_event)
    lo, hi = incident_bounds(incident, now, horizon)
    windows = {str(w.id): w for w in windows_for(session, incident)}
    explanation = None
    if start is not None:
        finite, endless = labelled_exclusions(incident, list(windows.values()), lo, hi)
        explanation = explain_elapsed(
            start,
            facts.get(policy.stop_event),
            now,
            slo=timedelta(seconds=policy.slo),
            sla=timedelta(seconds=policy.sla),
            exclusions=finite,
            open_from=endless,
            warn_fractions=policy.warn_fractions,
        )
    used = (
        {cause for segment in explanation.segments for cause in segment.causes}
        if explanation
        else set()
    )
    return ClockExplained(
        name=name,
        policy=policy,
        explanation=explanation,
        windows={key: w for key, w in windows.items() if key in used},
        facts=clock_facts(incident, policy),
    )


def labelled_exclusions(
    incident: Incident, windows: list[MaintenanceWindow], lo: datetime, hi: datetime
) -> tuple[dict[str, IntervalSet], dict[str, datetime]]:
    """The incident's exclusions within [lo, hi) named by window id: finite spans, and
    where each window with no end yet begins.

    Faults count only as far as the incident was excused for them (the fault rule stored
    at detection), exactly as `incident_exclusions` excludes them from the clock; their
    union and earliest open start are the clock's own exclusions.
    """
    excluded = incident_exclusions(incident, windows, lo, hi)
    finite: dict[str, IntervalSet] = {}
    endless: dict[str, datetime] = {}
    for excusal in excluded.excused:
        key = excusal.fault.ref
        if excusal.end is None:
            endless[key] = min(excusal.start, endless.get(key, excusal.start))
        else:
            span = IntervalSet.of(Interval(excusal.start, excusal.end))
            finite[key] = finite[key].union(span) if key in finite else span
    for window in windows:
        if window.status == "rejected" or window.kind == FAULT:
            continue
        if window.rrule is None and window.end_at is None:
            if window.start_at < hi:
                endless[str(window.id)] = window.start_at
        else:
            finite[str(window.id)] = window_intervals(window, lo, hi)
    return finite, endless


def clock_facts(incident: Incident, policy: ClockPolicy) -> list[Fact]:
    """The timeline entries that set the clock's start and stop or moved its due instants,
    in the order they happened."""
    found: list[Fact] = []
    for entry in sorted(incident.timeline, key=lambda t: (t.at, t.id)):
        if entry.kind == policy.start_event:
            found.append(Fact(entry, "start"))
        elif entry.kind == policy.stop_event:
            found.append(Fact(entry, "stop"))
        elif entry.kind == RECOMPUTED:
            before = (entry.detail.get("before") or {}).get(policy.name)
            after = (entry.detail.get("after") or {}).get(policy.name)
            if before != after:
                found.append(Fact(entry, "due", before, after))
    return found
