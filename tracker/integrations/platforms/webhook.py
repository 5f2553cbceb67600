"""A signed webhook following Standard Webhooks (standardwebhooks.com): `webhook-id` (stable
across retries: the outbox's idempotency key), `webhook-timestamp` (this attempt, seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the base64 secret
after `whsec_`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tracker.integrations.platforms.base import (
    Item,
    Message,
    OutgoingRequest,
    Platform,
    encode,
    json_headers,
)

SECRET_PREFIX = "whsec_"
# The JSON Schema every body follows (shipped as docs/schemas/webhook-v1.json).
SCHEMA_ID = "urn:milepost:webhook:v1"
EVENT_TYPES = {
    "alerts": "milestone.alerts",
    "weekly_report": "report.weekly",
    "monthly_report": "report.monthly",
    "test": "channel.test",
}


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret; ValueError when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("missing whsec_ prefix")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


def webhook_signature(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Webhook(Platform):
    """Read by a program, not a person: every message carries every item, whatever its size
    (the shape is docs/schemas/webhook-v1.json, whose `$id` each body names in `schema`)."""

    kind = "webhook"
    secret_used = True

    def build_body(self, message: Message) -> dict[str, Any]:
        return self.render(message, message.items, 0)

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        data = dict(message.raw)
        data["items"] = list(data.get("items") or [])
        data["item_count"] = len(data["items"])
        return {
            "schema": SCHEMA_ID,
            "type": EVENT_TYPES.get(message.event, f"milepost.{message.event}"),
            "timestamp": datetime.now(UTC).isoformat(),
            "data": data,
        }

    def prepare(
        self, *, url: str, body: dict[str, Any], secret: str, idempotency_key: str, now: float
    ) -> OutgoingRequest:
        timestamp = str(int(now))
        encoded = encode(body)
        headers = {
            **json_headers(),
            "webhook-id": idempotency_key,
            "webhook-timestamp": timestamp,
            "webhook-signature": webhook_signature(
                secret_key(secret), idempotency_key, timestamp, encoded
            ),
        }
        return OutgoingRequest(url=url, body=encoded, headers=headers)

    def validate_secret(self, secret: str) -> None:
        try:
            key = secret_key(secret)
        except ValueError:
            key = b""
        if not 24 <= len(key) <= 64:
            raise ValidationError(
                _(
                    "Give a Standard Webhooks secret: whsec_ and then 24 to 64 random bytes "
                    "in base64."
                )
            )
