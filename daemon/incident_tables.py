"""What `slad incidents list` and `slad incidents due` print: rows read from the store,
rendered as an aligned table for people or one JSON object a line for scripts.

Rows are built from the stored clocks (the scheduler and every fact change keep them
current) and judged at an injected `now`; instants are shown in the business calendar's
time zone, which is the one operators work in, and in UTC offsets in JSON.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from daemon.owed import Due, clock_due, earliest, format_left, owes, owing_sql
from daemon.store.models import Clock, Customer, Incident, Resource


@dataclass(frozen=True, slots=True)
class DueRow:
    """One owed clock of an incident and its next target."""

    customer: str
    resource: str
    incident_id: int
    title: str
    due: Due | None

    def left(self, now: datetime) -> float | None:
        return None if self.due is None else self.due.seconds_left(now)


def due_rows(session: Session, now: datetime) -> list[DueRow]:
    """Every owed incident clock, the soonest due first (overdue first, no due last)."""
    stmt = (
        select(Clock, Incident.id, Incident.title, Customer.name, Resource.name)
        .join(Incident, Clock.incident_id == Incident.id)
        .join(Customer, Incident.customer_id == Customer.id)
        .join(Resource, Incident.resource_id == Resource.id)
        .where(owing_sql())
    )
    rows = [
        DueRow(
            customer=customer,
            resource=resource,
            incident_id=incident_id,
            title=title,
            due=clock_due(clock.name, clock.state, clock.slo_due_at, clock.sla_due_at, now),
        )
        for clock, incident_id, title, customer, resource in session.execute(stmt)
    ]
    return sorted(rows, key=lambda r: (r.due is None, r.left(now) or 0.0, r.incident_id))


def local(instant: datetime | None, zone: ZoneInfo) -> str:
    """An instant as operators read it: `2026-11-24 10:30:00 JST`."""
    return "-" if instant is None else instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def width(text: str) -> int:
    """Display columns of `text`: Japanese (wide) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Left-aligned columns sized to their widest cell; the last column is not padded."""
    widths = [max(width(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [cell + " " * (w - width(cell)) for cell, w in zip(row[:-1], widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")


DUE_HEADER = ("CUSTOMER", "RESOURCE", "INCIDENT", "CLOCK", "TARGET", "DUE", "LEFT")


def print_due(
    rows: Sequence[DueRow], now: datetime, zone: ZoneInfo, as_json: bool, out: TextIO
) -> None:
    if as_json:
        for row in rows:
            left = row.left(now)
            entry = {
                "customer": row.customer,
                "resource": row.resource,
                "incident_id": row.incident_id,
                "title": row.title,
                "clock": row.due.clock if row.due else None,
                "target": row.due.target if row.due else None,
                "due": row.due.at.astimezone(zone).isoformat() if row.due else None,
                "seconds_left": left,
            }
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return
    cells = [
        (
            row.customer,
            row.resource,
            str(row.incident_id),
            row.due.clock if row.due else "-",
            row.due.target.upper() if row.due else "-",
            local(row.due.at if row.due else None, zone),
            "paused" if row.due is None else format_left(row.due.seconds_left(now)),
        )
        for row in rows
    ]
    render_table(DUE_HEADER, cells, out)


LIST_HEADER = (
    "ID",
    "STATUS",
    "PLAN",
    "CUSTOMER",
    "DETECTED",
    "CLOCKS",
    "NEXT DUE",
    "LEFT",
    "TITLE",
)


def list_incidents(session: Session, status: str | None, limit: int) -> list[tuple[Incident, str]]:
    """The newest incidents (of `status`, if given) with their customer's name."""
    stmt = (
        select(Incident, Customer.name)
        .join(Customer, Incident.customer_id == Customer.id)
        .options(selectinload(Incident.clocks))
        .order_by(Incident.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Incident.status == status)
    return [(incident, customer) for incident, customer in session.execute(stmt)]


def print_list(
    rows: Sequence[tuple[Incident, str]],
    now: datetime,
    zone: ZoneInfo,
    as_json: bool,
    out: TextIO,
) -> None:
    cells = []
    for incident, customer in rows:
        clocks = {c.name: c.outcome or c.state for c in incident.clocks}
        due = earliest(
            clock_due(c.name, c.state, c.slo_due_at, c.sla_due_at, now) for c in incident.clocks
        )
        if as_json:
            entry = {
                "id": incident.id,
                "status": incident.status,
                "plan": incident.plan,
                "customer": customer,
                "detected_at": incident.detected_at.isoformat(),
                "title": incident.title,
                "clocks": clocks,
                "owed": owes(c.state for c in incident.clocks),
                "next_due": None
                if due is None
                else {"clock": due.clock, "target": due.target, "at": due.at.isoformat()},
                "seconds_left": None if due is None else due.seconds_left(now),
            }
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            continue
        cells.append(
            (
                str(incident.id),
                incident.status,
                incident.plan,
                customer,
                local(incident.detected_at, zone),
                " ".join(f"{k}={v}" for k, v in clocks.items()) or "-",
                "-" if due is None else f"{due.clock} {due.target.upper()}",
                "-" if due is None else format_left(due.seconds_left(now)),
                incident.title,
            )
        )
    if not as_json:
        render_table(LIST_HEADER, cells, out)
