"""Deliver outbox rows: send outside any transaction, then record the result.

At-least-once with a stable idempotency key: a row is marked sent only after its
channel accepted it, so a crash after commit and before delivery loses nothing; a crash
in the instant between acceptance and the mark re-sends the same key, which mail
(`Message-ID`) and webhook receivers (`X-Slad-Idempotency-Key`) de-duplicate.
Retryable failures back off exponentially; others, and rows out of attempts, end as
`failed` and stay visible in REST and metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from daemon import audit
from daemon.clocks import refresh_incident
from daemon.notify.message import Channel, DeliveryError, Message
from daemon.store.models import Incident, OutboxMessage
from daemon.timeline import add_timeline

log = logging.getLogger("slad.outbox")

Observer = Callable[[str, str], None]


@dataclass
class OutboxWorker:
    """Sends due rows; `observe(channel, result)` feeds metrics (`sent` or `failed`).

    Due rows are found through `readers` (read-only sessions), so a look at an empty
    outbox never takes the store's write lock; each delivery is recorded through
    `sessions`.
    """

    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    channels: Mapping[str, Channel]
    horizon: timedelta
    max_attempts: int = 10
    base_backoff: timedelta = timedelta(seconds=10)
    max_backoff: timedelta = timedelta(minutes=15)
    batch: int = 50
    observe: Observer | None = None

    def backoff(self, attempts: int) -> timedelta:
        delay: timedelta = self.base_backoff * 2 ** max(attempts - 1, 0)
        return min(delay, self.max_backoff)

    def deliver_due(self, now: datetime) -> int:
        """Send every row due at `now`; returns how many were accepted."""
        with self.readers() as session:
            rows = list(
                session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.id)
                    .limit(self.batch)
                )
            )
        sent = 0
        for row in rows:
            sent += self._deliver(row, now)
        return sent

    def _deliver(self, row: OutboxMessage, now: datetime) -> int:
        channel = self.channels.get(row.channel)
        accepted: datetime | None = None
        error: DeliveryError | None = None
        if channel is None:
            error = DeliveryError(
                retryable=False, reason=f"channel {row.channel!r} is not configured"
            )
        else:
            try:
                accepted = channel.send(Message.from_dict(row.message), row.recipient)
            except DeliveryError as exc:
                error = exc
        with self.sessions.begin() as session:
            current = session.get(OutboxMessage, row.id)
            if current is None or current.status != "pending":
                return 0
            current.attempts += 1
            if accepted is not None:
                current.status, current.accepted_at, current.last_error = "sent", accepted, None
                if current.purpose == "auto_contact" and current.incident_id is not None:
                    self._record_contact(session, current, accepted, now)
                self._observe(current.channel, "sent")
                return 1
            assert error is not None
            current.last_error = error.reason
            if error.retryable and current.attempts < self.max_attempts:
                delay = error.retry_after or self.backoff(current.attempts)
                current.next_attempt_at = now + delay
                log.warning(
                    "delivery failed, will retry",
                    extra={
                        "outbox_id": current.id,
                        "channel": current.channel,
                        "attempts": current.attempts,
                        "reason": error.reason,
                    },
                )
            else:
                current.status = "failed"
                self._observe(current.channel, "failed")
                log.error(
                    "delivery failed for good",
                    extra={
                        "outbox_id": current.id,
                        "channel": current.channel,
                        "incident_id": current.incident_id,
                        "reason": error.reason,
                    },
                )
        return 0

    def _record_contact(
        self, session: Session, row: OutboxMessage, accepted: datetime, now: datetime
    ) -> None:
        """The customer's first notice was accepted: that instant is the contact."""
        incident = session.get(Incident, row.incident_id)
        if incident is None or incident.contacted_at is not None:
            return
        incident.contacted_at = accepted
        actor = f"slad:auto-contact:{row.channel}"
        add_timeline(
            session,
            incident,
            accepted,
            now,
            "contacted",
            actor,
            {"outbox_id": row.id, "recipient": row.recipient},
        )
        audit.record(
            session,
            at=now,
            actor=actor,
            action="incident.contacted",
            target_type="incident",
            target_id=incident.id,
            detail={"at": accepted.isoformat(), "automatic": True},
        )
        refresh_incident(session, incident, now, self.horizon)

    def _observe(self, channel: str, result: str) -> None:
        if self.observe is not None:
            self.observe(channel, result)
