from __future__ import annotations

import json

import pytest

from daemon.notify.compose import compose_message
from daemon.notify.events import NotifyEvent
from daemon.notify.message import Message
from daemon.notify.templates import TemplateSet
from tests.daemon.notify.test_templates import FIRST_NOTICE


def test_compose_renders_and_keeps_json_payload() -> None:
    message = compose_message(
        TemplateSet.load(), NotifyEvent.CUSTOMER_FIRST_NOTICE, "en-US", FIRST_NOTICE, "inc-42.c"
    )
    assert message.subject == "[Incident notice] web01 (reference INC-42)"
    assert message.idempotency_key == "inc-42.c"
    assert message.payload["event"] == "customer_first_notice"
    assert message.payload["locale"] == "en"
    assert message.payload["detected_at"] == "2026-01-05T01:30:00Z"
    assert message.payload["incident_id"] == "INC-42"
    json.dumps(message.payload)


def test_message_round_trips_through_the_outbox_form() -> None:
    message = Message("件名", "本文\n", {"event": "warning", "percent": 80}, "k-1")
    stored = json.loads(json.dumps(message.as_dict(), ensure_ascii=False))
    assert Message.from_dict(stored) == message


@pytest.mark.parametrize("key", ["", "has space", "改行", "a\nb"])
def test_idempotency_key_must_fit_in_a_header(key: str) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        Message("s", "b", {}, key)
