"""Verification of incoming signed requests, on the raw body bytes, in constant time.

- Slack: `X-Slack-Signature: v0=hex(HMAC-SHA256(signing secret, "v0:{ts}:{body}"))`.
- The generic command endpoint: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
  `webhook-signature: v1,<base64>`), keyed by CHAT_COMMAND_SECRET (`whsec_…` base64, or the
  setting's text as is).

- Feishu app callbacks (events and card actions): the Verification Token in the body, the
  body decrypted with the Encrypt Key when one is set, and then `X-Lark-Signature`.
- DingTalk outgoing robot: `timestamp` (ms) and `sign` = base64 HMAC-SHA256 keyed by the
  AppSecret over "timestamp\\nAppSecret".
- WeCom app callback: `msg_signature` (SHA-1 of the sorted token, timestamp, nonce and
  ciphertext), then AES-256-CBC with the EncodingAESKey.

All refuse timestamps more than five minutes away and a request seen before (replays: by its
signature, or the platform's message/event id where the signature alone is not unique).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from django.core.cache import cache

from tracker.integrations.platforms.dingtalk import dingtalk_sign
from tracker.integrations.platforms.feishu import feishu_decrypt, feishu_event_signature
from tracker.integrations.platforms.webhook import SECRET_PREFIX, secret_key
from tracker.integrations.platforms.wecom import wecom_decrypt, wecom_signature

TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """The request is not signed by who it claims (the message says why, in English)."""


class MalformedRequestError(ValueError):
    """The request is verified (or cannot be yet) but its body is not what the platform sends."""


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


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _json_object(raw: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise MalformedRequestError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedRequestError("the body is not a JSON object")
    return data


def verify_feishu(
    *,
    token: str,
    encrypt_key: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> dict[str, Any]:
    """Open and check a Feishu callback; return its plaintext JSON. With an Encrypt Key the
    signature is checked on the raw body before anything is decrypted; the `url_verification`
    challenge alone comes unsigned (Feishu sends it while the app is being set up) and carries
    only the token. A body that cannot be verified is refused like a wrong signature."""
    now = time.time() if now is None else now
    signature = headers.get("X-Lark-Signature", "")
    signed = False
    if encrypt_key and signature:
        timestamp = _timestamp(headers.get("X-Lark-Request-Timestamp"), now)
        nonce = headers.get("X-Lark-Request-Nonce", "")
        expected = feishu_event_signature(str(timestamp), nonce, encrypt_key, body)
        if not _same(signature, expected):
            raise SignatureError("signature mismatch")
        signed = True
    try:
        data = _json_object(body)
    except MalformedRequestError as exc:
        raise SignatureError(f"nothing to verify: {exc}") from exc
    if "encrypt" in data:
        if not encrypt_key:
            raise SignatureError("an encrypted body, but no Encrypt Key is set")
        try:
            data = _json_object(feishu_decrypt(encrypt_key, str(data["encrypt"])))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SignatureError("the body does not decrypt with the Encrypt Key") from exc
    elif encrypt_key:
        raise SignatureError("the body is not encrypted, but an Encrypt Key is set")
    header = data.get("header") if isinstance(data.get("header"), dict) else {}
    given = header.get("token", data.get("token"))
    if not token or not isinstance(given, str) or not _same(given, token):
        raise SignatureError("wrong verification token")
    if data.get("type") == "url_verification":
        return data
    if encrypt_key and not signed:
        raise SignatureError("no X-Lark-Signature")
    if not signed:
        # Without an Encrypt Key Feishu signs nothing: the token and a fresh timestamp it is.
        _timestamp(headers.get("X-Lark-Request-Timestamp"), now)
    # Feishu redelivers an event with the same event_id; a card callback has its own token.
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    seen = header.get("event_id") or event.get("token") or data.get("uuid") or signature
    if not seen:
        raise SignatureError("no event id to check for replays")
    _first_use("feishu", str(seen))
    return data


def verify_dingtalk(
    *, app_secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> dict[str, Any]:
    """Check a DingTalk outgoing robot request; return its JSON. DingTalk's sign covers the
    timestamp only, not the body: each sign is accepted once, so a captured request cannot be
    sent again, with its own body or another, even inside the five minutes."""
    now = time.time() if now is None else now
    raw = headers.get("timestamp", "")
    try:
        milliseconds = int(raw)
    except ValueError as exc:
        raise SignatureError("missing or malformed timestamp") from exc
    _timestamp(str(milliseconds // 1000), now)
    sign = headers.get("sign", "")
    if not app_secret or not _same(sign, dingtalk_sign(raw, app_secret)):
        raise SignatureError("signature mismatch")
    _first_use("dingtalk", sign)
    return _json_object(body)


def verify_wecom(
    *,
    token: str,
    aes_key: str,
    receiver_id: str,
    query: Mapping[str, str],
    encrypted: str,
    now: float | None = None,
) -> str:
    """Check a WeCom callback (the echostr of the URL check, or a message's Encrypt) and
    return it decrypted."""
    now = time.time() if now is None else now
    timestamp = _timestamp(query.get("timestamp"), now)
    nonce = query.get("nonce", "")
    signature = query.get("msg_signature", "")
    if not token or not _same(signature, wecom_signature(token, str(timestamp), nonce, encrypted)):
        raise SignatureError("signature mismatch")
    try:
        plain = wecom_decrypt(aes_key, encrypted, receiver_id)
    except ValueError as exc:
        raise SignatureError(f"does not decrypt: {exc}") from exc
    _first_use("wecom", signature)
    return plain
