"""Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is received"):
an Adaptive Card in a message envelope; the opaque URL is the secret. Success is 202.

TextBlock text is markdown (emphasis, lists, links) and `{{DATE(…)}}` functions; there is no
documented escape, so untrusted text has those characters in their full-width forms.

People with a linked Teams account (their Entra object id or user principal name) are
@-mentioned the Adaptive Card way: `<at>Name</at>` in a TextBlock and a matching entity in the
card's `msteams.entities` ({type: mention, text, mentioned: {id, name}}); the name is escaped
like any untrusted text, so a name cannot close the tag. Others are named in plain text."""

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
    fullwidth,
    item_facts,
    more_line,
    report_lines,
)

COLOURS = {
    **dict.fromkeys(ESCALATIONS, "attention"),
    "overdue": "attention",
    "nudge": "attention",
    "due_soon": "warning",
}


MARKUP = "[]*_{}<>`~\\"
# An Entra object id (a GUID), a user principal name, or a Bot Framework id (29:…).
TEAMS_ID = re.compile(r"^[A-Za-z0-9_.\-:@]{1,200}$")


def escape(text: str) -> str:
    """`text` as plain text in an Adaptive Card TextBlock (a leading - or + starts a list)."""
    return fullwidth(text, MARKUP)


def mention_text(person: Person) -> str:
    return f"<at>{escape(person.name)}</at>"


def mention(person: Person) -> str:
    if TEAMS_ID.match(person.external_id):
        return mention_text(person)
    return escape(person.name)


def mention_entities(items: list[Item]) -> list[dict[str, Any]]:
    """One `mention` entity for each linked person the shown items name."""
    entities: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        for person in item.people:
            if TEAMS_ID.match(person.external_id):
                text = mention_text(person)
                entities.setdefault(
                    (text, person.external_id),
                    {
                        "type": "mention",
                        "text": text,
                        "mentioned": {"id": person.external_id, "name": escape(person.name)},
                    },
                )
    return list(entities.values())


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


class Teams(Platform):
    kind = "teams"
    rate_limits = (RateWindow(4, 1),)
    max_bytes = 27_000  # 28 KB per message

    def escape(self, text: str) -> str:
        return escape(text)

    def mention(self, person: Person) -> str:
        return mention(person)

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
                        _text(item_facts(item, escape, mention), isSubtle=True, spacing="none"),
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
        entities = mention_entities(items)
        if entities:
            card["msteams"] = {"entities": entities}
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
