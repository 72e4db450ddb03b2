"""Notice figures for Prometheus, read from the store at scrape time.

`slad_provider_notices{source,kind}` counts the notices kept; `slad_provider_notices_unmapped`
those that map to no resource (shown to operators only); `slad_provider_notices_undelivered`
those not yet fully passed on: waiting to be applied, or with a message still pending or
failed. Like the other store figures, a database that cannot be read yields no series
here and `slad_store_up 0` from the store collector.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from daemon.store.models import (
    OutboxMessage,
    ProviderNoticeDelivery,
    ProviderNoticeRecord,
    ProviderNoticeResource,
)

log = logging.getLogger("slad.metrics")

_UNDELIVERED = or_(
    ProviderNoticeRecord.pending.is_(True),
    exists()
    .where(ProviderNoticeDelivery.notice_id == ProviderNoticeRecord.id)
    .where(ProviderNoticeDelivery.outbox_id == OutboxMessage.id)
    .where(OutboxMessage.status != "sent"),
)
_UNMAPPED = ~exists().where(ProviderNoticeResource.notice_id == ProviderNoticeRecord.id)


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        GaugeMetricFamily(
            "slad_provider_notices",
            "Provider notices kept, by source and kind.",
            labels=["source", "kind"],
        ),
        GaugeMetricFamily(
            "slad_provider_notices_unmapped",
            "Provider notices that map to no resource, by source.",
            labels=["source"],
        ),
        GaugeMetricFamily(
            "slad_provider_notices_undelivered",
            "Provider notices not yet passed on: waiting to be applied, or with a message"
            " still pending or failed, by source.",
            labels=["source"],
        ),
    )


class NoticeCollector(Collector):
    """The notice figures, from read-only sessions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def describe(self) -> Iterable[Metric]:
        return _families()

    def collect(self) -> Iterable[Metric]:
        kept, unmapped, undelivered = _families()
        try:
            with self._sessions() as session:
                by_kind = select(
                    ProviderNoticeRecord.source, ProviderNoticeRecord.kind, func.count()
                ).group_by(ProviderNoticeRecord.source, ProviderNoticeRecord.kind)
                for source, kind, count in session.execute(by_kind):
                    kept.add_metric([source, kind], count)
                for family, condition in ((unmapped, _UNMAPPED), (undelivered, _UNDELIVERED)):
                    stmt = (
                        select(ProviderNoticeRecord.source, func.count())
                        .where(condition)
                        .group_by(ProviderNoticeRecord.source)
                    )
                    for source, count in session.execute(stmt):
                        family.add_metric([source], count)
        except SQLAlchemyError:
            log.exception("metrics scrape could not read the provider notices")
            return []
        return [kept, unmapped, undelivered]
