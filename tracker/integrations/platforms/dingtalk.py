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
    CHINA_MARKDOWN_MARKUP,
    Item,
    Message,
    OutgoingRequest,
    Person,
    Platform,
    RateWindow,
    encode,
    fullwidth,
    item_facts,
    json_code,
    json_headers,
    mention_target,
    more_line,
    report_lines,
)

# Markdown and the HTML DingTalk renders (<font>, links, emphasis, headings, lists, quotes), and
# @, which reads as a mention.
MARKUP = CHINA_MARKDOWN_MARKUP


def escape(text: str) -> str:
    """`text` as plain text in DingTalk markdown."""
    return fullwidth(text, MARKUP)


def mention_id(person: Person) -> tuple[str, str]:
    """('atUserIds' | 'atMobiles', value) for a mapped person, or ('', '')."""
    kind, value = mention_target(person)
    return {"id": "atUserIds", "mobile": "atMobiles"}.get(kind, ""), value


def mention(person: Person) -> str:
    _field, value = mention_id(person)
    return f"@{value}" if value else escape(person.name)


def dingtalk_sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def markdown_text(message: Message, items: list[Item], hidden: int) -> str:
    """DingTalk markdown: a heading, paragraphs separated by blank lines, and a last line with
    ``DINGTALK_KEYWORD``: a robot secured by keywords drops a message whose text (not its
    button) lacks one."""
    parts = [f"### {escape(message.title)}"]
    if message.summary:
        parts.append(escape(message.summary))
    if message.report:
        parts.extend(report_lines(message.report, escape))
    for item in items:
        title = f"#{item.milestone_id} {escape(item.title)}"
        link = f"[{title}]({item.url})" if item.url else title
        facts = item_facts(item, escape, mention)
        parts.append(f"- **{escape(item.kind_label)}** {link}  \n  {facts}")
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

    def escape(self, text: str) -> str:
        return escape(text)

    def mention(self, person: Person) -> str:
        return mention(person)

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        text = markdown_text(message, items, hidden)
        at: dict[str, list[str]] = {"atUserIds": [], "atMobiles": []}
        for item in items:
            for person in item.people:
                field, value = mention_id(person)
                if field and value not in at[field]:
                    at[field].append(value)
        if any(at.values()):
            if message.url:
                text += f"\n\n[{_('Open in Milepost')}]({message.url})"
            return {
                "msgtype": "markdown",
                "markdown": {"title": message.title, "text": text},
                "at": {**{k: v for k, v in at.items() if v}, "isAtAll": False},
            }
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
