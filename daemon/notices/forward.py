"""Forward a notice revision once to every affected customer and to operators (SPEC section 6).

Each revision of a notice (its first version, then each material update) becomes
`provider_notice` messages through the notification routes:

- every affected customer gets one, in the customer's language, on the channels routed
  for `provider_notice` on the contracts of its affected resources: an e-mail channel
  writes to the customer's `contact_email`, a webhook or Slack channel posts once;
- operators get one on the channels of the `default` routes, addressed to their fixed
  recipients (an e-mail channel's `to`), listing every affected customer, or none when
  the notice maps to no resource.

Messages are keyed by notice, revision and audience, so applying a revision again (a
retry, a mapping that later found another customer) never sends a message twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from daemon.notifier import Notifier
from daemon.notify.config import EmailChannelConfig, channels_for
from daemon.notify.events import NotifyEvent
from daemon.notify.templates import resolve_locale
from daemon.notify.variables import TemplateValue, local_time, rfc3339_utc
from daemon.store.models import (
    Contract,
    Customer,
    ProviderNoticeDelivery,
    ProviderNoticeRecord,
    ProviderNoticeResource,
)

log = logging.getLogger("slad.notices")

EVENT = NotifyEvent.PROVIDER_NOTICE

_LABELS: Mapping[str, Mapping[str, str]] = {
    "ja": {
        "maintenance": "メンテナンス",
        "incident": "障害",
        "informational": "情報",
        "scheduled": "予定",
        "active": "実施中",
        "resolved": "終了",
        "cancelled": "中止",
        "new": "新規",
        "updated": "更新",
        "not_announced": "未定（発表なし）",  # noqa: RUF001 (full-width brackets in Japanese text)
        "none": "なし",
    },
    "en": {
        "maintenance": "maintenance",
        "incident": "incident",
        "informational": "informational",
        "scheduled": "scheduled",
        "active": "in progress",
        "resolved": "ended",
        "cancelled": "cancelled",
        "new": "new",
        "updated": "updated",
        "not_announced": "not announced",
        "none": "none",
    },
}


def forward(
    session: Session, notifier: Notifier, notice: ProviderNoticeRecord, now: datetime
) -> int:
    """Queue the current revision for every affected customer and for operators; returns
    how many messages were new."""
    by_customer: dict[int, list[ProviderNoticeResource]] = defaultdict(list)
    for row in notice.resources:
        by_customer[row.customer_id].append(row)
    queued = 0
    names = []
    for customer_id, rows in sorted(by_customer.items()):
        customer = session.get(Customer, customer_id)
        assert customer is not None
        names.append(customer.name)
        queued += _to_customer(session, notifier, notice, customer, rows, now)
    operators = channels_for(notifier.config.routes, EVENT, None, None)
    variables = _variables(notice, "ja", ", ".join(names) or "-", _resources(notice, None))
    for channel in operators:
        for recipient in notifier.recipients(channel):
            queued += _queue(
                session, notifier, notice, None, channel, recipient, None, variables, now
            )
    return queued


def _to_customer(
    session: Session,
    notifier: Notifier,
    notice: ProviderNoticeRecord,
    customer: Customer,
    rows: list[ProviderNoticeResource],
    now: datetime,
) -> int:
    channels: dict[str, None] = {}
    for row in rows:
        contract = session.get(Contract, row.contract_id)
        assert contract is not None
        channels.update(
            dict.fromkeys(
                channels_for(notifier.config.routes, EVENT, contract.plan, str(contract.id))
            )
        )
    locale = resolve_locale(customer.locale)
    variables = _variables(notice, locale, customer.name, _resources(notice, rows))
    queued = 0
    for channel in channels:
        if isinstance(notifier.config.channels[channel], EmailChannelConfig):
            if not customer.contact_email:
                log.warning(
                    "provider notice not mailed: customer has no contact_email",
                    extra={"notice_id": notice.id, "customer_id": customer.id, "channel": channel},
                )
                continue
            recipient = customer.contact_email
        else:
            recipient = ""
        queued += _queue(
            session,
            notifier,
            notice,
            customer.id,
            channel,
            recipient,
            customer.locale,
            variables,
            now,
        )
    return queued


def _queue(
    session: Session,
    notifier: Notifier,
    notice: ProviderNoticeRecord,
    customer_id: int | None,
    channel: str,
    recipient: str,
    locale: str | None,
    variables: Mapping[str, TemplateValue],
    now: datetime,
) -> int:
    audience = "operators" if customer_id is None else f"customer.{customer_id}"
    key = f"notice.{notice.id}.r{notice.revision}.{audience}"
    row = notifier.queue(session, EVENT, channel, recipient, key, locale, variables, now)
    if row is None:
        return 0
    notice.deliveries.append(
        ProviderNoticeDelivery(revision=notice.revision, customer_id=customer_id, outbox=row)
    )
    return 1


def _resources(notice: ProviderNoticeRecord, rows: list[ProviderNoticeResource] | None) -> str:
    """The affected resources by name; for operators of an unmapped notice, the raw ids."""
    chosen = notice.resources if rows is None else rows
    if chosen:
        return ", ".join(row.resource.name for row in chosen)
    refs = [", ".join(f"{k}={v}" for k, v in sorted(ids.items())) for ids in notice.affected]
    return "; ".join(refs) or "-"


def _text(texts: Mapping[str, str], locale: str) -> str:
    """The text in the reader's language, else in the provider's first one."""
    return texts.get(locale) or next(iter(texts.values()), "") or "-"


def _variables(
    notice: ProviderNoticeRecord, locale: str, customer_name: str, resources: str
) -> dict[str, TemplateValue]:
    labels = _LABELS[resolve_locale(locale)]
    ends = (
        f"{local_time(notice.ends_at, locale)} / UTC {rfc3339_utc(notice.ends_at)}"
        if notice.ends_at is not None
        else labels["not_announced"]
    )
    return {
        "notice_id": notice.id,
        "revision": notice.revision,
        "source": notice.source,
        "kind": notice.kind,
        "kind_label": labels.get(notice.kind, notice.kind),
        "status": notice.status,
        "status_label": labels.get(notice.status, notice.status),
        "change": labels["new" if notice.revision == 1 else "updated"],
        "title": _text(notice.title, locale),
        "description": _text(notice.description, locale) if notice.description else "",
        "services": ", ".join(notice.services) or labels["none"],
        "regions": ", ".join(notice.regions) or labels["none"],
        "customer_name": customer_name,
        "resources": resources,
        "starts_at": notice.starts_at,
        "ends": ends,
    }
