"""Slack incoming webhook: Block Kit with a plain-text fallback; no signature (the URL is the
secret). Slack answers plain strings: `ok`, or an error with a 4xx/5xx status."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tracker.integrations.platforms.base import (
    Item,
    Message,
    Platform,
    RateWindow,
    item_facts,
    more_line,
    report_lines,
)

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
EMOJI = {"escalation": ":rotating_light:", "overdue": ":red_circle:", "due_soon": ":hourglass:"}


def escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut_mrkdwn(text: str, limit: int = SECTION_LIMIT) -> str:
    """At most `limit` characters, cut where it breaks neither an entity (`&amp;`) nor a link
    or mention (`<url|title>`): what would be split is left out, and "…" marks the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    opening = cut.rfind("<")
    if opening > cut.rfind(">"):
        cut = cut[:opening]
    ampersand = cut.rfind("&")
    if ampersand != -1 and ";" not in cut[ampersand:]:
        cut = cut[:ampersand]
    return cut + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut_mrkdwn(text)}}


class Slack(Platform):
    kind = "slack"
    rate_limits = (RateWindow(1, 1),)
    max_bytes = 38_000

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}}
        ]
        if message.summary:
            blocks.append(_section(escape(message.summary)))
        if message.report:
            blocks.append(
                _section("\n".join(escape(line) for line in report_lines(message.report)))
            )
        # Leave room for the divider, the "more" line and the button.
        room = MAX_BLOCKS - len(blocks) - 3
        shown, overflow = items[:room], items[room:]
        hidden += len(overflow)
        if shown:
            blocks.append({"type": "divider"})
        for item in shown:
            title = escape(f"#{item.milestone_id} {item.title}")
            link = f"<{item.url}|{title}>" if item.url else title
            emoji = EMOJI.get(item.kind, ":white_check_mark:")
            blocks.append(
                _section(f"{emoji} *{escape(item.kind_label)}* {link}\n{escape(item_facts(item))}")
            )
        if hidden:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": escape(more_line(hidden))}],
                }
            )
        if message.url:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": _("Open in Milepost")},
                            "url": message.url,
                        }
                    ],
                }
            )
        fallback = message.title if not message.summary else f"{message.title}: {message.summary}"
        return {"text": fallback, "blocks": blocks}
