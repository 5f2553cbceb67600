"""deliver_chat against a real loopback server playing each platform: native formats, the
platform's own signature check, and how answers become success or transient/permanent errors."""

import json
import re
import socket
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.integrations.conftest import PATHS
from tracker.core.delivery import (
    DestinationGoneError,
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
)
from tracker.integrations.delivery import deliver_chat, retry_after
from tracker.integrations.models import SendWindow

pytestmark = pytest.mark.django_db


def alerts_payload(count: int = 2, title: str = "2 new alerts in Double 11") -> dict:
    due = (timezone.now() - timedelta(days=1)).isoformat()
    return {
        "event": "alerts",
        "title": title,
        "summary": f"{count} overdue",
        "url": "https://milepost.example.com/projects/1/",
        "items": [
            {
                "kind": "overdue",
                "kind_label": "Overdue",
                "milestone_id": 100 + n,
                "title": f"Price approval {n} [final]",
                "project_id": 1,
                "project": "Double 11",
                "department": "Merchandising",
                "assignee": "lena",
                "due_at": due,
                "url": f"https://milepost.example.com/nodes/{100 + n}/",
            }
            for n in range(count)
        ],
    }


def path_of(kind: str) -> str:
    return PATHS[kind].split("?")[0]


# Formats and signatures, as each platform checks them ----------------------------------------


@pytest.mark.parametrize("kind", ["feishu", "dingtalk", "wecom", "slack", "teams", "webhook"])
def test_each_platform_gets_its_native_signed_message(kind, chat_server, make_channel):
    channel = make_channel(kind)
    answer = deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="key-1")

    [request] = chat_server.received(kind)
    assert request.verified in (True, None), request.problem
    if kind in ("feishu", "dingtalk", "webhook"):
        assert request.verified is True
    body = request.json
    text = json.dumps(body, ensure_ascii=False)
    assert "Price approval 0" in text and "https://milepost.example.com/nodes/101/" in text
    assert answer.startswith("HTTP 20")
    if kind == "feishu":
        assert body["msg_type"] == "interactive"
        assert body["card"]["header"]["template"] == "red"
        assert body["card"]["header"]["title"]["content"] == "2 new alerts in Double 11"
    elif kind == "dingtalk":
        assert body["msgtype"] == "actionCard"
        assert body["actionCard"]["singleURL"] == "https://milepost.example.com/projects/1/"
        assert request.query["access_token"] == "abc123"
    elif kind == "wecom":
        assert body["msgtype"] == "markdown"
        assert '<font color="warning">Overdue</font>' in body["markdown"]["content"]
    elif kind == "slack":
        assert body["text"] == "2 new alerts in Double 11: 2 overdue"
        assert body["blocks"][0]["type"] == "header"
        assert any(
            "<https://milepost.example.com/nodes/100/|" in json.dumps(b) for b in body["blocks"]
        )
    elif kind == "teams":
        card = body["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard"
        assert card["actions"][0]["url"] == "https://milepost.example.com/projects/1/"
        assert answer == "HTTP 202"
    elif kind == "webhook":
        assert request.headers["webhook-id"] == "key-1"
        assert body["type"] == "milestone.alerts"
        assert body["data"]["items"][1]["milestone_id"] == 101
        assert body["data"]["items"][1]["url"] == "https://milepost.example.com/nodes/101/"


@pytest.mark.parametrize("kind", ["feishu", "dingtalk", "webhook"])
def test_a_wrong_secret_fails_the_platforms_check_and_is_permanent(kind, chat_server, make_channel):
    channel = make_channel(kind)
    channel.secret = "SECnot-the-right-one" if kind == "dingtalk" else "nope"
    if kind == "webhook":
        channel.secret = "whsec_" + "A" * 44
    with pytest.raises(PermanentDeliveryError) as error:
        deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")
    [request] = chat_server.received(kind)
    assert request.verified is False
    assert {"feishu": "19021", "dingtalk": "310000", "webhook": "HTTP 401"}[kind] in str(
        error.value
    )


def test_signatures_are_computed_at_send_time_so_a_late_retry_still_verifies(
    chat_server, make_channel
):
    channel = make_channel("dingtalk")
    with time_machine.travel(timezone.now() + timedelta(hours=5), tick=True):
        deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")
    [request] = chat_server.received()
    assert request.verified is True
    assert abs(int(request.query["timestamp"]) / 1000 - time.time() - 5 * 3600) < 60


def test_the_webhook_id_is_stable_across_retries_and_timestamps_are_fresh(
    chat_server, make_channel
):
    channel = make_channel("webhook")
    chat_server.answer(path_of("webhook"), 503, "busy")
    with pytest.raises(TransientDeliveryError):
        deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="out-7")
    deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="out-7")
    first, second = chat_server.received()
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "out-7"
    assert second.verified is True


def test_a_long_list_is_cut_to_fit_wecoms_4096_bytes(chat_server, make_channel):
    channel = make_channel("wecom")
    payload = alerts_payload(count=80)
    deliver_chat(channel=channel, payload=payload, idempotency_key="k")
    [request] = chat_server.received()
    content = request.json["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert "more" in content.splitlines()[-2]


def test_slack_never_gets_more_than_50_blocks(chat_server, make_channel):
    channel = make_channel("slack")
    deliver_chat(channel=channel, payload=alerts_payload(count=80), idempotency_key="k")
    [request] = chat_server.received()
    assert len(request.json["blocks"]) <= 50


def test_messages_are_written_in_the_channels_language(chat_server, make_channel):
    channel = make_channel("feishu", language="zh-hans")
    deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")
    [request] = chat_server.received()
    button = request.json["card"]["elements"][-1]["actions"][0]["text"]["content"]
    assert button != "Open in Milepost" and re.search(r"[\u4e00-\u9fff]", button)


def test_a_report_payload_shows_its_headline(chat_server, make_channel):
    channel = make_channel("slack")
    payload = {
        "event": "weekly_report",
        "title": "Weekly report 2026-W47",
        "url": "https://milepost.example.com/reports/weekly/?week=2026-W47",
        "items": [],
        "report": {
            "deviation_rate": 0.125,
            "threshold": "0.1000",
            "breached": True,
            "due_count": 8,
            "on_time_count": 7,
            "deviated_count": 1,
            "by_department": [
                {"code": "merch", "name": "Merchandising", "deviation_rate": 0.5, "due_count": 2}
            ],
        },
    }
    deliver_chat(channel=channel, payload=payload, idempotency_key="k")
    text = json.dumps(chat_server.received()[0].json)
    assert "12.5%" in text and "10.0%" in text and "Merchandising: 50.0% of 2" in text


# Answers: success, transient, permanent --------------------------------------------------------

ERROR_CASES = [
    # kind, scripted status, body, headers, expected error, retry_after
    ("slack", 429, "rate_limited", {"Retry-After": "7"}, TransientDeliveryError, 7),
    ("slack", 500, "rollup_error", {}, TransientDeliveryError, None),
    (
        "teams",
        503,
        "",
        {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"},
        TransientDeliveryError,
        86400,
    ),
    ("slack", 404, "channel_not_found", {}, PermanentDeliveryError, None),
    ("slack", 410, "channel_is_archived", {}, DestinationGoneError, None),
    ("teams", 400, "Bad Request", {}, PermanentDeliveryError, None),
    ("webhook", 302, "", {"Location": "http://169.254.169.254/"}, PermanentDeliveryError, None),
    ("feishu", 200, '{"code": 11232, "msg": "frequency limited"}', {}, TransientDeliveryError, 60),
    (
        "feishu",
        200,
        '{"code": 19024, "msg": "Key Words Not Found"}',
        {},
        PermanentDeliveryError,
        None,
    ),
    ("feishu", 400, '{"code": 11232, "msg": "frequency limited"}', {}, TransientDeliveryError, 60),
    (
        "dingtalk",
        200,
        '{"errcode": 130101, "errmsg": "send too fast"}',
        {},
        TransientDeliveryError,
        600,
    ),
    (
        "dingtalk",
        200,
        '{"errcode": 310000, "errmsg": "keywords not in content"}',
        {},
        PermanentDeliveryError,
        None,
    ),
    (
        "dingtalk",
        200,
        '{"errcode": 300001, "errmsg": "token is not exist"}',
        {},
        PermanentDeliveryError,
        None,
    ),
    (
        "wecom",
        200,
        '{"errcode": 45009, "errmsg": "api freq out of limit"}',
        {},
        TransientDeliveryError,
        60,
    ),
    (
        "wecom",
        200,
        '{"errcode": 93000, "errmsg": "invalid webhook url"}',
        {},
        PermanentDeliveryError,
        None,
    ),
]


@pytest.mark.parametrize(("kind", "status", "body", "headers", "error", "wait"), ERROR_CASES)
def test_answers_are_sorted_into_transient_and_permanent(
    kind, status, body, headers, error, wait, chat_server, make_channel
):
    channel = make_channel(kind)
    chat_server.answer(path_of(kind), status, body, headers=headers)
    with pytest.raises(error) as raised:
        deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")
    assert type(raised.value) is error  # not a rate limit, nor a gone address, unless said
    if error is TransientDeliveryError:
        if wait is None:
            assert raised.value.retry_after is None
        else:
            assert raised.value.retry_after == pytest.approx(wait, abs=1)
    assert len(chat_server.received()) == 1  # redirects are not followed


def test_success_returns_the_platforms_answer(chat_server, make_channel):
    channel = make_channel("dingtalk")
    answer = deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")
    assert answer == 'HTTP 200: {"errcode": 0, "errmsg": "ok"}'


def test_a_timeout_is_transient(chat_server, make_channel, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    channel = make_channel("slack")
    chat_server.answer(path_of("slack"), 200, "ok", delay=1.0)
    with pytest.raises(TransientDeliveryError, match="Timed out"):
        deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")


def test_a_refused_connection_is_transient(chat_server, make_channel):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = make_channel("slack")
    channel.url = f"http://127.0.0.1:{port}/slack/services/x"
    with pytest.raises(TransientDeliveryError, match="Connection failed"):
        deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120), ("0", 0), ("-5", 0), ("soon", None), (None, None), ("99999999", 86400)],
)
def test_retry_after_parsing(header, expected):
    assert retry_after(header) == expected


# Our own rate limit: queue, never drop ----------------------------------------------------------


@pytest.mark.parametrize("backend", ["redis", "database"])
@pytest.mark.parametrize("kind", ["dingtalk", "wecom"])
def test_twenty_messages_a_minute_then_wait(kind, backend, chat_server, make_channel, settings):
    if backend == "database":
        settings.REDIS_URL = ""
    channel = make_channel(kind)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(20):
            deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key=f"k{n}")
        with pytest.raises(RateLimitedError) as raised:
            deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key="k20")
    assert 0 < raised.value.retry_after <= 60
    assert len(chat_server.received()) == 20  # the 21st was held back, not sent
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key="k20")
    assert len(chat_server.received()) == 21
    assert SendWindow.objects.exists() is (backend == "database")


def test_the_window_slides_rather_than_resetting_each_minute(chat_server, make_channel):
    channel = make_channel("dingtalk")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(10):
            deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key=f"a{n}")
    with time_machine.travel(start + timedelta(seconds=40), tick=False):
        for n in range(10):
            deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key=f"b{n}")
        with pytest.raises(RateLimitedError) as raised:
            deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key="c")
    # The oldest of the 20 leaves the window 60 s after it was sent: 20 s from now.
    assert raised.value.retry_after == 20
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        for n in range(10):
            deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key=f"d{n}")
        with pytest.raises(RateLimitedError):
            deliver_chat(channel=channel, payload=alerts_payload(1), idempotency_key="e")
    assert len(chat_server.received()) == 30


# Keywords and cuts --------------------------------------------------------------------------


def test_a_dingtalk_robot_secured_by_a_keyword_finds_it_in_the_text(chat_server, make_channel):
    channel = make_channel("dingtalk", secret=None)
    for payload in (alerts_payload(), {**alerts_payload(), "url": ""}):  # actionCard, markdown
        chat_server.reset()
        deliver_chat(channel=channel, payload=payload, idempotency_key="k")
        [request] = chat_server.received()
        body = request.json[request.json["msgtype"]]
        assert body["text"].endswith("— Milepost") and request.problem == ""


def test_the_dingtalk_keyword_is_configurable(chat_server, make_channel, settings):
    settings.DINGTALK_KEYWORD = "里程碑"
    channel = make_channel("dingtalk", secret=None)
    with pytest.raises(PermanentDeliveryError, match="keywords not in content"):
        deliver_chat(channel=channel, payload=alerts_payload(), idempotency_key="k")
    assert "— 里程碑" in chat_server.received()[0].json["actionCard"]["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 2995 + " R&amp;D team", "a" * 2995 + " R…"),
        ("a" * 2980 + " <https://x.example/nodes/7/|Node 7>", "a" * 2980 + " …"),
        (
            "a" * 2000 + " &lt;ok&gt; " + "b" * 990,
            ("a" * 2000 + " &lt;ok&gt; " + "b" * 990)[:2999] + "…",
        ),
        ("short &amp; <https://x.example|link>", "short &amp; <https://x.example|link>"),
    ],
    ids=["entity", "link", "whole-entities", "short"],
)
def test_slack_cuts_a_long_section_on_a_safe_boundary(text, expected):
    from tracker.integrations.platforms.slack import cut_mrkdwn

    assert cut_mrkdwn(text) == expected and len(cut_mrkdwn(text)) <= 3000


def test_a_long_slack_summary_keeps_its_entities_whole(chat_server, make_channel):
    channel = make_channel("slack")
    summary = "R&D <ok> " * 400  # 3,600 characters, each & and < escaped
    deliver_chat(
        channel=channel, payload={**alerts_payload(), "summary": summary}, idempotency_key="k"
    )
    [request] = chat_server.received()
    text = request.json["blocks"][1]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("…")
    assert re.fullmatch(r"(?:[^&<>]|&amp;|&lt;|&gt;)*…", text)


def test_wecoms_last_resort_cut_closes_its_tags_and_keeps_the_link(chat_server, make_channel):
    channel = make_channel("wecom")
    payload = {**alerts_payload(count=0), "summary": "供应商延期，" * 1000, "items": []}
    deliver_chat(channel=channel, payload=payload, idempotency_key="k")
    [request] = chat_server.received()
    content = request.json["markdown"]["content"]
    assert len(content.encode()) <= 4096 and request.problem == ""
    assert content.endswith("…\n[Milepost](https://milepost.example.com/projects/1/)")
    assert content.count("<font") == content.count("</font>") == 1


def test_wecom_leaves_out_a_link_it_would_cut():
    from tracker.integrations.platforms.wecom import cut_line

    line = '<font color="warning">Overdue</font> [#7 Price approval](https://x.example/nodes/7/)'
    assert cut_line(line, 60) == '<font color="warning">Overdue</font> '
    assert cut_line('<font color="comment">' + "x" * 100 + "</font>", 40).endswith("x</font>")
    assert cut_line('<font color="comment">', 10) == ""
