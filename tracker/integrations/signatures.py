"""Verification of incoming signed requests, on the raw body bytes, in constant time.

- Slack: `X-Slack-Signature: v0=hex(HMAC-SHA256(signing secret, "v0:{ts}:{body}"))`.
- The generic command endpoint: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
  `webhook-signature: v1,<base64>`), keyed by CHAT_COMMAND_SECRET (`whsec_…` base64, or the
  setting's text as is).

Both refuse timestamps more than five minutes away and a signature seen before (replays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

from django.core.cache import cache

from tracker.integrations.platforms.webhook import SECRET_PREFIX, secret_key

TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """The request is not signed by who it claims (the message says why, in English)."""


def _timestamp(value: str | None, now: float) -> int:
    try:
        timestamp = int(value or "")
    except ValueError as exc:
        raise SignatureError("missing or malformed timestamp") from exc
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("timestamp outside the five-minute window")
    return timestamp


def _first_use(kind: str, signature: str) -> None:
    """Refuse a signature already accepted inside the window (a replayed request)."""
    digest = hashlib.sha256(signature.encode()).hexdigest()
    if not cache.add(f"milepost:seen-signature:{kind}:{digest}", 1, TOLERANCE_SECONDS * 2):
        raise SignatureError("replayed request")


def verify_slack(
    *, secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> None:
    now = time.time() if now is None else now
    timestamp = _timestamp(headers.get("X-Slack-Request-Timestamp"), now)
    given = headers.get("X-Slack-Signature", "")
    expected = (
        "v0="
        + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    )
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureError("signature mismatch")
    _first_use("slack", given)


def command_secret_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return secret_key(secret)
    return secret.encode()


def verify_standard_webhook(
    *, secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str:
    """Check a Standard Webhooks signature; return the message id."""
    now = time.time() if now is None else now
    message_id = headers.get("webhook-id", "")
    if not message_id:
        raise SignatureError("missing webhook-id")
    timestamp = _timestamp(headers.get("webhook-timestamp"), now)
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(
        hmac.new(command_secret_key(secret), signed, hashlib.sha256).digest()
    )
    for candidate in headers.get("webhook-signature", "").split():
        version, _sep, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            _first_use("command", message_id)
            return message_id
    raise SignatureError("signature mismatch")
