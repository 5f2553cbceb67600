"""WeCom group robot: markdown (at most 4096 bytes of content); no signature, the `key` in the
URL is the secret."""

from __future__ import annotations

from typing import Any

from tracker.integrations.platforms.base import (
    Item,
    Message,
    Platform,
    RateWindow,
    item_facts,
    json_code,
    md_link_text,
    more_line,
    report_lines,
)

MAX_CONTENT_BYTES = 4096
KIND_COLOURS = {"escalation": "warning", "overdue": "warning", "due_soon": "warning"}


class WeCom(Platform):
    kind = "wecom"
    rate_limits = (RateWindow(20, 60),)
    max_bytes = MAX_CONTENT_BYTES
    slow_down_codes = {45009: 60.0, -1: 60.0}

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        lines = [f"**{message.title}**"]
        if message.summary:
            lines.append(f'<font color="comment">{message.summary}</font>')
        if message.report:
            lines.extend(f"> {line}" for line in report_lines(message.report))
        for item in items:
            colour = KIND_COLOURS.get(item.kind, "info")
            title = f"#{item.milestone_id} {md_link_text(item.title)}"
            link = f"[{title}]({item.url})" if item.url else title
            lines.append(f'<font color="{colour}">{item.kind_label}</font> {link}')
            lines.append(f"> {item_facts(item)}")
        if hidden:
            lines.append(more_line(hidden))
        if message.url:
            lines.append(f"[Milepost]({message.url})")
        content = "\n".join(lines)
        encoded = content.encode()
        if len(encoded) > MAX_CONTENT_BYTES and not items:
            # Nothing left to drop: cut the text itself rather than be refused.
            content = encoded[: MAX_CONTENT_BYTES - 3].decode(errors="ignore") + "…"
        return {"msgtype": "markdown", "markdown": {"content": content}}

    def measure(self, body: dict[str, Any]) -> int:
        return len(body["markdown"]["content"].encode())

    def body_code(self, text: str) -> tuple[int | None, str]:
        return json_code(text, "errcode")
