"""The report as one CSV table, a row per fact, for spreadsheets and imports.

Every row names its `section` (`incident_clock`, `exclusion`, `support_request`,
`compliance`, `notice`) and fills the columns that section has; the others are
empty. Column names and codes (clocks, outcomes, window kinds) are stable English
keys; `*_label` columns and `reason` carry the customer's language. Instants are
ISO 8601 in the calendar's zone (`2026-11-24T10:00:00+09:00`), durations in seconds,
targets in `target_unit` (`seconds` or `business_days`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

from daemon.customer_report.labels import Words
from daemon.customer_report.model import CustomerReport, IncidentClock, IncidentEntry

COLUMNS = (
    "section",
    "customer_id",
    "month",
    "partial",
    "incident_id",
    "support_request_id",
    "notice_id",
    "resource",
    "title",
    "source",
    "kind",
    "clock",
    "clock_label",
    "state",
    "start",
    "end",
    "slo_target",
    "sla_target",
    "target_unit",
    "slo_due",
    "sla_due",
    "counted_seconds",
    "excluded_seconds",
    "outcome",
    "outcome_label",
    "window_ids",
    "window_kinds",
    "reason",
    "count",
    "met",
    "slo_breached",
    "sla_breached",
    "open",
    "slo_ratio",
    "sla_ratio",
)


def render_csv(report: CustomerReport, words: Words) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    head = {
        "customer_id": report.customer.id,
        "month": report.month,
        "partial": "true" if report.partial else "false",
    }

    def at(instant: datetime | None) -> str:
        return "" if instant is None else instant.astimezone(words.zone).isoformat()

    def row(section: str, **values: Any) -> None:
        writer.writerow({"section": section, **head, **values})

    for incident in report.incidents:
        for clock in incident.clocks:
            row("incident_clock", **_clock_cells(incident, clock, words, at))
            for exclusion in clock.exclusions:
                row(
                    "exclusion",
                    incident_id=incident.id,
                    resource=incident.resource,
                    clock=clock.name,
                    clock_label=words.code(clock.name),
                    state="planned" if exclusion.ahead else "",
                    start=at(exclusion.start),
                    end=at(exclusion.end),
                    excluded_seconds=seconds(exclusion.seconds),
                    window_ids=" ".join(str(w.id) for w in exclusion.windows),
                    window_kinds=" ".join(w.kind for w in exclusion.windows),
                    reason="; ".join(
                        f"{words.code(w.kind)}: {w.reason}" if w.reason else words.code(w.kind)
                        for w in exclusion.windows
                    ),
                )
    for request in report.support_requests:
        reply = request.clock
        cells: dict[str, Any] = {"support_request_id": request.id, "start": at(request.received_at)}
        cells["end"] = at(request.replied_at)
        if reply is None:
            cells["reason"] = words["out_of_scope"]
        else:
            cells |= {
                "clock": reply.name,
                "clock_label": words.code(reply.name),
                "state": reply.state,
                "slo_target": reply.slo_target_business_days,
                "sla_target": reply.sla_target_business_days,
                "target_unit": "business_days",
                "slo_due": at(reply.slo_due),
                "sla_due": at(reply.sla_due),
                "outcome": reply.outcome,
                "outcome_label": words.code(reply.outcome),
            }
        row("support_request", **cells)
    for line in report.compliance:
        row(
            "compliance",
            clock=line.clock,
            clock_label=words.code(line.clock),
            count=line.count,
            met=line.met,
            slo_breached=line.slo_breached,
            sla_breached=line.sla_breached,
            open=line.open,
            slo_ratio="" if line.slo.ratio is None else f"{line.slo.ratio:.4f}",
            sla_ratio="" if line.sla.ratio is None else f"{line.sla.ratio:.4f}",
        )
    for notice in report.notices:
        row(
            "notice",
            notice_id=notice.id,
            resource=" ".join(notice.resources),
            title=notice.title,
            source=notice.source,
            kind=notice.kind,
            state=notice.status,
            start=at(notice.starts_at),
            end=at(notice.ends_at),
            reason=" ".join(notice.services + notice.regions),
        )
    return out.getvalue()


def seconds(value: float | None) -> str:
    """Whole seconds without a fraction (`600`), others as they are; empty for none."""
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else str(value)


def _clock_cells(
    incident: IncidentEntry,
    clock: IncidentClock,
    words: Words,
    at: Callable[[datetime | None], str],
) -> dict[str, Any]:
    return {
        "incident_id": incident.id,
        "resource": incident.resource,
        "title": incident.title,
        "clock": clock.name,
        "clock_label": words.code(clock.name),
        "state": clock.state,
        "start": at(clock.start),
        "end": at(clock.stop),
        "slo_target": clock.slo_target_seconds,
        "sla_target": clock.sla_target_seconds,
        "target_unit": "seconds",
        "slo_due": at(clock.slo_due),
        "sla_due": at(clock.sla_due),
        "counted_seconds": seconds(clock.counted_seconds),
        "excluded_seconds": seconds(clock.excluded_seconds),
        "outcome": clock.outcome,
        "outcome_label": words.code(clock.outcome),
        "window_ids": " ".join(
            sorted({str(w.id) for e in clock.exclusions for w in e.windows}, key=int)
        ),
    }
