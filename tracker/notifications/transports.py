"""How each kind of message travels: email is built in, chat is registered by `integrations`.

A transport's `send` delivers one message and returns the answer to show, or raises one of the
errors of `tracker.core.delivery`. `destination_gone`, when a transport has one, is called (in
the transaction that records the failure) after a `DestinationGoneError`, to stop sending there.
`session`, when a transport has one, is a context manager the outbox flush keeps open around all
its sends, so they can share a connection (email: one SMTP connection per flush). `prepare`,
when it has one, is called with each batch of its messages the flush claimed, before their
sends (email: the renderers' preloads, a few queries per batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass

from django.utils.translation import gettext as _

from tracker.core.delivery import PermanentDeliveryError
from tracker.notifications.emails import email_prepare, email_session, send_email
from tracker.notifications.models import MessageKind, OutboxMessage
from tracker.notifications.registry import Registry


@dataclass(frozen=True)
class Transport:
    send: Callable[[OutboxMessage], str]
    destination_gone: Callable[[OutboxMessage], None] | None = None
    session: Callable[[], AbstractContextManager] | None = None
    prepare: Callable[[Sequence[OutboxMessage]], None] | None = None


_TRANSPORTS: Registry[Transport] = Registry("transports")
_TRANSPORTS.add(
    MessageKind.EMAIL, Transport(send=send_email, session=email_session, prepare=email_prepare)
)
transport_register = _TRANSPORTS.add


@contextmanager
def transport_sessions() -> Iterator[None]:
    """Every transport's session open for the block (the sends of one flush)."""
    with ExitStack() as stack:
        for transport in _TRANSPORTS.values():
            if transport.session is not None:
                stack.enter_context(transport.session())
        yield


def transports_prepare(messages: Sequence[OutboxMessage]) -> None:
    """Each transport's `prepare` with its messages among `messages` (one claimed batch)."""
    by_kind: dict[str, list[OutboxMessage]] = {}
    for message in messages:
        by_kind.setdefault(message.kind, []).append(message)
    for kind, group in by_kind.items():
        transport = _TRANSPORTS.get(kind)
        if transport is not None and transport.prepare is not None:
            transport.prepare(group)


def transport_for(message: OutboxMessage) -> Transport:
    transport = _TRANSPORTS.get(message.kind)
    if transport is None:
        raise PermanentDeliveryError(
            _("Nothing sends %(kind)s messages here.") % {"kind": message.kind}
        )
    return transport
