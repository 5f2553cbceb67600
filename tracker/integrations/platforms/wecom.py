"""WeCom group robot: markdown (at most 4096 bytes of content); no signature, the `key` in the
URL is the secret.

WeCom documents no escape for its markdown (`<font>`, links, `<@userid>`), so untrusted text
has its markup characters, and @, in their full-width forms (`escape`). Mapped people are
mentioned with `<@userid>`, the mention markdown messages support (`mentioned_list` and
`mentioned_mobile_list` belong to text messages only).

A person Milepost knows only by mobile number (no usable userid) cannot be mentioned in
markdown: a message that names one is sent instead as one `text` message (at most 2048 bytes of
plain content) whose `mentioned_list` and `mentioned_mobile_list` mention everyone mapped. One
request, so one outbox delivery stays one message, retried as a whole."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tracker.integrations.platforms.base import (
    CHINA_MARKDOWN_MARKUP,
    ESCALATIONS,
    Item,
    Message,
    Person,
    Platform,
    RateWindow,
    fullwidth,
    item_facts,
    json_code,
    mention_target,
    more_line,
    report_lines,
)

MAX_CONTENT_BYTES = 4096
MAX_TEXT_BYTES = 2048
KIND_COLOURS = {
    **dict.fromkeys(ESCALATIONS, "warning"),
    "overdue": "warning",
    "nudge": "warning",
    "due_soon": "warning",
}
FONT_OPEN, FONT_CLOSE = "<font", "</font>"
MARKUP = CHINA_MARKDOWN_MARKUP


def escape(text: str) -> str:
    """`text` as plain text in WeCom markdown."""
    return fullwidth(text, MARKUP)


def mention_id(person: Person) -> tuple[str, str]:
    """('mentioned_list' | 'mentioned_mobile_list', value) for a mapped person, or ('', '')."""
    kind, value = mention_target(person)
    return {"id": "mentioned_list", "mobile": "mentioned_mobile_list"}.get(kind, ""), value


def mention(person: Person) -> str:
    field, value = mention_id(person)
    if field == "mentioned_list":
        return f"<@{value}>"
    return escape(person.name)


def mention_lists(items: list[Item]) -> dict[str, list[str]]:
    """The userids and mobile numbers of the people the shown items name, each once."""
    lists: dict[str, list[str]] = {"mentioned_list": [], "mentioned_mobile_list": []}
    for item in items:
        for person in item.people:
            field, value = mention_id(person)
            if field and value not in lists[field]:
                lists[field].append(value)
    return lists


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
        lists = mention_lists(items)
        if lists["mentioned_mobile_list"]:
            return self.render_text(message, items, hidden, lists)
        return self.render_markdown(message, items, hidden)

    def render_text(
        self, message: Message, items: list[Item], hidden: int, lists: dict[str, list[str]]
    ) -> dict[str, Any]:
        """Plain text (WeCom reads `<@userid>` there too, so untrusted text is escaped the
        same way); the people are mentioned by the lists, named in the text."""
        lines = [escape(message.title)]
        if message.summary:
            lines.append(escape(message.summary))
        if message.report:
            lines.extend(report_lines(message.report, escape))
        for item in items:
            lines.append(f"[{escape(item.kind_label)}] #{item.milestone_id} {escape(item.title)}")
            lines.append(f"  {item_facts(item, escape)}")
            if item.url:
                lines.append(f"  {item.url}")
        if hidden:
            lines.append(more_line(hidden))
        link = f"Milepost: {message.url}" if message.url else ""
        content = "\n".join([*lines, link] if link else lines)
        if _size(content) > MAX_TEXT_BYTES and not items:
            content = cut_content(lines, link, MAX_TEXT_BYTES)
        return {"msgtype": "text", "text": {"content": content, **lists}}

    def render_markdown(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
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
        if body["msgtype"] == "text":
            # Measured against the markdown limit: a text message may carry half as much.
            return _size(body["text"]["content"]) + MAX_CONTENT_BYTES - MAX_TEXT_BYTES
        return _size(body["markdown"]["content"])

    def body_code(self, text: str) -> tuple[int | None, str]:
        return json_code(text, "errcode")


# Inbound: a self-built app's callback ---------------------------------------------------------
# WeCom signs with msg_signature = hex SHA-1 of the sorted, concatenated token, timestamp, nonce
# and the encrypted message, and encrypts with AES-256-CBC keyed by base64(EncodingAESKey + "="),
# IV its first 16 bytes, PKCS#7 padded to 32 bytes; the plaintext is 16 random bytes, the
# message's length (4 bytes, network order), the message, and the receiver id (the CorpID).

BLOCK = 32


def wecom_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def aes_key_bytes(aes_key: str) -> bytes:
    """The AES key of an EncodingAESKey; ValueError when it is not one."""
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 characters")
    return key


def wecom_decrypt(aes_key: str, encrypted: str, receiver_id: str) -> str:
    """The message inside `encrypted`; ValueError when it does not decrypt or is addressed to
    another receiver."""
    key = aes_key_bytes(aes_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
    if not data or len(data) % 16:
        raise ValueError("bad ciphertext length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise ValueError("too short")
    (length,) = struct.unpack(">I", plain[16:20])
    message, receiver = plain[20 : 20 + length], plain[20 + length :]
    if len(message) != length:
        raise ValueError("bad length")
    if receiver_id and not hmac.compare_digest(receiver, receiver_id.encode()):
        raise ValueError("addressed to another receiver")
    return message.decode()


def wecom_encrypt(aes_key: str, message: str, receiver_id: str) -> str:
    key = aes_key_bytes(aes_key)
    body = message.encode()
    plain = secrets.token_bytes(16) + struct.pack(">I", len(body)) + body + receiver_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
