"""Untrusted text (node titles, project and department names, people's names) reaches every
chat as plain text: sent through `deliver_chat` to the loopback platform server, read back from
what the server received, and decoded the way each platform's renderer reads it (written here
independently of the code under test)."""

import base64
import hashlib
import hmac
import html
import json
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from slack_sdk.models.blocks import Block

from tests.factories import MilestoneFactory, UserFactory
from tracker.integrations.delivery import deliver_chat

pytestmark = pytest.mark.django_db

PLATFORMS = ["feishu", "dingtalk", "wecom", "slack", "teams"]
MARKDOWN = {"feishu", "dingtalk", "wecom", "teams"}  # Slack's mrkdwn has no [text](url)
# case → (untrusted text, markup that must not survive, the platforms that would read it)
CASES = {
    "feishu at-all": ("<at id=all></at> Launch", "<at id=all>", set(PLATFORMS)),
    "at all": ("@all please look", "@all", {"dingtalk", "wecom"}),
    "slack channel": ("<!channel> X", "<!channel>", set(PLATFORMS)),
    "slack here": ("Ship <!here> today", "<!here>", set(PLATFORMS)),
    "slack user": ("ask <@U024BE7LH>", "<@U024BE7LH>", set(PLATFORMS)),
    "wecom user": ("ask <@lena>", "<@lena>", set(PLATFORMS)),
    "markdown link": ("[Click me](https://evil.example/x)", "[Click me](", MARKDOWN),
    "html": ('<font color="red">Red</font> <b>bold</b> & co', '<font color="red"', set(PLATFORMS)),
    "entity": ("AT&amp;T &lt;!channel&gt;", "&lt;!channel", {"feishu", "slack"}),
    "emphasis": ("**loud** _quiet_ ~~gone~~ `code`", "**loud**", MARKDOWN),
    "emoji": ("Launch 🚀 ✅ 双十一", None, set()),
    # A heading where the text starts a line (a department name in a report, a TextBlock).
    "heading": ("# Big > quote", re.compile(r"(?m)^\s*(- )?# Big"), MARKDOWN),
    "rtl": ("مرحبا שלום \u202egnp.exe", "\u202e", set(PLATFORMS)),
}


def payload(text: str) -> dict:
    return {
        "event": "alerts",
        "title": f"1 new alert in {text}",
        "summary": "1 overdue",
        "url": "https://milepost.example.com/projects/1/",
        "items": [
            {
                "kind": "overdue",
                "kind_label": "Overdue",
                "milestone_id": 7,
                "title": text,
                "project_id": 1,
                "project": text,
                "department": text,
                "assignee": text,
                "due_at": (timezone.now() - timedelta(days=1)).isoformat(),
                "url": "https://milepost.example.com/nodes/7/",
            }
        ],
    }


def unfullwidth(text: str) -> str:
    return "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in text)


def texts(kind: str, body: dict) -> list[str]:
    """Every piece of text the platform renders as markup, as it sends it."""
    if kind == "feishu":
        card = body["card"]
        return [
            e["text"]["content"] for e in card["elements"] if e.get("tag") == "div"
        ]  # lark_md; the header is plain_text
    if kind == "dingtalk":
        return [(body.get("actionCard") or body.get("markdown"))["text"]]
    if kind == "wecom":
        return [body["markdown"]["content"]]
    if kind == "slack":
        found = [body["text"]]
        for block in body["blocks"]:
            if block["type"] == "section":
                found.append(block["text"]["text"])
        return found
    card = body["attachments"][0]["content"]
    found = []
    for element in card["body"]:
        for block in element.get("items", [element]):
            found.append(block["text"])
    return found


def read(kind: str, text: str) -> str:
    """What a person sees of the escaped text (the platform's decoding of it)."""
    if kind in ("feishu", "slack"):
        return html.unescape(text)
    return unfullwidth(text)


@pytest.mark.parametrize("kind", PLATFORMS)
@pytest.mark.parametrize("case", list(CASES))
def test_untrusted_text_reaches_the_chat_as_plain_text(kind, case, chat_server, make_channel):
    text, markup, readers = CASES[case]
    channel = make_channel(kind)
    deliver_chat(channel=channel, payload=payload(text), idempotency_key=f"{kind}-{case}")
    [request] = chat_server.received(kind)
    body = request.json
    rendered = texts(kind, body)
    joined = "\n".join(rendered)
    if kind in readers and isinstance(markup, re.Pattern):
        assert not markup.search(joined), joined
    elif kind in readers:
        assert markup not in joined
    if kind == "slack":
        # Nothing Slack would read as a control sequence: every <…> is Milepost's own link.
        assert all(
            m.startswith("<https://milepost.example.com/") for m in re.findall("<[^>]*", joined)
        )
        for block in Block.parse_all(body["blocks"]):
            block.validate_json()
    if kind == "feishu":
        assert "<at" not in joined
    # The text itself, as a person reads it, is all there (less any bidi override).
    expected = text.replace("\u202e", "")
    assert expected in read(kind, joined), read(kind, joined)


def test_emoji_and_right_to_left_text_are_left_untouched(chat_server, make_channel):
    deliver_chat(channel=make_channel("wecom"), payload=payload("🚀 مرحبا"), idempotency_key="k")
    [request] = chat_server.received("wecom")
    assert "🚀 مرحبا" in request.json["markdown"]["content"]


@pytest.mark.parametrize(
    "platform, markup", [("feishu", "<at id=all>"), ("dingtalk", "<font"), ("slack", "<!channel>")]
)
def test_a_bridges_markdown_answer_is_escaped_for_its_platform(platform, markup, client, settings):
    """The generic command endpoint answers markdown for the bridge to post: node titles in it
    are escaped the way the named platform needs."""
    key = b"k" * 32
    settings.CHAT_COMMAND_SECRET = "whsec_" + base64.b64encode(key).decode()
    user = UserFactory(email="lena@example.com")
    MilestoneFactory(
        title='<at id=all></at> <!channel> <font color="red">x</font>',
        assignee=user,
        due_at=timezone.now() + timedelta(days=1),
    )
    body = json.dumps({"platform": platform, "email": "lena@example.com", "text": "mine"}).encode()
    timestamp = str(int(time.time()))
    signed = f"m1.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    response = client.post(
        "/integrations/chat/commands",
        body,
        content_type="application/json",
        HTTP_WEBHOOK_ID="m1",
        HTTP_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_WEBHOOK_SIGNATURE=f"v1,{signature}",
    )
    assert response.status_code == 200
    answer = response.json()["markdown"]
    assert "Your open nodes" in answer and markup not in answer
