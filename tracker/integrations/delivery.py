"""`deliver_chat`: the outbox's chat transport (contract in tracker.core.delivery).

At send time, never earlier: check the URL against the SSRF guard, take a rate-limit slot,
render the payload in the channel's language, sign it, POST it to the checked address, and read
the platform's answer. Errors are sorted into transient (the outbox retries with backoff),
rate-limited (the outbox reschedules without counting an attempt) and permanent.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from tracker.core.delivery import (
    DestinationGoneError,
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
)
from tracker.integrations import ratelimit
from tracker.integrations.platforms import Message, get_platform
from tracker.integrations.selectors import chat_people
from tracker.integrations.ssrf import UnresolvableURLError, UnsafeURLError, check_url
from tracker.integrations.transport import HttpAnswer, post_checked
from tracker.notifications.models import Channel

MAX_RETRY_AFTER = 24 * 3600
ANSWER_PREVIEW = 500


def deliver_chat(*, channel: Channel, payload: dict[str, Any], idempotency_key: str) -> str:
    """Send one outbox payload to `channel`; return the platform's answer for display."""
    platform = get_platform(channel.kind)
    try:
        target = check_url(channel.url)
    except UnresolvableURLError as exc:
        raise TransientDeliveryError(str(exc)) from exc
    except UnsafeURLError as exc:
        raise PermanentDeliveryError(str(exc)) from exc

    wait = ratelimit.acquire(
        ratelimit.endpoint_key(channel.kind, channel.url), platform.rate_limits
    )
    if wait is not None:
        raise RateLimitedError(
            _("Waiting for %(platform)s's rate limit.") % {"platform": channel.get_kind_display()},
            retry_after=math.ceil(wait),
        )

    message = Message.from_payload(payload)
    if message.items:
        message.attach_people(
            chat_people(
                platform=channel.kind, items=[(i.milestone_id, i.kind) for i in message.items]
            )
        )
    with translation.override(channel.language):
        body = platform.build_body(message)
    request = platform.prepare(
        url=channel.url,
        body=body,
        secret=channel.secret,
        idempotency_key=idempotency_key,
        now=time.time(),
    )
    try:
        answer = post_checked(request, target, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(_("Timed out: %(error)s") % {"error": exc}) from exc
    except httpx.TransportError as exc:
        raise TransientDeliveryError(_("Connection failed: %(error)s") % {"error": exc}) from exc
    return read_answer(platform, answer)


def describe(answer: HttpAnswer) -> str:
    text = " ".join(answer.text.split())[:ANSWER_PREVIEW]
    return f"HTTP {answer.status}" + (f": {text}" if text else "")


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def read_answer(platform, answer: HttpAnswer) -> str:
    """Sort an HTTP answer into success (the text to show) or a delivery error."""
    detail = describe(answer)
    status = answer.status
    if 200 <= status < 300:
        platform.check_answer(status, answer.text)
        return detail
    if 300 <= status < 400:
        raise PermanentDeliveryError(
            _("%(detail)s (redirects are not followed: use the final URL)") % {"detail": detail}
        )
    if status == 410:
        raise DestinationGoneError(detail)
    if status in (408, 425, 429) or status >= 500:
        raise TransientDeliveryError(
            detail, retry_after=retry_after(answer.headers.get("Retry-After"))
        )
    # Other 4xx: permanent, unless the body carries a platform's slow-down code.
    platform.check_answer(status, answer.text)
    raise PermanentDeliveryError(detail)
