"""Slack incoming webhook: Block Kit with a plain-text fallback; no signature (the URL is the
secret). Slack answers plain strings: `ok`, or an error with a 4xx/5xx status.

mrkdwn (blocks and the fallback `text` alike) gives meaning to `<…>` (`<!channel>`,
`<!here>`, `<@U…>`, links) and entities: untrusted text goes through `escape` (`&amp;`,
`&lt;`, `&gt;`, as Slack documents); linked Slack users are mentioned with `<@U…>`."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from tracker.integrations.platforms.base import (
    ESCALATIONS,
    Item,
    Message,
    Person,
    Platform,
    RateWindow,
    item_facts,
    more_line,
    report_lines,
)

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
EMOJI = {
    **dict.fromkeys(ESCALATIONS, ":rotating_light:"),
    "overdue": ":red_circle:",
    "nudge": ":red_circle:",
    "due_soon": ":hourglass:",
}


SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def escape(text: str) -> str:
    """`text` as plain text in mrkdwn: its three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(person: Person) -> str:
    """`<@U…>` for a linked identity (stored as "team:user"), else the escaped name."""
    user = person.external_id.rpartition(":")[2]
    return f"<@{user}>" if SLACK_USER.match(user) else escape(person.name)


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

    def escape(self, text: str) -> str:
        return escape(text)

    def mention(self, person: Person) -> str:
        return mention(person)

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}}
        ]
        if message.summary:
            blocks.append(_section(escape(message.summary)))
        if message.report:
            blocks.append(_section("\n".join(report_lines(message.report, escape))))
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
            facts = item_facts(item, escape, mention)
            blocks.append(_section(f"{emoji} *{escape(item.kind_label)}* {link}\n{facts}"))
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
        # The fallback is mrkdwn too (notifications, clients without blocks): escaped the same,
        # and it mentions the same people, so they are notified.
        fallback = escape(message.title)
        if message.summary:
            fallback += f": {escape(message.summary)}"
        mentioned = [mention(p) for p in message.people if p.mapped]
        if mentioned:
            fallback += " " + " ".join(m for m in mentioned if m.startswith("<@"))
        return {"text": fallback.rstrip(), "blocks": blocks}
