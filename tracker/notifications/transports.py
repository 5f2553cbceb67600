"""How each kind of message travels: email is built in, chat is registered by `integrations`.

A transport's `send` delivers one message and returns the answer to show, or raises one of the
errors of `tracker.core.delivery`. `destination_gone`, when a transport has one, is called (in
the transaction that records the failure) after a `DestinationGoneError`, to stop sending there.
`session`, when a transport has one, is a context manager the outbox flush keeps open around all
its sends, so they can share a connection (email: one SMTP connection per flush).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass

from django.utils.translation import gettext as _

from tracker.core.delivery import PermanentDeliveryError
from tracker.notifications.emails import email_session, send_email
from tracker.notifications.models import MessageKind, OutboxMessage
from tracker.notifications.registry import Registry


@dataclass(frozen=True)
class Transport:
    send: Callable[[OutboxMessage], str]
    destination_gone: Callable[[OutboxMessage], None] | None = None
    session: Callable[[], AbstractContextManager] | None = None


_TRANSPORTS: Registry[Transport] = Registry("transports")
_TRANSPORTS.add(MessageKind.EMAIL, Transport(send=send_email, session=email_session))
transport_register = _TRANSPORTS.add


@contextmanager
def transport_sessions() -> Iterator[None]:
    """Every transport's session open for the block (the sends of one flush)."""
    with ExitStack() as stack:
        for transport in _TRANSPORTS.values():
            if transport.session is not None:
                stack.enter_context(transport.session())
        yield


def transport_for(message: OutboxMessage) -> Transport:
    transport = _TRANSPORTS.get(message.kind)
    if transport is None:
        raise PermanentDeliveryError(
            _("Nothing sends %(kind)s messages here.") % {"kind": message.kind}
        )
    return transport
