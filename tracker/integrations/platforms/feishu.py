"""Feishu / Lark custom bot: an interactive card; signed with HMAC-SHA256 keyed by
"timestamp\\nsecret" over an empty message, timestamp (seconds) and sign in the JSON body.

Card text is `lark_md`: untrusted text goes through `escape` (HTML character references, the
escape Feishu documents for card markdown), so `<at id=all></at>` or a link in a title shows as
typed; mapped people are mentioned with `<at id=open_id></at>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from django.utils.translation import gettext as _

from tracker.integrations.platforms.base import (
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
    "escalation": "red",
    "overdue": "red",
    "due_soon": "orange",
    "resolved": "green",
}


# Characters lark_md gives meaning to: markup (<at>, <font>, links, emphasis, headings, code,
# lists, quotes) and `&`, so an entity typed in a title is not decoded either.
LARK_MD_SPECIAL = "&<>*_~`[]()#\\+-"


def escape(text: str) -> str:
    """`text` as plain text in lark_md: every special character as `&#N;`."""
    return "".join(f"&#{ord(c)};" if c in LARK_MD_SPECIAL else c for c in text)


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
        if items:
            lines = []
            for item in items:
                title = f"#{item.milestone_id} {escape(item.title)}"
                link = f"[{title}]({item.url})" if item.url else title
                facts = item_facts(item, escape, self.mention)
                lines.append(f"**{escape(item.kind_label)}** {link}\n{facts}")
            if hidden:
                lines.append(more_line(hidden))
            elements.append({"tag": "hr"})
            elements.append(_markdown("\n\n".join(lines)))
        if message.url:
            elements.append(
                {
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
            )
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
        }

    def prepare(
        self, *, url: str, body: dict[str, Any], secret: str, idempotency_key: str, now: float
    ) -> OutgoingRequest:
        if secret:
            timestamp = str(int(now))
            body = {**body, "timestamp": timestamp, "sign": feishu_sign(timestamp, secret)}
        return OutgoingRequest(url=url, body=encode(body), headers=json_headers())

    def body_code(self, text: str) -> tuple[int | None, str]:
        # Current bots answer {"code": 0, "msg": "success"}; older ones {"StatusCode": 0, …}.
        return json_code(text, "code", "StatusCode")


def _markdown(text: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "lark_md", "content": text}}
