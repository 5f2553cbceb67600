"""The chat transport of the outbox (imported by `NotificationsConfig.ready`, like an admin
module): chat rows are sent by `deliver_chat`, and a channel whose address is gone is switched
off."""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from tracker.core.delivery import PermanentDeliveryError
from tracker.integrations.delivery import deliver_chat
from tracker.integrations.services import channel_switch_off
from tracker.notifications.chat import chat_payload
from tracker.notifications.models import MessageKind, OutboxMessage
from tracker.notifications.transports import Transport, transport_register

logger = logging.getLogger(__name__)


def chat_send(message: OutboxMessage) -> str:
    if not message.channel.is_active:
        raise PermanentDeliveryError(_("The channel is switched off."))
    return deliver_chat(
        channel=message.channel, payload=chat_payload(message), idempotency_key=str(message.pk)
    )


def chat_destination_gone(message: OutboxMessage) -> None:
    """The channel's address is gone: stop sending to it (its other messages then fail at
    once) until someone gives it a new address and switches it on again."""
    if channel_switch_off(channel_id=message.channel_id):
        logger.warning("Channel %s answered 410 Gone: switched off", message.channel_id)
    message.last_error += " " + _("The channel is switched off: its address is gone.")


transport_register(
    MessageKind.CHAT, Transport(send=chat_send, destination_gone=chat_destination_gone)
)
