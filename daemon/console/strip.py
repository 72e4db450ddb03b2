"""The clock strip: an explained clock (`GET .../clocks/{clock}/explain`, the same
`explain_out`) laid out on a time axis for drawing, counted and excluded stretches to
scale, with the SLO, SLA and now marks and a label for each excluded stretch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.api.explain import ClockExplainOut

WIDTH = 1000.0
"""The strip's drawing width in SVG user units (it scales to the page)."""


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    start: datetime
    end: datetime
    counted: bool
    ahead: bool
    label: str


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    at: datetime
    name: str


@dataclass(frozen=True, slots=True)
class Strip:
    start: datetime
    end: datetime
    bars: list[Bar]
    marks: list[Mark]
    ticks: list[Mark]


def window_label(explained: ClockExplainOut, window_ids: list[int]) -> str:
    """`maintenance #3: DB upgrade` for each window or fault behind a stretch."""
    windows = {w.id: w for w in explained.windows}
    parts = []
    for window_id in window_ids:
        window = windows.get(window_id)
        if window is None:
            parts.append(f"#{window_id}")
        else:
            reason = f": {window.description}" if window.description else ""
            parts.append(f"{window.kind} #{window.id}{reason}")
    return "; ".join(parts)


def layout(explained: ClockExplainOut) -> Strip | None:
    """The strip of a started clock (None before it starts), from its start to the last
    of its segments, its SLA due and now."""
    clock = explained.clock
    if clock.start is None or not explained.segments:
        return None
    start = clock.start
    instants = [explained.segments[-1].end, explained.evaluated_at]
    instants += [due for due in (clock.slo_due, clock.sla_due) if due is not None]
    if clock.stop is not None:
        instants.append(clock.stop)
    end = max(instants)
    span = max((end - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return round(WIDTH * (at - start).total_seconds() / span, 2)

    bars = [
        Bar(
            x=x(s.start),
            width=max(x(s.end) - x(s.start), 0.5),
            start=s.start,
            end=s.end,
            counted=s.counted,
            ahead=s.ahead,
            label="" if s.counted else window_label(explained, s.window_ids),
        )
        for s in explained.segments
    ]
    marks = [
        Mark(x(at), at, name)
        for name, at in (
            ("slo", clock.slo_due),
            ("sla", clock.sla_due),
            ("now", explained.evaluated_at),
        )
        if at is not None
    ]
    ticks = [
        Mark(x(start + (end - start) * (n / 4)), start + (end - start) * (n / 4), "")
        for n in range(5)
    ]
    return Strip(start=start, end=end, bars=bars, marks=marks, ticks=ticks)
