"""Which part of a monitoring fault an incident's clocks do not count (SPEC section 4).

The contract excludes monitoring faults because the provider cannot act on a failure it
cannot see. So, by default (`FaultExclusion.HIDDEN`), a fault excuses an incident only
when it hid it: when slad received the incident's first alert after the fault began.
For such an incident the excused part is the fault's overlap with [detection, first
receipt), the time in which the failure existed but slad could not know of it. An
incident slad already knew when the fault began keeps counting through it.

A provider whose contract reads the clause literally chooses `FaultExclusion.ALL`: every
fault covering the incident's source excludes its whole span from every clock.

A fault still going on has no end. Under `HIDDEN` that does not matter (first receipt
bounds the excused part); under `ALL` the excusal is open too, and the clock is paused
from its start with no due instant until the fault ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sla_engine.intervals import require_aware


class FaultExclusion(StrEnum):
    """How monitoring faults exclude time from incident clocks."""

    HIDDEN = "hidden"  # only from incidents the fault hid, until slad received them
    ALL = "all"  # from every clock covered by the fault, for its whole span


@dataclass(frozen=True, slots=True)
class Fault:
    """A span in which slad could not observe a source; `end` is None while it lasts.

    `ref` names the fault for the caller (the daemon passes its window id).
    """

    ref: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Excusal:
    """The part [start, end) of `fault` an incident's clocks do not count.

    `end` is None when the excusal lasts as long as a fault that has not ended.
    """

    fault: Fault
    start: datetime
    end: datetime | None


def excusals(
    faults: Iterable[Fault], detected: datetime, received: datetime, mode: FaultExclusion
) -> tuple[Excusal, ...]:
    """The excused part of each fault for an incident detected and first received so.

    Under `HIDDEN` a fault excuses the incident only if it began strictly before the
    first receipt, and then only its overlap with [detected, received); an incident
    received at the very instant a fault began was seen, so it is not excused. Faults
    that excuse nothing are left out. Results keep the order of `faults`.
    """
    detection = require_aware(detected, "detected")
    receipt = require_aware(received, "received")
    result: list[Excusal] = []
    for fault in faults:
        start = require_aware(fault.start, "fault start")
        end = None if fault.end is None else require_aware(fault.end, "fault end")
        if end is not None and end <= start:
            continue
        if mode is FaultExclusion.ALL:
            result.append(Excusal(fault, start, end))
            continue
        if receipt <= start:
            continue  # slad knew of the incident when the fault began
        lo = max(start, detection)
        hi = receipt if end is None else min(end, receipt)
        if lo < hi:
            result.append(Excusal(fault, lo, hi))
    return tuple(result)
