"""Apply recorded notices: their windows, then their notifications, once per revision.

`record_notices` only stores what a provider said, in the transaction of the webhook or
poll that brought it; this worker, run by the leader like a poller, catches the
windows and the outbox up with every notice left `pending`, each in a transaction of
its own, so one notice that cannot be applied does not hold up the others (it stays
pending and is tried again). `POST /v1/provider-notices` applies its notice at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from daemon.notices.forward import forward
from daemon.notices.windows import sync_notice_windows
from daemon.notifier import Notifier
from daemon.store.models import ProviderNoticeRecord

log = logging.getLogger("slad.notices")


@dataclass
class NoticeWorker:
    """Applies pending notices; `tick(now)` makes it one of the leader's periodic jobs."""

    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    notifier: Notifier
    horizon: timedelta
    interval: timedelta = timedelta(seconds=5)
    name: str = "provider-notices"
    jitter: timedelta = timedelta(0)

    def apply(
        self,
        session: Session,
        notice: ProviderNoticeRecord,
        now: datetime,
        past_reason: str | None = None,
    ) -> int:
        """Bring the notice's windows and notifications up to date; returns messages queued.

        `past_reason` (an operator's) lets the windows follow the notice into the past.
        """
        sync_notice_windows(session, notice, now, self.horizon, past_reason)
        queued = forward(session, self.notifier, notice, now)
        notice.pending = False
        return queued

    def tick(self, now: datetime) -> None:
        self.apply_pending(now)

    def apply_pending(self, now: datetime) -> int:
        """Apply every pending notice; returns how many were applied."""
        with self.readers() as session:
            ids = list(
                session.scalars(
                    select(ProviderNoticeRecord.id)
                    .where(ProviderNoticeRecord.pending.is_(True))
                    .order_by(ProviderNoticeRecord.id)
                )
            )
        applied = 0
        for notice_id in ids:
            try:
                with self.sessions.begin() as session:
                    notice = session.get(ProviderNoticeRecord, notice_id)
                    if notice is None or not notice.pending:
                        continue
                    self.apply(session, notice, now)
                    applied += 1
            except Exception:
                log.exception(
                    "provider notice could not be applied", extra={"notice_id": notice_id}
                )
        return applied
