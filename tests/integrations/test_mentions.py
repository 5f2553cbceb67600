"""Alert messages @-mention the responsible people Milepost can map to the platform (a linked
chat identity), each the platform's documented way, and name the others in plain text. The
payloads are read from what the loopback platform server received."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from slack_sdk.models.blocks import Block

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.integrations.delivery import deliver_chat
from tracker.integrations.models import ChatIdentity
from tracker.integrations.platforms import Message, get_platform
from tracker.integrations.platforms.base import Person

pytestmark = pytest.mark.django_db

IDS = {
    "feishu": "ou_7d8a6e6df7621556ce0d21922b676706",
    "dingtalk": "manager4220",
    "wecom": "LenaWang",
    "slack": "T024BE7LD:U024BE7LH",
    "teams": "8f0b6e2a-44a1-4c7e-9d2b-3c1f5a7e6d10",
}


@pytest.fixture
def nodes():
    lena = UserFactory(username="lena")
    bo = UserFactory(username="bo", first_name="Bo", last_name="Chen")  # no chat identity
    lead = UserFactory(username="mei")
    department = DepartmentFactory(lead=lead)
    project = ProjectFactory(name="Double 11")
    mapped = MilestoneFactory(project=project, department=department, assignee=lena)
    unmapped = MilestoneFactory(project=project, department=department, assignee=bo)
    for platform, external_id in IDS.items():
        ChatIdentity.objects.create(platform=platform, external_id=external_id, user=lena)
        ChatIdentity.objects.create(platform=platform, external_id=external_id + "9", user=lead)
    return mapped, unmapped


def payload(*items) -> dict:
    due = (timezone.now() - timedelta(days=1)).isoformat()
    return {
        "event": "alerts",
        "title": "2 new alerts in Double 11",
        "summary": "2 overdue",
        "url": "https://milepost.example.com/projects/1/",
        "items": [
            {
                "kind": kind,
                "kind_label": kind.title(),
                "milestone_id": node.pk,
                "title": node.title,
                "project_id": node.project_id,
                "project": "Double 11",
                "department": "Merchandising",
                "assignee": node.assignee.username,
                "due_at": due,
                "url": f"https://milepost.example.com/nodes/{node.pk}/",
            }
            for node, kind in items
        ],
    }


def send(kind, make_channel, chat_server, data):
    deliver_chat(channel=make_channel(kind), payload=data, idempotency_key="k")
    [request] = chat_server.received(kind)
    assert request.verified in (True, None), request.problem
    return request.json


def test_feishu_card_mentions_with_at_id(nodes, chat_server, make_channel):
    mapped, unmapped = nodes
    body = send(
        "feishu", make_channel, chat_server, payload((mapped, "overdue"), (unmapped, "overdue"))
    )
    text = "\n".join(e["text"]["content"] for e in body["card"]["elements"] if e["tag"] == "div")
    assert f"<at id={IDS['feishu']}></at>" in text
    assert text.count("<at ") == 1
    assert "· Bo Chen ·" in text  # named by display name, not mentioned
    assert "· bo ·" not in text


def test_dingtalk_mentions_through_at_user_ids_with_the_matching_text(
    nodes, chat_server, make_channel
):
    mapped, unmapped = nodes
    body = send(
        "dingtalk", make_channel, chat_server, payload((mapped, "overdue"), (unmapped, "overdue"))
    )
    # actionCard carries no @: a message that mentions is markdown, its link inline.
    assert body["msgtype"] == "markdown"
    assert body["at"] == {"atUserIds": [IDS["dingtalk"]], "isAtAll": False}
    text = body["markdown"]["text"]
    assert f"@{IDS['dingtalk']}" in text
    assert "(https://milepost.example.com/projects/1/)" in text
    assert "Milepost" in text.splitlines()[-1] or "Milepost" in text  # the keyword stays


def test_dingtalk_without_anyone_mapped_keeps_the_action_card(nodes, chat_server, make_channel):
    _mapped, unmapped = nodes
    body = send("dingtalk", make_channel, chat_server, payload((unmapped, "overdue")))
    assert body["msgtype"] == "actionCard" and "at" not in body


def test_dingtalk_mentions_by_mobile_where_only_a_mobile_is_known():
    message = Message.from_payload(payload_stub())
    message.attach_people({7: [Person(name="lena", mobile="+86-13800000000".replace("-", ""))]})
    body = get_platform("dingtalk").build_body(message)
    assert body["at"] == {"atMobiles": ["+8613800000000"], "isAtAll": False}
    assert "@+8613800000000" in body["markdown"]["text"]


def payload_stub() -> dict:
    return {
        "event": "alerts",
        "title": "1 new alert",
        "url": "",
        "items": [{"kind": "overdue", "milestone_id": 7, "title": "Price", "assignee": "lena"}],
    }


def test_wecom_markdown_mentions_with_angle_at(nodes, chat_server, make_channel):
    mapped, unmapped = nodes
    body = send(
        "wecom", make_channel, chat_server, payload((mapped, "overdue"), (unmapped, "overdue"))
    )
    content = body["markdown"]["content"]
    assert f"<@{IDS['wecom']}>" in content
    assert "<@bo>" not in content and " Bo Chen " in content.replace("·", " ")


def test_slack_mentions_linked_users_in_blocks_and_fallback(nodes, chat_server, make_channel):
    mapped, unmapped = nodes
    body = send(
        "slack", make_channel, chat_server, payload((mapped, "overdue"), (unmapped, "overdue"))
    )
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert any("<@U024BE7LH>" in s for s in sections)
    assert "<@U024BE7LH>" in body["text"]  # the notification names them too
    assert not any("<@bo" in s for s in sections)
    for block in Block.parse_all(body["blocks"]):
        block.validate_json()


def test_an_escalation_also_mentions_the_departments_lead(nodes, chat_server, make_channel):
    mapped, _unmapped = nodes
    body = send("wecom", make_channel, chat_server, payload((mapped, "escalation")))
    content = body["markdown"]["content"]
    assert f"<@{IDS['wecom']}>" in content and f"<@{IDS['wecom']}9>" in content


def test_a_deactivated_user_or_an_odd_id_is_not_mentioned(nodes, chat_server, make_channel):
    mapped, _unmapped = nodes
    ChatIdentity.objects.filter(platform="feishu", user=mapped.assignee).update(
        external_id="ou_x></at><at id=all"
    )
    body = send("feishu", make_channel, chat_server, payload((mapped, "overdue")))
    text = "\n".join(e["text"]["content"] for e in body["card"]["elements"] if e["tag"] == "div")
    assert "<at" not in text and "lena" in text


def test_mentions_cost_three_queries_whatever_the_number_of_nodes(
    nodes, chat_server, make_channel, django_assert_num_queries
):
    mapped, unmapped = nodes
    many = [
        MilestoneFactory(
            project=mapped.project, department=mapped.department, assignee=mapped.assignee
        )
        for _ in range(10)
    ]
    channel = make_channel("feishu")
    data = payload(*[(n, "overdue") for n in [mapped, unmapped, *many]])
    with django_assert_num_queries(3):
        deliver_chat(channel=channel, payload=data, idempotency_key="k")


def test_wecom_sends_text_with_mention_lists_when_someone_is_known_only_by_mobile(
    nodes, chat_server, make_channel
):
    mapped, unmapped = nodes
    # Signed in before the app could read the directory: no userid, only the mobile number.
    ChatIdentity.objects.create(
        platform="wecom",
        external_id="o_union_bo",
        union_id="o_union_bo",
        mobile="13800001111",
        user=unmapped.assignee,
    )
    body = send(
        "wecom", make_channel, chat_server, payload((mapped, "overdue"), (unmapped, "overdue"))
    )
    # Markdown cannot mention by mobile: one text message carries both lists instead.
    assert body["msgtype"] == "text" and "markdown" not in body
    text = body["text"]
    assert text["mentioned_list"] == [IDS["wecom"]]
    assert text["mentioned_mobile_list"] == ["13800001111"]
    assert "<@" not in text["content"] and "13800001111" not in text["content"]
    assert "lena" in text["content"] and "Bo Chen" in text["content"]
    assert f"https://milepost.example.com/nodes/{unmapped.pk}/" in text["content"]


def test_wecom_text_message_escapes_titles_and_keeps_to_its_limit(nodes, chat_server, make_channel):
    _mapped, unmapped = nodes
    ChatIdentity.objects.create(
        platform="wecom", external_id="周 明", mobile="+8613800001111", user=unmapped.assignee
    )
    many = [
        MilestoneFactory(
            project=unmapped.project,
            department=unmapped.department,
            assignee=unmapped.assignee,
            title="<@all> " + "价格" * 40,
        )
        for _ in range(12)
    ]
    body = send("wecom", make_channel, chat_server, payload(*[(n, "overdue") for n in many]))
    content = body["text"]["content"]
    assert len(content.encode()) <= 2048  # the server refuses more (errcode 40058)
    assert "<@all>" not in content and "＜＠all＞" in content
    assert body["text"]["mentioned_mobile_list"] == ["+8613800001111"]
    assert "more" in content  # items dropped to fit, and said so


def test_wecom_without_mobile_only_people_stays_markdown(nodes, chat_server, make_channel):
    mapped, _unmapped = nodes
    ChatIdentity.objects.filter(platform="wecom", user=mapped.assignee).update(mobile="13800002222")
    body = send("wecom", make_channel, chat_server, payload((mapped, "overdue")))
    # A known userid is mentioned in markdown; the mobile number is not needed.
    assert body["msgtype"] == "markdown"
    assert f"<@{IDS['wecom']}>" in body["markdown"]["content"]


def test_dingtalk_mentions_by_mobile_when_sign_in_knew_no_userid(nodes, chat_server, make_channel):
    mapped, unmapped = nodes
    # The app could not read the directory: sign-in kept the unionId, and the mobile number.
    ChatIdentity.objects.create(
        platform="dingtalk",
        external_id="iPiiPiXy8Ek2Lu7EiE",
        union_id="iPiiPiXy8Ek2Lu7EiE",
        mobile="13900003333",
        user=unmapped.assignee,
    )
    body = send(
        "dingtalk", make_channel, chat_server, payload((mapped, "overdue"), (unmapped, "overdue"))
    )
    assert body["at"] == {
        "atUserIds": [IDS["dingtalk"]],
        "atMobiles": ["13900003333"],
        "isAtAll": False,
    }
    text = body["markdown"]["text"]
    assert "@13900003333" in text and f"@{IDS['dingtalk']}" in text
    assert "iPiiPiXy8Ek2Lu7EiE" not in json.dumps(body)


def teams_card(body) -> dict:
    return body["attachments"][0]["content"]


def test_teams_mentions_linked_users_with_card_entities(nodes, chat_server, make_channel):
    mapped, unmapped = nodes
    body = send(
        "teams", make_channel, chat_server, payload((mapped, "overdue"), (unmapped, "overdue"))
    )
    card = teams_card(body)
    assert card["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": "<at>lena</at>",
            "mentioned": {"id": IDS["teams"], "name": "lena"},
        }
    ]
    texts = json.dumps(card["body"], ensure_ascii=False)
    assert texts.count("<at>lena</at>") == 1
    assert "<at>Bo" not in texts and "· Bo Chen ·" in texts


def test_teams_mention_name_is_escaped(nodes, chat_server, make_channel):
    mapped, _unmapped = nodes
    mapped.assignee.username = "x</at><at>all"
    mapped.assignee.save(update_fields=["username"])
    body = send("teams", make_channel, chat_server, payload((mapped, "overdue")))
    card = teams_card(body)
    [entity] = card["msteams"]["entities"]
    assert entity["text"] == "<at>x＜/at＞＜at＞all</at>"
    assert entity["text"] in json.dumps(card["body"], ensure_ascii=False)


def test_teams_without_linked_users_has_no_entities(nodes, chat_server, make_channel):
    _mapped, unmapped = nodes
    body = send("teams", make_channel, chat_server, payload((unmapped, "overdue")))
    assert "msteams" not in teams_card(body)


def feishu_text(body: dict) -> str:
    return "\n".join(e["text"]["content"] for e in body["card"]["elements"] if e["tag"] == "div")


def test_a_person_who_muted_the_project_is_named_not_mentioned(nodes, chat_server, make_channel):
    mapped, _unmapped = nodes
    mapped.assignee.muted_projects.add(mapped.project)
    body = send("feishu", make_channel, chat_server, payload((mapped, "escalation")))
    text = feishu_text(body)
    assert f"<at id={IDS['feishu']}></at>" not in text and "lena" in text
    assert f"<at id={IDS['feishu']}9></at>" in text  # the lead did not mute it


def test_a_mute_of_another_project_changes_nothing(nodes, chat_server, make_channel):
    mapped, _unmapped = nodes
    mapped.assignee.muted_projects.add(ProjectFactory(name="618"))
    body = send("feishu", make_channel, chat_server, payload((mapped, "overdue")))
    assert f"<at id={IDS['feishu']}></at>" in feishu_text(body)


def test_chat_switched_off_for_a_kind_names_the_person_for_that_kind_only(
    nodes, chat_server, make_channel
):
    from tracker.notifications.preferences import preferences_save

    mapped, _unmapped = nodes
    preferences_save(user=mapped.assignee, choices={("nudge", "chat"): "off"})
    body = send("wecom", make_channel, chat_server, payload((mapped, "nudge")))
    content = body["markdown"]["content"]
    assert f"<@{IDS['wecom']}>" not in content and "lena" in content
    deliver_chat(
        channel=make_channel("wecom"), payload=payload((mapped, "overdue")), idempotency_key="k2"
    )
    assert f"<@{IDS['wecom']}>" in chat_server.received("wecom")[-1].json["markdown"]["content"]
