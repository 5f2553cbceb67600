"""Emails: rendered at send time in the recipient's language, sent over SMTP with the outbox's
error contract (4xx and connection trouble are transient, 5xx refusals permanent).

Inside `email_session()` (the outbox flush opens one) every email goes over one SMTP
connection, opened at the first send and kept for the next: a flush of thousands of emails
costs one connection, not one per email. After an error the connection is dropped and the
next email opens a fresh one; an email refused because a reused connection had been closed by
the server (disconnected, or 421) is sent once more over a fresh connection.

What an email says depends on its event, and the apps that queue the event know it: they
register a renderer for it (`email_renderer`) from their `notifications` module. The test
message is the only one built in. A renderer that reads the database may also register a
preloader (`email_preloader`): the flush calls it once per claimed batch (`email_prepare`), so
the batch's emails cost a few queries in all rather than a few each.

Most of an email's CPU time outside its templates is Python's mail package building the MIME
message; its header registry makes a new class for every header of every message, so the
emails here are built with a copy of the backend's policy that makes each header name's class
once (`_fast`).
"""

from __future__ import annotations

import email.policy
import logging
import re
import smtplib
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence, Set
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry
from functools import cache
from html import escape
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tracker.core.delivery import PermanentDeliveryError, TransientDeliveryError
from tracker.notifications import links
from tracker.notifications.models import OutboxEvent, OutboxMessage
from tracker.notifications.registry import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows inline as `<img src="cid:{cid}" alt="…">` (a monthly report's
    chart): sent with the HTML in a multipart/related part, under Content-ID `<cid>`."""

    cid: str
    content: bytes
    subtype: str = "png"

    @property
    def filename(self) -> str:
        return f"{self.cid}.{self.subtype}"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    # Headers of this email's own, e.g. List-Unsubscribe (`preferences.unsubscribe_headers`).
    headers: dict[str, str] = field(default_factory=dict)
    images: tuple[InlineImage, ...] = ()


class RelatedEmail(EmailMultiAlternatives):
    """text/plain and text/html alternatives, the HTML with its inline images:
    multipart/alternative (text/plain, multipart/related (text/html, image/png …))."""

    def __init__(self, *args: Any, images: Sequence[InlineImage] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.images = list(images)

    def message(self, *, policy=email.policy.default):
        """Built with the policy a backend asks for, its header classes made once (`_fast`)."""
        message = super().message(policy=_fast(policy))
        html = message.get_body(preferencelist=("html",))
        for image in self.images if html is not None else ():
            html.add_related(
                image.content,
                maintype="image",
                subtype=image.subtype,
                cid=f"<{image.cid}>",
                filename=image.filename,
                disposition="inline",
            )
        return message


EmailRenderer = Callable[[OutboxMessage, datetime], RenderedEmail]
"""Builds the email of one message as of a moment, in the active language; raises
`NothingToSend` when what it was about is gone."""

_RENDERERS: Registry[EmailRenderer] = Registry("email renderers")
email_renderer = _RENDERERS.decorator
"""`@email_renderer(event, …)`: the decorated function renders those events' emails."""

EmailPreloader = Callable[[Sequence[OutboxMessage]], None]
"""Loads, for many messages at once, what their renderer would read for each one, and leaves it
on the messages for the renderer to find (a renderer still works on a message without it)."""

_PRELOADERS: Registry[EmailPreloader] = Registry("email preloaders")
email_preloader = _PRELOADERS.decorator
"""`@email_preloader(event, …)`: the decorated function preloads those events' emails."""


def email_prepare(messages: Sequence[OutboxMessage]) -> None:
    """Preload the emails of a claimed batch, event by event. A preloader that fails costs
    only speed: each renderer then loads what it needs itself."""
    by_event: dict[str, list[OutboxMessage]] = {}
    for message in messages:
        by_event.setdefault(message.event, []).append(message)
    for event, group in by_event.items():
        preloader = _PRELOADERS.get(event)
        if preloader is None:
            continue
        try:
            preloader(group)
        except Exception:
            logger.exception("Preloading %s %s emails failed", len(group), event)


def email_render(
    template: str,
    subject: str,
    context: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    images: Sequence[InlineImage] = (),
) -> RenderedEmail:
    """The text and HTML templates `emails/<template>.txt|html` with the subject and site link.
    With List-Unsubscribe in `headers`, the templates get its link as `unsubscribe_url`;
    `images` are sent inline for the HTML's `cid:` references."""
    headers = headers or {}
    context = {
        **context,
        "subject": subject,
        "site_url": links.home_url(),
        "unsubscribe_url": headers.get("List-Unsubscribe", "").strip("<>"),
    }
    return RenderedEmail(
        subject=subject,
        text=render_to_string(f"emails/{template}.txt", context),
        html=render_to_string(f"emails/{template}.html", context),
        headers=headers,
        images=tuple(images),
    )


# Compiled fragments ---------------------------------------------------------------------------
# An email listing many rows (an alert email's nodes) renders each row's partial once per
# *shape* (what the partial branches on) and language, with placeholders where the values go,
# and fills it per row: the fragment's literal parts joined with the row's own values, escaped
# as the template would (HTML) or as they are (text, whose templates turn autoescaping off).

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: never escaped, never in a text
_PLACEHOLDER = re.compile(f"{_OPEN}(\\w+){_CLOSE}")
_FRAGMENTS: dict[tuple, list[str]] = {}  # (template, language, shape) -> literal, name, literal…


def placeholder(name: str) -> str:
    """What stands for the value `name` when a fragment is rendered (`email_fragment`)."""
    return f"{_OPEN}{name}{_CLOSE}"


def email_fragment(
    template: str, shape: Hashable, context: Callable[[], dict[str, Any]]
) -> list[str]:
    """The partial `template` (e.g. "emails/alerts.html#entry") rendered with the placeholders
    of `context()` (called only the first time this shape is met in this language), split into
    literal parts and value names: [literal, name, literal, …, literal]."""
    key = (template, translation.get_language(), shape)
    parts = _FRAGMENTS.get(key)
    if parts is None:
        parts = _FRAGMENTS[key] = _PLACEHOLDER.split(render_to_string(template, context()))
    return parts


def fragment_fill(
    parts: list[str], values: Mapping[str, str], *, html: bool, raw: Set[str] = frozenset()
) -> str:
    """A fragment's parts with `values` in their places, escaped for HTML when `html` (but
    those named in `raw`: HTML already)."""
    out = [parts[0]]
    for index in range(1, len(parts), 2):
        name = parts[index]
        out.append(escape(values[name]) if html and name not in raw else values[name])
        out.append(parts[index + 1])
    return "".join(out)


@email_renderer(OutboxEvent.TEST)
def _render_test(message: OutboxMessage, now: datetime) -> RenderedEmail:
    return email_render("test", _("Milepost test message"), {"recipient": message.recipient})


_ASCII = bytes(range(128))


def wire_size(rendered: RenderedEmail) -> int:
    """About how many bytes the bodies of `rendered` take on the wire: Python's mail encoder
    sends long UTF-8 lines quoted-printable, where each non-ASCII byte becomes three, and
    images base64 (4 bytes for 3, plus line breaks)."""
    return sum(
        len(data) + 2 * len(data.translate(None, _ASCII))  # what is left: the non-ASCII bytes
        for data in (rendered.text.encode(), rendered.html.encode())
    ) + sum(len(image.content) * 4 // 3 * 78 // 76 for image in rendered.images)


def render_email(message: OutboxMessage, *, now: datetime | None = None) -> RenderedEmail:
    """The email `message` stands for, in its recipient's language."""
    renderer = _RENDERERS.get(message.event)
    if renderer is None:
        raise PermanentDeliveryError(
            _("Nothing renders %(event)s emails.") % {"event": message.event}
        )
    with translation.override(message.recipient.language):
        return renderer(message, now or timezone.now())


def message_id(message: OutboxMessage) -> str:
    """The email's Message-ID: the row's id, so every attempt (a retry, or a second send after a
    worker stopped mid-send) carries the same one and a receiving system can drop a duplicate."""
    return f"<{message.pk}@{urlsplit(settings.SITE_URL).hostname or 'milepost'}>"


class _SharedHeader(BaseHeader):
    """A parsed header that remembers how it folds under the last policy asked: the headers
    every email repeats (`SHARED_HEADERS`) are parsed once per process and shared by the
    messages, so each is folded once too. Header objects are never changed once made (setting
    a parameter makes a new one), so sharing them is safe."""

    def fold(self, *, policy: email.policy.Policy) -> str:
        memo = self.__dict__.get("_folded")
        if memo is not None and memo[0] is policy:
            return memo[1]
        folded = super().fold(policy=policy)
        self._folded = (policy, folded)
        return folded


# The headers of an email that are the same in many emails: parsed once (`_HeaderClasses`).
SHARED_HEADERS = frozenset(
    {
        "auto-submitted",
        "content-disposition",
        "content-language",
        "content-transfer-encoding",
        "content-type",
        "from",
        "list-unsubscribe-post",
        "mime-version",
    }
)
_SHARED_MAX = 512  # distinct (name, value) pairs kept; a multipart boundary is one of a kind


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, making each header name's class once (the standard one
    makes it anew for every header it parses: a third of building an email), and parsing each
    of the headers many emails repeat once (`SHARED_HEADERS`)."""

    def __init__(self) -> None:
        super().__init__(base_class=_SharedHeader)
        self._classes: dict[str, type[BaseHeader]] = {}
        self._shared: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = super().__getitem__(name)
        return self._classes[key]

    def __call__(self, name: str, value: str) -> BaseHeader:
        if type(value) is not str or name.lower() not in SHARED_HEADERS:
            return self[name](name, value)
        key = (name, value)
        header = self._shared.get(key)
        if header is None:
            if len(self._shared) >= _SHARED_MAX:
                self._shared.clear()
            header = self._shared[key] = self[name](name, value)
        return header


@cache
def _fast(policy: email.policy.EmailPolicy) -> email.policy.EmailPolicy:
    return policy.clone(header_factory=_HeaderClasses())


class _Verbatim(str):
    """A header of ours sent as it is, on one line: ASCII, under RFC 5322's 998 characters.
    Python's folder would wrap a long List-Unsubscribe URL in RFC 2047 encoded words, which
    the programs reading that header do not decode (RFC 2369), and parse it at some cost."""

    name: str

    def fold(self, *, policy: email.policy.Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def verbatim(name: str, value: str) -> str:
    """`value` as a header the mail package keeps as it is, when it can be (else unchanged)."""
    if not (value.isascii() and len(name) + len(value) < 990 and value.isprintable()):
        return value
    header = _Verbatim(value)
    header.name = name
    return header


class EmailSession:
    """One connection of the email backend for many sends (see the module's docstring)."""

    def __init__(self) -> None:
        self.connection = None
        self.sent = 0  # over the current connection

    def send(self, email: EmailMultiAlternatives) -> None:
        reused = self.connection is not None and self.sent > 0
        try:
            self._send(email)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as exc:
            self.close()
            closed = isinstance(exc, smtplib.SMTPServerDisconnected) or exc.smtp_code == 421
            if not (reused and closed):
                raise
            self._send(email)  # the server had closed the idle or used-up connection
        except BaseException:
            self.close()
            raise

    def _send(self, email: EmailMultiAlternatives) -> None:
        if self.connection is None:
            self.connection = get_connection(fail_silently=False)
            self.connection.open()
            self.sent = 0
        try:
            self.connection.send_messages([email])
        except BaseException:
            self.close()
            raise
        self.sent += 1

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with suppress(smtplib.SMTPException, OSError):  # it is gone either way
                connection.close()


_session: ContextVar[EmailSession | None] = ContextVar("email_session", default=None)


@contextmanager
def email_session() -> Iterator[EmailSession]:
    """Send the emails of this block over one connection (closed when the block ends)."""
    session = EmailSession()
    token = _session.set(session)
    try:
        yield session
    finally:
        _session.reset(token)
        session.close()


def _deliver(email: EmailMultiAlternatives) -> None:
    session = _session.get()
    if session is not None:
        session.send(email)
        return
    with get_connection(fail_silently=False) as connection:
        connection.send_messages([email])


def send_email(message: OutboxMessage) -> str:
    """Send `message` to its recipient over the configured backend; return the server's answer.

    Raises NothingToSend, TransientDeliveryError or PermanentDeliveryError.
    """
    recipient = message.recipient
    if not recipient.email:
        raise PermanentDeliveryError(_("%(user)s has no email address.") % {"user": recipient})
    rendered = render_email(message)
    message.subject = rendered.subject[:300]
    email = RelatedEmail(
        images=rendered.images,
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={
            name: verbatim(name, value)
            for name, value in {
                "Message-ID": message_id(message),
                "Content-Language": recipient.language,
                "Auto-Submitted": "auto-generated",
                **rendered.headers,
            }.items()
        },
    )
    email.attach_alternative(rendered.html, "text/html")
    try:
        _deliver(email)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        detail = "; ".join(
            f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values()
        )
        if all(code >= 500 for code in codes):
            raise PermanentDeliveryError(detail) from exc
        raise TransientDeliveryError(detail) from exc
    except smtplib.SMTPAuthenticationError as exc:
        # A wrong password is fixed on our side; keep the message until it is.
        raise TransientDeliveryError(_smtp_detail(exc)) from exc
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentDeliveryError(_smtp_detail(exc)) from exc
        raise TransientDeliveryError(_smtp_detail(exc)) from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out
        raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
    return _("Accepted by the mail server for %(address)s") % {"address": recipient.email}


def _smtp_detail(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else exc.smtp_error
    )
    return f"{exc.smtp_code} {text}"
