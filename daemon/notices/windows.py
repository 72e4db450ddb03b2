"""Provider notices become `provider_maintenance` windows of the resources they affect.

A scheduled maintenance notice (and an incident notice once an operator confirmed its
impact) excludes [start, end) from the clocks of each affected resource, through one
window per resource keyed ``notice:<notice id>:<resource id>:<n>``; with no announced end
the window stays open (clocks pause without a due instant). When the notice moves, is
cancelled, or stops affecting a resource, its windows follow.

Only the future follows (SPEC section 4): time already past is never rewritten by a
provider's update, since recorded outcomes must not change silently. A change that
would reach into the past (a notice received after its start, a maintenance moved or
cancelled after it began) is applied from now on and the part not applied is written
to the audit log with the notice as reason, so an administrator can apply it with a
reason through `/v1/maintenance-windows`. An administrator's rejection of a notice's
window stands: later updates leave that resource's windows alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import audit
from daemon.clocks import recompute_for_window
from daemon.store.models import MaintenanceWindow, ProviderNoticeRecord
from daemon.windows import as_it_was
from sla_engine.intervals import Interval, IntervalSet

KIND = "provider_maintenance"
AUTHOR = "slad:notices"

Span = tuple[datetime, datetime | None]


def wanted_span(notice: ProviderNoticeRecord) -> Span | None:
    """The span the notice's windows should cover, or None when it should have none."""
    if notice.status == "cancelled":
        return None
    if notice.kind == "incident" and notice.impact_confirmed_at is None:
        return None  # an outage notice pauses clocks only once an operator confirmed it
    if notice.kind == "informational":
        return None
    end = notice.ends_at
    if end is None and notice.status == "resolved":
        end = max(notice.updated_at, notice.starts_at)  # over, with no end announced
    if end is not None and end <= notice.starts_at:
        return None
    return notice.starts_at, end


def sync_notice_windows(
    session: Session,
    notice: ProviderNoticeRecord,
    now: datetime,
    horizon: timedelta,
    past_reason: str | None = None,
) -> None:
    """Make the notice's windows follow it from `now` on, for each affected resource.

    With `past_reason` (an operator's, who decided and is audited) they follow it over
    time already past too.
    """
    prefix = f"notice:{notice.id}:"
    rows: dict[int, list[MaintenanceWindow]] = {}
    for window in session.scalars(
        select(MaintenanceWindow)
        .where(MaintenanceWindow.external_ref.startswith(prefix, autoescape=True))
        .order_by(MaintenanceWindow.id)
    ):
        resource_id = int(str(window.external_ref).split(":")[2])
        rows.setdefault(resource_id, []).append(window)
    wanted = wanted_span(notice)
    mapped = {row.resource_id for row in notice.resources}
    for resource_id in sorted(mapped | set(rows)):
        span = wanted if resource_id in mapped else None
        _sync_resource(
            session, notice, resource_id, span, rows.get(resource_id, []), now, horizon, past_reason
        )


def _sync_resource(
    session: Session,
    notice: ProviderNoticeRecord,
    resource_id: int,
    wanted: Span | None,
    rows: list[MaintenanceWindow],
    now: datetime,
    horizon: timedelta,
    past_reason: str | None,
) -> None:
    if any(row.status == "rejected" for row in rows):
        return
    why = f"provider notice {notice.source} {notice.event_id} (revision {notice.revision})"
    if past_reason is not None:
        why = f"{why}: {past_reason}"
    # Changes apply from `cut` on: from now, or from before anything when an operator said why.
    starts = [row.start_at for row in rows] + ([wanted[0]] if wanted else [])
    cut = now if past_reason is None else min([now, *starts])
    future = _future(wanted, cut)
    kept_past = _past([(row.start_at, row.end_at) for row in rows], cut)
    done = future is None
    for row in rows:
        if row.start_at >= cut:  # wholly ahead: follows the notice
            if not done and future is not None:
                done = True
                if (row.start_at, row.end_at) != future:
                    _move(session, row, future, why, now, horizon)
            else:
                _delete(session, row, why, now, horizon)
            continue
        if row.end_at is not None and row.end_at <= cut:
            continue  # wholly past: stays as it is
        # under way: its past part stays, its future part follows the notice
        end = future[1] if not done and future is not None and future[0] == cut else cut
        done = done or end != cut
        if end != row.end_at:
            _move(session, row, (row.start_at, end), why, now, horizon)
    if not done and future is not None:
        n = 1 + max((int(str(row.external_ref).split(":")[3]) for row in rows), default=-1)
        _create(session, notice, resource_id, future, n, why, now, horizon)
    wanted_past = _past([] if wanted is None else [wanted], cut)
    if wanted_past != kept_past:
        audit.record(
            session,
            at=now,
            actor=AUTHOR,
            action="window.past_change_held",
            target_type="provider_notice",
            target_id=notice.id,
            reason=f"{why}: the change reaches time already past; only its future part applies",
            detail={
                "resource_id": resource_id,
                "wanted_past": _spans(wanted_past),
                "kept_past": _spans(kept_past),
            },
        )


def _future(span: Span | None, now: datetime) -> Span | None:
    """The part of `span` from `now` on, or None when nothing of it lies ahead."""
    if span is None:
        return None
    start, end = max(span[0], now), span[1]
    if end is not None and end <= start:
        return None
    return start, end


def _past(spans: list[Span], now: datetime) -> IntervalSet:
    """What `spans` cover before `now`."""
    parts = [
        Interval(start, now if end is None or end > now else end)
        for start, end in spans
        if start < now and (end is None or start < end)
    ]
    return IntervalSet.from_intervals(parts)


def _spans(intervals: IntervalSet) -> list[list[str]]:
    return [[i.start.isoformat(), i.end.isoformat()] for i in intervals]


def _create(
    session: Session,
    notice: ProviderNoticeRecord,
    resource_id: int,
    span: Span,
    n: int,
    why: str,
    now: datetime,
    horizon: timedelta,
) -> None:
    title = next(iter(notice.title.values()), "")
    window = MaintenanceWindow(
        scope="resource",
        scope_ref=resource_id,
        kind=KIND,
        description=f"{notice.source}: {title}"[:2000],
        start_at=span[0],
        end_at=span[1],
        status="active",
        external_ref=f"notice:{notice.id}:{resource_id}:{n}",
        author=AUTHOR,
        created_at=now,
        updated_at=now,
    )
    session.add(window)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=AUTHOR,
        action="window.create",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={
            "notice_id": notice.id,
            "start": span[0].isoformat(),
            "end": span[1].isoformat() if span[1] else None,
        },
    )
    recompute_for_window(
        session,
        window,
        now,
        horizon,
        {"actor": AUTHOR, "action": "window.create", "reason": why},
    )


def _move(
    session: Session,
    window: MaintenanceWindow,
    span: Span,
    why: str,
    now: datetime,
    horizon: timedelta,
) -> None:
    """Give the window a new span and re-derive the clocks of both its old and new span."""
    before = as_it_was(window)
    window.start_at, window.end_at = span
    window.updated_at = now
    session.flush()
    audit.record(
        session,
        at=now,
        actor=AUTHOR,
        action="window.update",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={"before": _span_text(before.start_at, before.end_at), "after": _span_text(*span)},
    )
    detail: dict[str, object] = {"actor": AUTHOR, "action": "window.update", "reason": why}
    recompute_for_window(session, window, now, horizon, detail, before=before)


def _span_text(start: datetime, end: datetime | None) -> list[str | None]:
    return [start.isoformat(), end.isoformat() if end else None]


def _delete(
    session: Session, window: MaintenanceWindow, why: str, now: datetime, horizon: timedelta
) -> None:
    audit.record(
        session,
        at=now,
        actor=AUTHOR,
        action="window.delete",
        target_type="window",
        target_id=window.id,
        reason=why,
        detail={
            "start": window.start_at.isoformat(),
            "end": window.end_at.isoformat() if window.end_at else None,
        },
    )
    session.delete(window)
    session.flush()
    recompute_for_window(
        session,
        window,
        now,
        horizon,
        {"actor": AUTHOR, "action": "window.delete", "reason": why},
    )
