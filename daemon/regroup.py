"""Operators regroup alerts: merge two incidents into one, or split an alert out.

Correlation groups alerts by rule (`daemon.ingest`); an operator who knows better fixes
the grouping here. Both changes move facts the clocks are derived from, so both
re-derive the clocks of every incident they change, write a timeline entry saying why
(with the due instants and outcomes before and after), and are audited with their
reason.

- **Merge**: the incident detected first stands; the other's alerts move to it, and it
  keeps the earliest contact and the earliest report recorded on either (the customer
  was told about the failure when either was told). The absorbed incident keeps its
  timeline, loses its clocks (it owes nothing on its own any more), and is marked
  `merged` with a pointer to the one it joined. Both must belong to one contract: one
  incident is one promise to one customer under one policy.
- **Split**: the alert gets an incident of its own, detected at its own detection, with
  the policy snapshot (and fault rule) of the incident it leaves and nothing recorded
  yet; the incident it leaves is detected at the earliest of the alerts it keeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import audit
from daemon.clocks import fingerprint, refresh_incident
from daemon.ingest import IngestHooks
from daemon.store.models import Alert, Incident
from daemon.timeline import add_timeline


class Refused(ValueError):
    """A regrouping that would make the facts inconsistent; nothing was changed.

    `kind` is the stable problem type, `status` the HTTP status it answers with.
    """

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind


def _earliest(*instants: datetime | None) -> datetime | None:
    known = [i for i in instants if i is not None]
    return min(known) if known else None


def _settle_status(incident: Incident, now: datetime) -> None:
    """Open while one of its alerts fires; else resolved at its last alert's recovery."""
    if any(alert.status == "firing" for alert in incident.alerts):
        incident.status, incident.resolved_at = "open", None
    elif incident.status != "resolved":
        ends = [alert.resolved_at for alert in incident.alerts if alert.resolved_at]
        incident.status, incident.resolved_at = "resolved", max(ends, default=now)


def _open_in_group(session: Session, incident: Incident) -> Incident | None:
    """Another open incident of `incident`'s resource and group, which forbids it to open."""
    return session.scalar(
        select(Incident).where(
            Incident.resource_id == incident.resource_id,
            Incident.group_key == incident.group_key,
            Incident.status == "open",
            Incident.id != incident.id,
        )
    )


def _recomputed(
    session: Session,
    incident: Incident,
    before: dict[str, object],
    now: datetime,
    horizon: timedelta,
    actor: str,
    why: dict[str, object],
) -> dict[str, object]:
    """Re-derive `incident`'s clocks; a timeline entry says why when they moved.
    Returns the clocks after."""
    refresh_incident(session, incident, now, horizon)
    after = fingerprint(incident)
    if after != before:
        detail = {**why, "before": before, "after": after}
        add_timeline(session, incident, now, now, "clocks_recomputed", actor, detail)
    return after


def merge(
    session: Session,
    first: Incident,
    second: Incident,
    *,
    now: datetime,
    horizon: timedelta,
    actor: str,
    reason: str,
) -> Incident:
    """Merge two incidents into the one detected first (on a tie, the older row);
    returns it."""
    if first.id == second.id:
        raise Refused(422, "merge-self", f"incident {first.id} cannot be merged with itself")
    for incident in (first, second):
        if incident.status == "merged":
            raise Refused(
                409,
                "already-merged",
                f"incident {incident.id} was merged into incident {incident.merged_into_id}",
            )
    if first.contract_id != second.contract_id:
        raise Refused(
            422,
            "different-contract",
            f"incidents {first.id} and {second.id} belong to different contracts",
        )
    keep, gone = sorted((first, second), key=lambda i: (i.detected_at, i.id))
    before = fingerprint(keep)
    for alert in list(gone.alerts):
        alert.incident = keep
    keep.contacted_at = _earliest(keep.contacted_at, gone.contacted_at)
    keep.reported_at = _earliest(keep.reported_at, gone.reported_at)
    gone.status, gone.merged_into_id = "merged", keep.id
    gone.resolved_at = gone.resolved_at or now
    gone.clocks.clear()
    session.flush()  # `gone` leaves its group before `keep` may take the open slot
    _settle_status(keep, now)
    if keep.status == "open" and (blocking := _open_in_group(session, keep)) is not None:
        raise Refused(
            409,
            "group-has-open-incident",
            f"incident {keep.id} would re-open beside open incident {blocking.id} of its "
            f"resource; merge that one in as well",
        )
    why: dict[str, object] = {"reason": reason, "merged_incident_id": gone.id}
    add_timeline(session, keep, now, now, "merged", actor, why)
    add_timeline(
        session, gone, now, now, "merged_into", actor, {"reason": reason, "incident_id": keep.id}
    )
    after = _recomputed(session, keep, before, now, horizon, actor, why)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="incident.merge",
        target_type="incident",
        target_id=keep.id,
        reason=reason,
        detail={"merged_incident_id": gone.id, "clocks_before": before, "clocks_after": after},
    )
    session.flush()
    return keep


def split(
    session: Session,
    alert: Alert,
    *,
    now: datetime,
    horizon: timedelta,
    actor: str,
    reason: str,
    hooks: IngestHooks | None,
) -> Incident:
    """Give `alert` an incident of its own; returns it."""
    origin = alert.incident
    if origin is None:
        raise Refused(409, "not-in-incident", f"alert {alert.id} belongs to no incident")
    staying = [a for a in origin.alerts if a.id != alert.id]
    if not staying:
        raise Refused(
            409, "only-alert", f"alert {alert.id} is the only alert of incident {origin.id}"
        )
    first = min(staying, key=lambda a: (a.detected_at, a.id))
    for fact, at in (("contact", origin.contacted_at), ("report", origin.reported_at)):
        if at is not None and at < first.detected_at:
            raise Refused(
                409,
                "recorded-before-detection",
                f"incident {origin.id}'s {fact} was recorded before its other alerts were "
                f"detected; split those out instead",
            )
    before = fingerprint(origin)
    split_off = Incident(
        resource_id=origin.resource_id,
        contract_id=origin.contract_id,
        customer_id=origin.customer_id,
        plan=origin.plan,
        source=alert.source,
        instance=alert.instance,
        problem_key=alert.problem_key,
        group_key=f"alert:{alert.id}",
        title=alert.title,
        severity=alert.severity,
        status="open",
        detected_at=alert.detected_at,
        received_at=alert.received_at,
        detected_at_estimated=alert.detected_at_estimated,
        policy=list(origin.policy),
        fault_exclusion=origin.fault_exclusion,
        created_at=now,
        clocks=[],
    )
    session.add(split_off)
    alert.incident = split_off
    origin.detected_at = first.detected_at
    origin.received_at = first.received_at
    origin.detected_at_estimated = first.detected_at_estimated
    _settle_status(split_off, now)
    _settle_status(origin, now)
    session.flush()
    why: dict[str, object] = {"reason": reason, "alert_id": alert.id, "incident_id": split_off.id}
    add_timeline(session, origin, now, now, "alert_split", actor, why)
    detail = {
        "alert_id": alert.id,
        "title": alert.title,
        "detected_at_estimated": alert.detected_at_estimated,
        "split_from": origin.id,
        "reason": reason,
    }
    add_timeline(session, split_off, alert.detected_at, now, "detected", actor, detail)
    refresh_incident(session, split_off, now, horizon)
    after = _recomputed(session, origin, before, now, horizon, actor, why)
    if hooks is not None:
        hooks.incident_opened(session, split_off, now)
    audit.record(
        session,
        at=now,
        actor=actor,
        action="alert.split",
        target_type="alert",
        target_id=alert.id,
        reason=reason,
        detail={
            "from_incident_id": origin.id,
            "incident_id": split_off.id,
            "clocks_before": before,
            "clocks_after": after,
        },
    )
    session.flush()
    return split_off
