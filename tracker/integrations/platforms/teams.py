"""Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is received"):
an Adaptive Card in a message envelope; the opaque URL is the secret. Success is 202.

TextBlock text is markdown (emphasis, lists, links) and `{{DATE(…)}}` functions; there is no
documented escape, so untrusted text has those characters in their full-width forms."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tracker.integrations.platforms.base import (
    Item,
    Message,
    Platform,
    RateWindow,
    fullwidth,
    item_facts,
    more_line,
    report_lines,
)

COLOURS = {"escalation": "attention", "overdue": "attention", "due_soon": "warning"}


MARKUP = "[]*_{}<>`~\\"


def escape(text: str) -> str:
    """`text` as plain text in an Adaptive Card TextBlock (a leading - or + starts a list)."""
    return fullwidth(text, MARKUP)


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


class Teams(Platform):
    kind = "teams"
    rate_limits = (RateWindow(4, 1),)
    max_bytes = 27_000  # 28 KB per message

    def escape(self, text: str) -> str:
        return escape(text)

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        body: list[dict[str, Any]] = [
            _text(escape(message.title), weight="bolder", size="medium"),
        ]
        if message.summary:
            body.append(_text(escape(message.summary), isSubtle=True, spacing="none"))
        if message.report:
            body.append(_text("\n\n".join(report_lines(message.report, escape))))
        for item in items:
            title = f"#{item.milestone_id} {escape(item.title)}"
            link = f"[{title}]({item.url})" if item.url else title
            body.append(
                {
                    "type": "Container",
                    "separator": True,
                    "items": [
                        _text(
                            f"**{escape(item.kind_label)}** {link}",
                            color=COLOURS.get(item.kind, "default"),
                        ),
                        _text(item_facts(item, escape), isSubtle=True, spacing="none"),
                    ],
                }
            )
        if hidden:
            body.append(_text(more_line(hidden), isSubtle=True))
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        if message.url:
            card["actions"] = [
                {"type": "Action.OpenUrl", "title": _("Open in Milepost"), "url": message.url}
            ]
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
