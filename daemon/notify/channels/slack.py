"""Slack incoming webhooks: the subject in bold, then the text.

An incoming-webhook URL is bound to one Slack channel, so `recipient` does not choose
where the message goes; routes pick the channel by picking the configured URL. Slack
does not deduplicate, so a retried delivery after a lost answer may show twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from daemon.notify.channels.http import post
from daemon.notify.config import SlackChannelConfig
from daemon.notify.message import Message


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup (`&`, `<`, `>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel:
    """Posts `{"text": ...}` to a Slack incoming webhook."""

    def __init__(self, config: SlackChannelConfig, clock: Callable[[], datetime]):
        self._config = config
        self._clock = clock

    @property
    def name(self) -> str:
        """The configured channel name."""
        return self._config.name

    def send(self, message: Message, recipient: str) -> datetime:
        """Post the message; `recipient` is ignored (see the module docstring)."""
        text = f"*{slack_escape(message.subject)}*\n{slack_escape(message.body)}"
        body = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
        return post(
            self._config.url,
            body,
            {"Content-Type": "application/json; charset=utf-8"},
            timeout=self._config.timeout,
            ca_file=self._config.ca_file,
            verify=self._config.verify,
            clock=self._clock,
        )
