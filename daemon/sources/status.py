"""What ``GET /v1/sources`` and ``slad sources`` show of every source instance.

Per configured instance: the stored watermark, the last poll (ok or failed, with the
error), the findings of the last poll that reported any (set-up the source gets wrong),
the last accepted and the last rejected webhook (with the reason), and the open
monitoring fault. Webhooks addressed to no configured instance are kept per source
under the instance ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.faults import current_fault
from daemon.sources.state import UNKNOWN_INSTANCE
from daemon.store.models import SourceInstanceState


def source_status(
    session: Session, configured: Iterable[tuple[str, str, bool]]
) -> list[dict[str, Any]]:
    """One entry per (source, instance, polled) in `configured`, then the unknown-instance rows."""
    stored = {(s.source, s.instance): s for s in session.scalars(select(SourceInstanceState))}
    entries = []
    for source, instance, polled in configured:
        entry = _entry(source, instance, stored.get((source, instance)))
        fault = current_fault(session, f"{source}:{instance}")
        entry.update(
            configured=True,
            polled=polled,
            open_fault=None
            if fault is None
            else {"window_id": fault.id, "start": fault.start_at, "description": fault.description},
        )
        entries.append(entry)
    for (source, instance), state in sorted(stored.items()):
        if instance == UNKNOWN_INSTANCE:
            entries.append(
                {
                    **_entry(source, instance, state),
                    "configured": False,
                    "polled": False,
                    "open_fault": None,
                }
            )
    return entries


def _entry(source: str, instance: str, state: SourceInstanceState | None) -> dict[str, Any]:
    s = state or SourceInstanceState(source=source, instance=instance, failures=0)
    return {
        "source": source,
        "instance": instance,
        "watermark": s.watermark,
        "failures": s.failures or 0,
        "last_poll": None
        if s.last_poll_at is None
        else {
            "at": s.last_poll_at,
            "ok": bool(s.last_poll_ok),
            "error": s.last_poll_error,
            "last_ok_at": s.last_poll_ok_at,
        },
        "findings": list(s.findings or []),
        "last_accepted": None
        if s.last_accepted_at is None
        else {"at": s.last_accepted_at, "note": s.last_accepted_note},
        "last_rejected": None
        if s.last_rejected_at is None
        else {
            "at": s.last_rejected_at,
            "reason": s.last_rejected_reason,
            "detail": s.last_rejected_detail,
        },
    }
