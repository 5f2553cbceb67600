"""Chat payloads (the shape `tracker.core.delivery` documents), as the chat transport sends them.

Report and test messages are stored whole when queued. Alert messages are queued as the ids of
their alerts (a scan matches thousands of alerts to channels in one SQL statement) and built
when sent, in the channel's language, by the renderer `alerts` registers for their event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker.notifications.models import OutboxMessage
from tracker.notifications.registry import Registry

ChatRenderer = Callable[[OutboxMessage], dict[str, Any]]
"""Builds the payload of one chat message now; raises `NothingToSend` when its content is gone."""

_RENDERERS: Registry[ChatRenderer] = Registry("chat renderers")
chat_renderer = _RENDERERS.decorator
"""`@chat_renderer(event, …)`: the decorated function builds those events' chat payloads."""


def chat_payload(message: OutboxMessage) -> dict[str, Any]:
    """What to send for the chat message `message`: built now by its event's renderer, or the
    payload stored whole."""
    renderer = _RENDERERS.get(message.event)
    return message.payload if renderer is None else renderer(message)
