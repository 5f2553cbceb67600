"""Feishu / Lark custom bot: an interactive card; signed with HMAC-SHA256 keyed by
"timestamp\\nsecret" over an empty message, timestamp (seconds) and sign in the JSON body.

Card text is `lark_md`: untrusted text goes through `escape` (HTML character references, the
escape Feishu documents for card markdown), so `<at id=all></at>` or a link in a title shows as
typed; mapped people are mentioned with `<at id=open_id></at>`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from tracker.core.delivery import PermanentDeliveryError, TransientDeliveryError
from tracker.integrations.platforms.base import (
    ESCALATIONS,
    LINE_START,
    MENTION_ID,
    Item,
    Message,
    OutgoingRequest,
    Person,
    Platform,
    RateWindow,
    encode,
    item_facts,
    json_code,
    json_headers,
    more_line,
    report_lines,
)

HEADER_COLOURS = {
    **dict.fromkeys(ESCALATIONS, "red"),
    "nudge": "red",
    "overdue": "red",
    "due_soon": "orange",
    "resolved": "green",
}


# Characters lark_md gives meaning to: markup (<at>, <font>, links, emphasis, code) and `&`, so
# an entity typed in a title is not decoded either; and markup a line starts with (headings,
# quotes, lists).
LARK_MD_SPECIAL = "&<>*_~`[]()\\"


def escape(text: str) -> str:
    """`text` as plain text in lark_md: its special characters as `&#N;`."""
    lead = ""
    if LINE_START.match(text):
        lead, text = f"&#{ord(text[0])};", text[1:]
    return lead + "".join(f"&#{ord(c)};" if c in LARK_MD_SPECIAL else c for c in text)


# An app bot channel: the URL is the Open API's "send message" endpoint naming the group
# (…/open-apis/im/v1/messages?receive_id_type=chat_id&receive_id=oc_…) and the secret is
# "App ID:App Secret". Its cards carry action buttons, which a custom bot's cannot.
APP_SECRET_PREFIX = "cli_"
APP_MESSAGES_PATH = "/open-apis/im/v1/messages"
APP_ELEMENTS = "_app_elements"  # the app bot's card elements, beside the custom bot's
CARD_NODES = 10  # nodes that get buttons on one card


def app_credentials(secret: str) -> tuple[str, str] | None:
    """(App ID, App Secret) of an app bot channel's secret, or None for a custom bot's."""
    if not secret.startswith(APP_SECRET_PREFIX):
        return None
    app_id, _sep, app_secret = secret.partition(":")
    return (app_id, app_secret) if app_id and app_secret else None


def node_actions(node_id: int, card: list[int], heading: str) -> dict[str, Any]:
    """Done / +1 working day / Blocked for one node; the value names the card's nodes and
    heading so that the callback can rebuild the card in place."""

    def button(label: str, op: str, kind: str) -> dict[str, Any]:
        return {
            "tag": "button",
            "type": kind,
            "text": {"tag": "plain_text", "content": label},
            "value": {"op": op, "node": node_id, "card": card, "h": heading},
        }

    return {
        "tag": "action",
        "actions": [
            button(pgettext("card button", "Done"), "done", "primary"),
            button(pgettext("card button", "+1 working day"), "postpone", "default"),
            button(pgettext("card button", "Blocked"), "blocked", "danger"),
        ],
    }


def feishu_sign(timestamp: str, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class Feishu(Platform):
    kind = "feishu"
    rate_limits = (RateWindow(5, 1), RateWindow(100, 60))
    max_bytes = 19_000  # the bot refuses bodies over 20 KB (code 9499)
    slow_down_codes = {11232: 60.0}
    secret_used = True

    def escape(self, text: str) -> str:
        return escape(text)

    def mention(self, person: Person) -> str:
        if MENTION_ID.match(person.external_id):
            return f"<at id={person.external_id}></at>"
        return escape(person.name)

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        elements: list[dict[str, Any]] = []
        if message.summary:
            elements.append(_markdown(escape(message.summary)))
        if message.report:
            elements.append(_markdown("\n".join(report_lines(message.report, escape))))
        app_elements = list(elements)
        if items:
            lines = []
            card_ids = [i.milestone_id for i in items if isinstance(i.milestone_id, int)]
            card_ids = card_ids[:CARD_NODES]
            app_elements.append({"tag": "hr"})
            for item in items:
                title = f"#{item.milestone_id} {escape(item.title)}"
                link = f"[{title}]({item.url})" if item.url else title
                facts = item_facts(item, escape, self.mention)
                lines.append(f"**{escape(item.kind_label)}** {link}\n{facts}")
                app_elements.append(_markdown(lines[-1]))
                if item.milestone_id in card_ids and item.kind != "resolved":
                    app_elements.append(node_actions(item.milestone_id, card_ids, message.title))
            if hidden:
                lines.append(more_line(hidden))
                app_elements.append(_markdown(more_line(hidden)))
            elements.append({"tag": "hr"})
            elements.append(_markdown("\n\n".join(lines)))
        if message.url:
            link_button = {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "type": "primary",
                        "text": {"tag": "plain_text", "content": _("Open in Milepost")},
                        "url": message.url,
                    }
                ],
            }
            elements.append(link_button)
            app_elements.append(link_button)
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "template": HEADER_COLOURS.get(message.urgency, "blue"),
                    "title": {"tag": "plain_text", "content": message.title},
                },
                "elements": elements,
            },
            APP_ELEMENTS: app_elements,
        }

    def measure(self, body: dict[str, Any]) -> int:
        custom, app = self._split(body)
        return max(len(encode(custom)), len(encode(app)))

    @staticmethod
    def _split(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the custom bot's body, the app bot's card) of a rendered body."""
        custom = {k: v for k, v in body.items() if k != APP_ELEMENTS}
        card = dict(custom.get("card") or {})
        card["elements"] = body.get(APP_ELEMENTS, card.get("elements", []))
        card["config"] = {**card.get("config", {}), "update_multi": True}
        return custom, card

    def prepare(
        self, *, url: str, body: dict[str, Any], secret: str, idempotency_key: str, now: float
    ) -> OutgoingRequest:
        body, card = self._split(body)
        credentials = app_credentials(secret)
        if credentials is not None:
            return self._prepare_app(url, card, credentials, idempotency_key)
        if secret:
            timestamp = str(int(now))
            body = {**body, "timestamp": timestamp, "sign": feishu_sign(timestamp, secret)}
        return OutgoingRequest(url=url, body=encode(body), headers=json_headers())

    def _prepare_app(
        self, url: str, card: dict[str, Any], credentials: tuple[str, str], key: str
    ) -> OutgoingRequest:
        parts = urlsplit(url)
        receive = dict(parse_qsl(parts.query))
        if not parts.path.endswith(APP_MESSAGES_PATH) or not receive.get("receive_id"):
            raise PermanentDeliveryError(
                _("An app bot channel's URL is …/open-apis/im/v1/messages?receive_id=…")
            )
        try:
            token = feishu_tenant_token(*credentials)
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(str(exc)) from exc
        except FeishuApiError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        body = {
            "receive_id": receive["receive_id"],
            "msg_type": "interactive",
            "content": json.dumps(card, ensure_ascii=False),
            "uuid": key[:50],  # Feishu sends a message with the same uuid only once an hour
        }
        headers = {**json_headers(), "Authorization": f"Bearer {token}"}
        return OutgoingRequest(url=url, body=encode(body), headers=headers)

    def validate_secret(self, secret: str) -> None:
        if secret.startswith(APP_SECRET_PREFIX) and app_credentials(secret) is None:
            raise ValidationError(_("An app bot's secret is its App ID and App Secret: cli_…:…"))

    def body_code(self, text: str) -> tuple[int | None, str]:
        # Current bots answer {"code": 0, "msg": "success"}; older ones {"StatusCode": 0, …}.
        return json_code(text, "code", "StatusCode")


def _markdown(text: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "lark_md", "content": text}}


# Inbound: event subscription and card callbacks ---------------------------------------------
# Feishu encrypts a callback body as {"encrypt": base64(iv + AES-256-CBC(plaintext))}, keyed by
# SHA-256 of the app's Encrypt Key, PKCS#7 padded; with an Encrypt Key set it also signs the
# request: X-Lark-Signature = hex SHA-256 of timestamp + nonce + Encrypt Key + raw body.


def feishu_decrypt(encrypt_key: str, encrypted: str) -> bytes:
    """The plaintext of an `encrypt` field; ValueError when it does not decrypt."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
    if len(data) < 32 or len(data) % 16:
        raise ValueError("bad ciphertext length")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def feishu_event_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


# The app bot's answers: Feishu takes no reply in an event's HTTP response, so a command is
# answered through the Open API, as a reply to the message, with a tenant access token.


class FeishuApiError(Exception):
    pass


def _api(path: str, *, json_body: dict[str, Any], token: str = "") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(trust_env=False, timeout=5.0, follow_redirects=False) as client:
        answer = client.post(
            settings.FEISHU_OPEN_URL.rstrip("/") + path, json=json_body, headers=headers
        )
    try:
        data = answer.json()
    except ValueError:
        data = {}
    if answer.status_code >= 400 or not isinstance(data, dict) or data.get("code") != 0:
        raise FeishuApiError(f"HTTP {answer.status_code}: {answer.text[:200]}")
    return data


def feishu_tenant_token(app_id: str, app_secret: str) -> str:
    """The app's tenant_access_token, cached until shortly before it expires (two hours)."""
    key = "milepost:feishu-token:" + hashlib.sha256(f"{app_id}:{app_secret}".encode()).hexdigest()
    token = cache.get(key)
    if token:
        return token
    data = _api(
        "/open-apis/auth/v3/tenant_access_token/internal",
        json_body={"app_id": app_id, "app_secret": app_secret},
    )
    token = str(data.get("tenant_access_token") or "")
    if not token:
        raise FeishuApiError("no tenant_access_token in the answer")
    cache.set(key, token, max(60, int(data.get("expire") or 7200) - 300))
    return token


def feishu_reply_card(*, app_id: str, app_secret: str, message_id: str, card: dict) -> None:
    token = feishu_tenant_token(app_id, app_secret)
    _api(
        f"/open-apis/im/v1/messages/{quote(message_id, safe='')}/reply",
        json_body={"msg_type": "interactive", "content": json.dumps(card, ensure_ascii=False)},
        token=token,
    )
