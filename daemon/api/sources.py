"""``GET /v1/sources``: the health of every source instance, as operators check it first."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from daemon.api.deps import ReaderDep, ServicesDep, StrictQuery, Viewer
from daemon.api.utc import Instant
from daemon.sources.status import source_status

router = APIRouter(prefix="/v1/sources", tags=["sources"], dependencies=[StrictQuery])


class PollOut(BaseModel):
    at: Instant
    ok: bool
    error: str | None
    last_ok_at: Instant | None


class AcceptedOut(BaseModel):
    at: Instant
    note: str | None


class RejectedOut(BaseModel):
    at: Instant
    reason: str | None
    detail: str | None


class FaultOut(BaseModel):
    window_id: int
    start: Instant
    description: str


class SourceInstanceOut(BaseModel):
    """One instance; ``instance = "*"`` collects webhooks for no configured instance.

    `findings` are what the instance's last poll that reported any found wrong with the
    source's own set-up (e.g. AWS alarms that never push their recovery).
    """

    source: str
    instance: str
    configured: bool
    polled: bool
    watermark: Instant | None
    failures: int
    last_poll: PollOut | None
    findings: list[str]
    last_accepted: AcceptedOut | None
    last_rejected: RejectedOut | None
    open_fault: FaultOut | None


@router.get("", response_model=list[SourceInstanceOut])
def list_sources(session: ReaderDep, svc: ServicesDep, _who: Viewer) -> list[SourceInstanceOut]:
    configured = [(s, i, r.polls()) for (s, i), r in svc.sources.runners.items()]
    return [SourceInstanceOut.model_validate(e) for e in source_status(session, configured)]
