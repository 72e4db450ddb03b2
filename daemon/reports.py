"""Monthly SLA compliance per plan and clock, from the stored clocks.

A running clock already past a due instant counts as breached: its outcome can only
get worse. A running clock within its SLO is `open` and left out of the ratios.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from daemon.store.models import Clock, Contract, Incident, SupportRequest


@dataclass(frozen=True, slots=True)
class ClockFacts:
    plan: str
    name: str
    stop_at: datetime | None
    slo_due_at: datetime | None
    sla_due_at: datetime | None
    counted_seconds: float | None
    outcome: str | None


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of `YYYY-MM` in `tz`."""
    try:
        year, mon = (int(part) for part in month.split("-"))
        first = date(year, mon, 1)
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from exc
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return datetime.combine(first, time(), tz), datetime.combine(nxt, time(), tz)


def judged(facts: ClockFacts, now: datetime) -> str:
    if facts.stop_at is not None and facts.outcome:
        return facts.outcome
    if facts.sla_due_at is not None and facts.sla_due_at < now:
        return "sla_breached"
    if facts.slo_due_at is not None and facts.slo_due_at < now:
        return "slo_breached"
    return "open"


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarise(clocks: Iterable[ClockFacts], now: datetime) -> list[dict[str, object]]:
    groups: dict[tuple[str, str], list[ClockFacts]] = defaultdict(list)
    for facts in clocks:
        groups[(facts.plan, facts.name)].append(facts)
    rows: list[dict[str, object]] = []
    for (plan, name), members in sorted(groups.items()):
        counts = {"met": 0, "slo_breached": 0, "sla_breached": 0, "open": 0}
        for facts in members:
            counts[judged(facts, now)] += 1
        decided = counts["met"] + counts["slo_breached"] + counts["sla_breached"]
        durations = [
            f.counted_seconds
            for f in members
            if f.stop_at is not None and f.counted_seconds is not None
        ]
        rows.append(
            {
                "plan": plan,
                "clock": name,
                "count": len(members),
                **counts,
                "slo_compliance": counts["met"] / decided if decided else None,
                "sla_compliance": (counts["met"] + counts["slo_breached"]) / decided
                if decided
                else None,
                "median_seconds_to_stop": percentile(durations, 0.5),
                "p95_seconds_to_stop": percentile(durations, 0.95),
            }
        )
    return rows


def monthly_report(
    session: Session, month: str, tz: ZoneInfo, now: datetime, customer_id: int | None
) -> dict[str, object]:
    start, end = month_bounds(month, tz)
    stmt = (
        select(Clock)
        .outerjoin(Incident, Clock.incident_id == Incident.id)
        .outerjoin(SupportRequest, Clock.support_request_id == SupportRequest.id)
        .outerjoin(Contract, SupportRequest.contract_id == Contract.id)
        .where(Clock.start_at >= start, Clock.start_at < end)
    )
    if customer_id is not None:
        stmt = stmt.where(
            or_(Incident.customer_id == customer_id, Contract.customer_id == customer_id)
        )
    facts = [
        ClockFacts(
            c.plan, c.name, c.stop_at, c.slo_due_at, c.sla_due_at, c.counted_seconds, c.outcome
        )
        for c in session.scalars(stmt)
    ]
    return {
        "month": month,
        "timezone": str(tz),
        "from": start,
        "to": end,
        "customer": customer_id,
        "rows": summarise(facts, now),
    }
