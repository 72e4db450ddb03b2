"""What an incident's clocks do not count: its windows, and the part of each fault that excuses it.

Maintenance windows exclude all their time. Monitoring faults exclude what the fault
rule stored with the incident allows (`sla_engine.faults`): by default only the part
that hid the incident from slad. A window with no end yet (an open fault under the
literal rule, a provider notice with no announced end) is not given a placeholder end:
it becomes `open_from`, from which the engine counts nothing and invents no due instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from daemon.store.models import Incident, MaintenanceWindow
from daemon.windows import window_intervals
from sla_engine.faults import Excusal, Fault, FaultExclusion, excusals
from sla_engine.intervals import Interval, IntervalSet

FAULT = "monitoring_fault"


@dataclass(frozen=True, slots=True)
class IncidentExclusions:
    """The excluded time of one incident's clocks over a bounded range.

    `intervals` is every finite excluded span; `open_from` the earliest start of a
    window with no end yet (None: there is none); `excused` the part of each fault the
    incident was excused for, named by the fault's window id.
    """

    intervals: IntervalSet
    open_from: datetime | None
    excused: tuple[Excusal, ...]


def incident_exclusions(
    incident: Incident, windows: Iterable[MaintenanceWindow], start: datetime, end: datetime
) -> IncidentExclusions:
    """Exclusions of `incident` from the `windows` covering it, within [start, end)."""
    spans: list[IntervalSet] = []
    open_starts: list[datetime] = []
    faults: list[Fault] = []
    for window in windows:
        if window.status == "rejected":
            continue
        endless = window.rrule is None and window.end_at is None
        if window.kind == FAULT:
            if endless:
                faults.append(Fault(str(window.id), window.start_at, None))
            else:
                faults.extend(
                    Fault(str(window.id), span.start, span.end)
                    for span in window_intervals(window, start, end)
                )
        elif endless:
            if window.start_at < end:
                open_starts.append(window.start_at)
        else:
            spans.append(window_intervals(window, start, end))
    mode = FaultExclusion(incident.fault_exclusion)
    excused = excusals(faults, incident.detected_at, incident.received_at, mode)
    finite = [Interval(e.start, e.end) for e in excused if e.end is not None]
    open_starts.extend(e.start for e in excused if e.end is None)
    intervals = IntervalSet.from_intervals(finite)
    for span in spans:
        intervals = intervals.union(span)
    return IncidentExclusions(intervals, min(open_starts, default=None), excused)
