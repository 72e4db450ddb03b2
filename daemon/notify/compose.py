"""Turn an event and its facts into the `Message` the outbox stores.

The payload repeats the variables in JSON form (instants as RFC 3339 UTC) so machine
receivers (the signed webhook) need not parse the human text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from daemon.notify.events import NotifyEvent
from daemon.notify.message import Message
from daemon.notify.templates import TemplateSet, resolve_locale
from daemon.notify.variables import TemplateValue, rfc3339_utc


def compose_message(
    templates: TemplateSet,
    event: NotifyEvent,
    locale: str | None,
    variables: Mapping[str, TemplateValue],
    idempotency_key: str,
) -> Message:
    """Render `event` for a reader of `locale` and package it for delivery.

    For `customer_first_notice`, `variables` must include `ProviderContact.variables()`.
    Raises TemplateError when a variable is missing or malformed.
    """
    subject, body = templates.render(event, locale, variables)
    payload: dict[str, Any] = {"event": str(event), "locale": resolve_locale(locale)}
    for name, value in variables.items():
        payload[name] = rfc3339_utc(value) if isinstance(value, datetime) else value
    return Message(subject=subject, body=body, payload=payload, idempotency_key=idempotency_key)
