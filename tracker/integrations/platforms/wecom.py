"""WeCom group robot: markdown (at most 4096 bytes of content); no signature, the `key` in the
URL is the secret.

WeCom documents no escape for its markdown (`<font>`, links, `<@userid>`), so untrusted text
has its markup characters, and @, in their full-width forms (`escape`). Mapped people are
mentioned with `<@userid>`, the mention markdown messages support (`mentioned_list` and
`mentioned_mobile_list` belong to text messages only)."""

from __future__ import annotations

from typing import Any

from tracker.integrations.platforms.base import (
    MENTION_ID,
    Item,
    Message,
    Person,
    Platform,
    RateWindow,
    fullwidth,
    item_facts,
    json_code,
    more_line,
    report_lines,
)

MAX_CONTENT_BYTES = 4096
KIND_COLOURS = {"escalation": "warning", "overdue": "warning", "due_soon": "warning"}
FONT_OPEN, FONT_CLOSE = "<font", "</font>"
MARKUP = "<>[]*_~`#@\\"


def escape(text: str) -> str:
    """`text` as plain text in WeCom markdown."""
    return fullwidth(text, MARKUP)


def mention(person: Person) -> str:
    if MENTION_ID.match(person.external_id):
        return f"<@{person.external_id}>"
    return escape(person.name)


def _size(text: str) -> int:
    return len(text.encode())


def cut_line(line: str, budget: int) -> str:
    """The start of one markdown line in at most `budget` bytes, cut where it leaves no tag
    or link broken: a `<font>` left open is closed, a half link or tag is left out."""
    closing = FONT_CLOSE if FONT_OPEN in line else ""
    cut = line.encode()[: max(0, budget - _size(closing))].decode(errors="ignore")
    for opener, closer in (("<", ">"), ("[", ")")):
        start = cut.rfind(opener)
        if start > cut.rfind(closer):
            cut = cut[:start]
    if cut.count(FONT_OPEN) > cut.count(FONT_CLOSE):
        cut += FONT_CLOSE
    return cut if cut.replace(FONT_CLOSE, "").strip() else ""


def cut_content(lines: list[str], link: str, limit: int = MAX_CONTENT_BYTES) -> str:
    """Whole lines while they fit, then the part of the next one that does, "…" and the link
    to Milepost, which is always kept."""
    tail = ["…", link] if link else ["…"]
    budget = limit - _size("\n".join(tail)) - 1
    kept: list[str] = []
    for line in lines:
        size = _size(line) + (1 if kept else 0)
        if size > budget:
            partial = cut_line(line, budget - (1 if kept else 0))
            if partial:
                kept.append(partial)
            break
        kept.append(line)
        budget -= size
    return "\n".join([*kept, *tail])


class WeCom(Platform):
    kind = "wecom"
    rate_limits = (RateWindow(20, 60),)
    max_bytes = MAX_CONTENT_BYTES
    slow_down_codes = {45009: 60.0, -1: 60.0}

    def escape(self, text: str) -> str:
        return escape(text)

    def mention(self, person: Person) -> str:
        return mention(person)

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        lines = [f"**{escape(message.title)}**"]
        if message.summary:
            lines.append(f'<font color="comment">{escape(message.summary)}</font>')
        if message.report:
            lines.extend(f"> {line}" for line in report_lines(message.report, escape))
        for item in items:
            colour = KIND_COLOURS.get(item.kind, "info")
            title = f"#{item.milestone_id} {escape(item.title)}"
            link = f"[{title}]({item.url})" if item.url else title
            lines.append(f'<font color="{colour}">{escape(item.kind_label)}</font> {link}')
            lines.append(f"> {item_facts(item, escape, mention)}")
        if hidden:
            lines.append(more_line(hidden))
        link = f"[Milepost]({message.url})" if message.url else ""
        content = "\n".join([*lines, link] if link else lines)
        if _size(content) > MAX_CONTENT_BYTES and not items:
            # Nothing left to drop: cut the text itself rather than be refused.
            content = cut_content(lines, link)
        return {"msgtype": "markdown", "markdown": {"content": content}}

    def measure(self, body: dict[str, Any]) -> int:
        return len(body["markdown"]["content"].encode())

    def body_code(self, text: str) -> tuple[int | None, str]:
        return json_code(text, "errcode")
