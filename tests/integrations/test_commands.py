"""Chat commands over the real endpoints: Slack's v0 signature and the generic Standard
Webhooks signature, checked on raw bytes; unknown users; `done` obeys the API's permissions and
records history."""

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    BaselinedProjectFactory,
    DepartmentFactory,
    MilestoneFactory,
    ProjectFactory,
    UserFactory,
)
from tracker.integrations.models import ChatIdentity
from tracker.milestones.models import MilestoneChange, MilestoneStatus

pytestmark = pytest.mark.django_db

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
COMMAND_SECRET = "whsec_" + base64.b64encode(b"m" * 32).decode()
SLACK_URL = "/integrations/slack/commands"
CHAT_URL = "/integrations/chat/commands"


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.SLACK_SIGNING_SECRET = SLACK_SECRET
    settings.CHAT_COMMAND_SECRET = COMMAND_SECRET
    settings.SITE_URL = "https://milepost.example.com"


def slack_post(client, text, *, user_id="U123", timestamp=None, secret=SLACK_SECRET, tamper=None):
    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T1",
            "channel_id": "C1",
            "user_id": user_id,
            "user_name": "lena.w",
            "command": "/milepost",
            "text": text,
            "response_url": "https://hooks.slack.com/commands/1/2/3",
            "trigger_id": uuid.uuid4().hex,  # Slack makes every invocation's body unique
        }
    ).encode()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = (
        "v0="
        + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    )
    if tamper is not None:
        body = body.replace(b"text=", b"text=" + tamper)
    return client.post(
        SLACK_URL,
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=timestamp,
        HTTP_X_SLACK_SIGNATURE=signature,
    )


def chat_post(client, data, *, message_id="msg-1", timestamp=None, key=b"m" * 32):
    body = json.dumps(data).encode()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signed = f"{message_id}.{timestamp}.".encode() + body
    signature = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return client.post(
        CHAT_URL,
        body,
        content_type="application/json",
        HTTP_WEBHOOK_ID=message_id,
        HTTP_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_WEBHOOK_SIGNATURE=f"v1,bm90LXRoaXMtb25l {signature}",
    )


@pytest.fixture
def lena():
    user = UserFactory(username="lena", email="Lena@Example.com")
    ChatIdentity.objects.create(
        platform="slack", external_id="T1:U123", user=user, display_name="lena.w"
    )
    return user


@pytest.fixture
def node(lena):
    return MilestoneFactory(
        title="Price approval", assignee=lena, due_at=timezone.now() - timedelta(hours=3)
    )


# Slack ----------------------------------------------------------------------------------------


def test_a_signed_slack_done_marks_the_node_done_with_history(client, node, lena):
    response = slack_post(client, f"done {node.pk}")
    assert response.status_code == 200
    data = response.json()
    assert data["response_type"] == "ephemeral"
    assert f"Marked node #{node.pk} done" in data["text"]
    assert (
        f"<https://milepost.example.com/nodes/{node.pk}/|#{node.pk} Price approval>" in data["text"]
    )
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE and node.completed_at is not None
    change = MilestoneChange.objects.get(milestone=node, field="status")
    assert (change.actor, change.new_value) == (lena, "done")
    assert "Slack" in change.reason


@pytest.mark.parametrize(
    "breakage",
    ["tampered", "expired", "future", "wrong secret", "no signature", "replayed"],
)
def test_bad_slack_signatures_are_refused_and_change_nothing(breakage, client, node):
    if breakage == "tampered":
        response = slack_post(client, f"done {node.pk}", tamper=b"x")
    elif breakage == "expired":
        response = slack_post(client, f"done {node.pk}", timestamp=int(time.time()) - 301)
    elif breakage == "future":
        response = slack_post(client, f"done {node.pk}", timestamp=int(time.time()) + 301)
    elif breakage == "wrong secret":
        response = slack_post(client, f"done {node.pk}", secret="another-secret")
    elif breakage == "no signature":
        response = client.post(
            SLACK_URL, f"text=done+{node.pk}", content_type="application/x-www-form-urlencoded"
        )
    else:
        first = slack_post(client, "mine")
        assert first.status_code == 200
        request = first.wsgi_request
        response = client.post(
            SLACK_URL,
            request.body,
            content_type="application/x-www-form-urlencoded",
            HTTP_X_SLACK_REQUEST_TIMESTAMP=request.headers["X-Slack-Request-Timestamp"],
            HTTP_X_SLACK_SIGNATURE=request.headers["X-Slack-Signature"],
        )
    assert response.status_code == 401
    assert response.json()["ok"] is False
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO
    assert not MilestoneChange.objects.filter(field="status").exists()


def test_slack_commands_are_off_without_a_signing_secret(client, settings, node):
    settings.SLACK_SIGNING_SECRET = ""
    response = slack_post(client, f"done {node.pk}")
    assert response.status_code == 503


def test_an_unknown_slack_user_gets_a_link_and_changes_nothing(client, node):
    response = slack_post(client, f"done {node.pk}", user_id="U999")
    assert response.status_code == 200
    text = response.json()["text"]
    assert "I don't know you yet" in text
    link = text.split("<", 1)[1].split("|", 1)[0]
    assert link.startswith("https://milepost.example.com/integrations/chat/link/?t=")
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO

    # The user follows the link while signed in, confirms, and the next command works.
    newcomer = UserFactory(username="newcomer", is_staff=True)
    client.force_login(newcomer)
    path = urlsplit(link).path + "?" + urlsplit(link).query
    page = client.get(path)
    assert page.status_code == 200 and "lena.w" in page.content.decode()
    token = parse_qs(urlsplit(link).query)["t"][0]
    assert client.post(reverse("integrations:chat_link"), {"t": token}).status_code == 302
    assert ChatIdentity.objects.get(external_id="T1:U999").user == newcomer
    client.logout()
    assert "Marked" in slack_post(client, f"done {node.pk}", user_id="U999").json()["text"]


def test_a_forged_link_token_is_refused(client):
    client.force_login(UserFactory())
    response = client.get(reverse("integrations:chat_link") + "?t=forged:token")
    assert response.status_code == 400
    assert response.context["error"] == "This link is not valid."
    assert not ChatIdentity.objects.exists()


# Command rules --------------------------------------------------------------------------------


def test_done_obeys_the_same_permissions_as_the_api(client, lena):
    other = MilestoneFactory(title="Not yours", assignee=UserFactory())
    response = slack_post(client, f"done {other.pk}")
    assert "You cannot change node" in response.json()["text"]
    other.refresh_from_db()
    assert (
        other.status == MilestoneStatus.TODO and not other.changes.filter(field="status").exists()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("done", "Say which node"),
        ("done abc", "Say which node"),
        ("done 99999999", "There is no node #99999999"),
        ("report 2026-W99", "2026 has no ISO week 99"),
        ("report last-week", "Give the week as YYYY-Www"),
        ("dance", "Unknown command"),
        ("", "Milepost commands"),
        ("help", "done &lt;node id&gt;"),
    ],
)
def test_clear_answers_for_bad_commands(text, expected, client, lena):
    response = slack_post(client, text)
    assert response.status_code == 200
    assert expected in response.json()["text"]


def test_done_twice_says_already_done(client, node):
    slack_post(client, f"done #{node.pk}")
    assert "already done" in slack_post(client, f"done {node.pk}").json()["text"]
    assert MilestoneChange.objects.filter(milestone=node, field="status").count() == 1


def test_overdue_and_mine_list_the_right_nodes(client, lena, node):
    project = ProjectFactory(name="618 Festival")
    late_elsewhere = MilestoneFactory(
        project=project, title="Banner art", due_at=timezone.now() - timedelta(days=2)
    )
    MilestoneFactory(project=project, title="Future", due_at=timezone.now() + timedelta(days=2))
    MilestoneFactory(
        project=project,
        title="Done late",
        status=MilestoneStatus.DONE,
        due_at=timezone.now() - timedelta(days=2),
    )
    mine_later = MilestoneFactory(
        title="My later", assignee=lena, due_at=timezone.now() + timedelta(days=1)
    )

    text = slack_post(client, "overdue").json()["text"]
    assert "Price approval" in text and "Banner art" in text
    assert "Future" not in text and "Done late" not in text

    text = slack_post(client, "overdue 618").json()["text"]
    assert "Banner art" in text and "Price approval" not in text
    assert f"#{late_elsewhere.pk}" in text

    assert "No project matches" in slack_post(client, "overdue Nowhere").json()["text"]

    text = slack_post(client, "mine").json()["text"]
    assert "Price approval" in text and "My later" in text and "Banner art" not in text
    assert text.index("Price approval") < text.index(f"#{mine_later.pk}")
    assert "OVERDUE" in text.split("\n")[1]


def test_report_for_a_week(client, lena):
    department = DepartmentFactory(code="merch", name="Merchandising")
    due = timezone.datetime(2026, 11, 17, 18, 0, tzinfo=timezone.get_current_timezone())
    project = BaselinedProjectFactory()  # only baselined projects count
    MilestoneFactory(
        project=project,
        department=department,
        due_at=due,
        status=MilestoneStatus.DONE,
        completed_at=due,
    )
    MilestoneFactory(project=project, department=department, due_at=due)
    text = slack_post(client, "report 2026-w47").json()["text"]
    assert "Deviation report 2026-W47" in text
    assert "Deviation rate: 50.0%" in text and "Due: 2" in text
    assert "<https://milepost.example.com/reports/weekly/?period=2026-W47|Full report>" in text


# The generic endpoint --------------------------------------------------------------------------


def test_a_bridge_maps_the_user_by_email(client, node, lena):
    response = chat_post(
        client,
        {
            "platform": "feishu",
            "user_id": "ou_1",
            "email": "lena@example.com",
            "text": f"@Milepost done {node.pk}",
        },
    )
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is True and f"Marked node #{node.pk} done" in data["text"]
    assert (
        f"[#{node.pk} Price approval](https://milepost.example.com/nodes/{node.pk}/)"
        in data["markdown"]
    )
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE
    assert "Feishu" in node.changes.get(field="status").reason


def test_a_bridge_with_an_unknown_email_changes_nothing(client, node):
    response = chat_post(
        client,
        {
            "platform": "dingtalk",
            "user_id": "staff-7",
            "email": "who@nowhere.com",
            "text": f"done {node.pk}",
        },
    )
    assert response.status_code == 200
    assert response.json()["ok"] is False and "I don't know you yet" in response.json()["text"]
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


@pytest.mark.parametrize("breakage", ["wrong key", "expired", "replayed", "no id"])
def test_bad_bridge_signatures_are_refused(breakage, client, node):
    data = {"platform": "wecom", "email": "lena@example.com", "text": f"done {node.pk}"}
    if breakage == "wrong key":
        response = chat_post(client, data, key=b"x" * 32)
    elif breakage == "expired":
        response = chat_post(client, data, timestamp=int(time.time()) - 600)
    elif breakage == "no id":
        response = chat_post(client, data, message_id="")
    else:
        assert chat_post(client, {**data, "text": "help"}, message_id="same").status_code == 200
        response = chat_post(client, data, message_id="same")
    assert response.status_code == 401
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"platform": "telegram", "email": "a@b.c", "text": "help"}, "platform"),
        ({"platform": "feishu", "text": "help"}, "user_id"),
        ({"platform": "feishu", "email": 7, "text": "help"}, "email"),
    ],
)
def test_a_malformed_bridge_body_gets_400(data, field, client):
    response = chat_post(client, data)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_replies_follow_the_users_language(client, node, lena):
    lena.language = "zh-hans"
    lena.save(update_fields=["language"])
    text = slack_post(client, "help").json()["text"]
    heading = text.splitlines()[0]
    assert heading != "*Milepost commands*" and re.search(r"[\u4e00-\u9fff]", heading)


def test_list_commands_read_in_constant_queries(client, lena):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    late = timezone.now() - timedelta(hours=2)
    MilestoneFactory.create_batch(16, assignee=lena, due_at=late)
    with CaptureQueriesContext(connection) as few:
        assert "…and 1 more" in slack_post(client, "overdue").json()["text"]
    MilestoneFactory.create_batch(20, assignee=lena, due_at=late)
    with CaptureQueriesContext(connection) as many:
        assert "…and 21 more" in slack_post(client, "mine").json()["text"]
    assert len(many) == len(few)


# The rate of record: a late node of a baselined project needs a reason ------------------------


@pytest.fixture
def late_node(lena):
    return MilestoneFactory(
        project=BaselinedProjectFactory(name="Double 11"),
        title="Stock in warehouse",
        assignee=lena,
        due_at=timezone.now() - timedelta(hours=3),
    )


def test_done_on_a_late_baselined_node_lists_the_reason_codes(client, late_node):
    text = slack_post(client, f"done {late_node.pk}").json()["text"]
    assert f"Node #{late_node.pk} needs a reason" in text
    assert "supplier (Supplier or stock delay)" in text and "other (Other (say why))" in text
    late_node.refresh_from_db()
    assert late_node.status == MilestoneStatus.TODO and not late_node.changes.exists()


@pytest.mark.parametrize("said", ["supplier", "Supplier", "供应商"])
def test_done_with_a_reason_records_it(client, late_node, lena, said):
    text = slack_post(client, f"done {late_node.pk} {said}").json()["text"]
    assert f"Marked node #{late_node.pk} done" in text
    change = MilestoneChange.objects.get(milestone=late_node, field="status")
    assert (change.actor, change.reason_code) == (lena, "supplier")


def test_done_with_an_unknown_reason_changes_nothing(client, late_node):
    text = slack_post(client, f"done {late_node.pk} weather").json()["text"]
    assert "Unknown reason “weather”" in text and "upstream_late" in text
    late_node.refresh_from_db()
    assert late_node.status == MilestoneStatus.TODO


def test_chinese_done_with_a_chinese_reason(client, late_node, lena):
    lena.language = "zh-hans"
    lena.save(update_fields=["language"])
    slack_post(client, f"完成 {late_node.pk} 供应商")
    late_node.refresh_from_db()
    assert late_node.status == MilestoneStatus.DONE
    assert late_node.changes.get(field="status").reason_code == "supplier"
