"""Notifications: render an event into a message and hand it to a delivery channel.

The outbox worker owns retries and bookkeeping; this package only knows how to turn an
event into text (`templates`, `compose`), which channels an event goes to (`config`),
and how to deliver one message over one channel (`channels`), reporting the instant the
receiving server accepted it, because that instant is the recorded customer contact.
"""

from daemon.notify.events import NotifyEvent
from daemon.notify.message import Channel, DeliveryError, Message

__all__ = ["Channel", "DeliveryError", "Message", "NotifyEvent"]
