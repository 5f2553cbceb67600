"""DingTalk custom robot: an actionCard (markdown when there is no link); signed by adding
`timestamp` (milliseconds) and `sign` = base64(HMAC-SHA256 keyed by the secret over
"timestamp\\nsecret") to the query string. Not Feishu's scheme: key and message are swapped."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tracker.integrations.platforms.base import (
    Item,
    Message,
    OutgoingRequest,
    Platform,
    RateWindow,
    encode,
    item_facts,
    json_code,
    json_headers,
    md_link_text,
    more_line,
    report_lines,
)


def dingtalk_sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def markdown_text(message: Message, items: list[Item], hidden: int) -> str:
    """DingTalk markdown: a heading, paragraphs separated by blank lines, and a last line with
    ``DINGTALK_KEYWORD``: a robot secured by keywords drops a message whose text (not its
    button) lacks one."""
    parts = [f"### {message.title}"]
    if message.summary:
        parts.append(message.summary)
    if message.report:
        parts.extend(report_lines(message.report))
    for item in items:
        title = f"#{item.milestone_id} {md_link_text(item.title)}"
        link = f"[{title}]({item.url})" if item.url else title
        parts.append(f"- **{item.kind_label}** {link}  \n  {item_facts(item)}")
    if hidden:
        parts.append(more_line(hidden))
    parts.append(f"— {settings.DINGTALK_KEYWORD}")
    return "\n\n".join(parts)


class DingTalk(Platform):
    kind = "dingtalk"
    rate_limits = (RateWindow(20, 60),)  # over 20 a minute throttles the robot for 10 minutes
    max_bytes = 19_000
    slow_down_codes = {
        130101: 600.0,  # send too fast, exceed 20 times per minute
        410100: 600.0,  # robot throttled
        90030: 3600.0,  # webhook over limit (quota)
        -1: 60.0,  # system busy
    }
    secret_used = True

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        text = markdown_text(message, items, hidden)
        if message.url:
            return {
                "msgtype": "actionCard",
                "actionCard": {
                    "title": message.title,
                    "text": text,
                    "singleTitle": _("Open in Milepost"),
                    "singleURL": message.url,
                },
            }
        return {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}}

    def prepare(
        self, *, url: str, body: dict[str, Any], secret: str, idempotency_key: str, now: float
    ) -> OutgoingRequest:
        if secret:
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query) if k not in {"timestamp", "sign"}]
            timestamp = str(int(now * 1000))
            query += [("timestamp", timestamp), ("sign", dingtalk_sign(timestamp, secret))]
            url = urlunsplit(parts._replace(query=urlencode(query)))
        return OutgoingRequest(url=url, body=encode(body), headers=json_headers())

    def validate_secret(self, secret: str) -> None:
        if secret and not secret.startswith("SEC"):
            raise ValidationError(
                _("A DingTalk signing secret starts with SEC (see the robot's security settings).")
            )

    def body_code(self, text: str) -> tuple[int | None, str]:
        return json_code(text, "errcode")
