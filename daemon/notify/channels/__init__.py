"""Delivery channels, one module per kind, and the factory that builds them from config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from daemon.notify.channels.email import EmailChannel
from daemon.notify.channels.slack import SlackChannel
from daemon.notify.channels.webhook import WebhookChannel, verify_webhook_signature
from daemon.notify.config import (
    ChannelConfig,
    EmailChannelConfig,
    NotifyConfig,
    SlackChannelConfig,
)
from daemon.notify.message import Channel

__all__ = [
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "build_channels",
    "verify_webhook_signature",
]


def build_channel(config: ChannelConfig, clock: Callable[[], datetime]) -> Channel:
    """The channel for one `[notify.channels.<name>]` table."""
    if isinstance(config, EmailChannelConfig):
        return EmailChannel(config, clock)
    if isinstance(config, SlackChannelConfig):
        return SlackChannel(config, clock)
    return WebhookChannel(config, clock)


def build_channels(config: NotifyConfig, clock: Callable[[], datetime]) -> dict[str, Channel]:
    """Every configured channel by name, as routes refer to them."""
    return {name: build_channel(channel, clock) for name, channel in config.channels.items()}
