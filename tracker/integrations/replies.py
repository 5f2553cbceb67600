"""Command answers and card updates in each platform's own format, untrusted text escaped the
platform's way: Feishu interactive cards (with Done / +1 working day / Blocked buttons on
nodes), DingTalk markdown, WeCom plain text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.integrations.actions import card_reasons
from tracker.integrations.commands import Reply, Row, node_row
from tracker.integrations.platforms import dingtalk, feishu
from tracker.milestones.models import Milestone

CARD_NODES = feishu.CARD_NODES


def _row_markdown(row: Row, escape) -> str:
    text = escape(row.text)
    return f"[{text}]({row.url})" if row.url else text


def _reason_select(node_id: int, card: list[int], heading: str, op: str) -> dict[str, Any]:
    return {
        "tag": "action",
        "actions": [
            {
                "tag": "select_static",
                "placeholder": {"tag": "plain_text", "content": _("Choose a reason code")},
                "value": {"op": op, "node": node_id, "card": card, "h": heading},
                "options": [
                    {"text": {"tag": "plain_text", "content": name}, "value": code}
                    for code, name in card_reasons()
                ],
            }
        ],
    }


def feishu_card(
    reply: Reply, *, note: str = "", ask_reason_for: int | None = None, reason_op: str = "postpone"
) -> dict[str, Any]:
    """An interactive card (JSON 1.0, the app bot's): the heading, the rows in lark_md, and
    on each node row its buttons, or the reason select where a move needs one."""
    card_ids = [row.node_id for row in reply.rows if row.node_id][:CARD_NODES]
    elements: list[dict[str, Any]] = []
    for row in reply.rows:
        elements.append(
            {"tag": "div", "text": {"tag": "lark_md", "content": _row_markdown(row, feishu.escape)}}
        )
        if row.node_id in card_ids:
            if row.node_id == ask_reason_for:
                elements.append(_reason_select(row.node_id, card_ids, reply.heading, reason_op))
            else:
                elements.append(feishu.node_actions(row.node_id, card_ids, reply.heading))
    if note:
        elements.append(
            {"tag": "note", "elements": [{"tag": "lark_md", "content": feishu.escape(note)}]}
        )
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "header": {
            "template": "blue" if reply.ok else "orange",
            "title": {"tag": "plain_text", "content": reply.heading[:100]},
        },
        "elements": elements,
    }


def card_reply(*, user: User, heading: str, node_ids: list[int], now: datetime) -> Reply:
    """The card's nodes as they are now (those `user` still sees), for its update in place."""
    nodes = {
        node.pk: node
        for node in Milestone.objects.visible_to(user, include_archived=True)
        .filter(pk__in=node_ids[:CARD_NODES])
        .with_flags(now)
        .select_related("project", "department", "assignee")
    }
    rows = [node_row(nodes[pk]) for pk in node_ids if pk in nodes]
    return Reply(heading or "Milepost", rows)


def dingtalk_markdown(reply: Reply, *, sender: str = "") -> dict[str, Any]:
    """The answer body of an outgoing robot: markdown, @-mentioning who asked."""
    lines = [f"### {dingtalk.escape(reply.heading)}"]
    lines += [f"- {_row_markdown(row, dingtalk.escape)}" for row in reply.rows]
    body: dict[str, Any] = {
        "msgtype": "markdown",
        "markdown": {"title": reply.heading[:50], "text": "\n".join(lines)},
    }
    if sender:
        body["markdown"]["text"] += f"\n\n@{sender}"
        body["at"] = {"atUserIds": [sender], "isAtAll": False}
    return body


def plain_text(reply: Reply) -> str:
    """WeCom's passive reply is a text message to the one person who asked: plain text."""
    return reply.plain()
