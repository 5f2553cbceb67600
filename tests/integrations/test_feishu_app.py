"""A Feishu app bot without a bridge: the event subscription (url_verification, messages that
@-mention the bot) and card callbacks (card.action.trigger), built as Feishu documents them:
the body encrypted with the Encrypt Key (base64 of IV + AES-256-CBC keyed by its SHA-256),
X-Lark-Signature = sha256(timestamp + nonce + encrypt_key + body). lark-oapi, Feishu's official
SDK, checks that each request built here is one it accepts; answers go to a loopback server
playing Feishu's Open API."""

import base64
import hashlib
import json
import os
import socket
import time
import uuid
from datetime import timedelta

import lark_oapi as lark
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.core.exceptions import ValidationError
from django.utils import timezone
from lark_oapi.core.utils import AESCipher
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)

from tests.factories import DepartmentFactory, MilestoneFactory, ProjectFactory, UserFactory
from tracker.integrations.delivery import deliver_chat
from tracker.integrations.models import ChatApp, ChatIdentity
from tracker.integrations.platforms import get_platform
from tracker.milestones.models import MilestoneChange, MilestoneStatus
from tracker.projects.services import project_baseline

pytestmark = pytest.mark.django_db

TOKEN = "rvaYgkR4PNdUgHbvQnRy3gQpURYLnNxX"
ENCRYPT_KEY = "kudryavka"
APP_SECRET = "dskLLdkasdjlasdKK"
LENA = "ou_84aad35d084aa403a838cf73ee18467"
BO = "ou_bo0000000000000000000000000000"
BOT = "ou_bot000000000000000000000000000"


def encrypt(plaintext: bytes, key: str = ENCRYPT_KEY) -> str:
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(
        algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)
    ).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


@pytest.fixture
def world(settings, chat_server):
    settings.SITE_URL = "https://milepost.example.com"
    settings.FEISHU_OPEN_URL = chat_server.url("/feishuapi")
    chat_server.secrets["feishu-app-secret"] = APP_SECRET
    lena = UserFactory(username="lena", first_name="Lena", last_name="Wang")
    bo = UserFactory(username="bo")
    ChatIdentity.objects.create(platform="feishu", external_id=LENA, user=lena)
    ChatIdentity.objects.create(platform="feishu", external_id=BO, user=bo)
    project = ProjectFactory(name="Double 11", war_room=False)  # weekends are off
    department = DepartmentFactory()
    node = MilestoneFactory(
        project=project,
        department=department,
        title="Price <at id=all></at> approval",
        assignee=lena,
        due_at=timezone.now() - timedelta(hours=3),
    )
    app = ChatApp.objects.create(
        platform="feishu",
        name="Milepost bot",
        app_id="cli_9f5343c580712544",
        app_secret=APP_SECRET,
        token=TOKEN,
        aes_key=ENCRYPT_KEY,
    )
    return {"lena": lena, "bo": bo, "node": node, "app": app}


def message_event(text: str, *, sender: str = LENA, chat_type: str = "group") -> dict:
    mentions = [{"key": "@_user_1", "id": {"open_id": BOT}, "name": "Milepost"}]
    return {
        "schema": "2.0",
        "header": {
            "event_id": uuid.uuid4().hex,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": TOKEN,
            "app_id": "cli_9f5343c580712544",
            "tenant_key": "2ca1d211f64f6438",
        },
        "event": {
            "sender": {
                "sender_id": {"open_id": sender, "union_id": "on_1", "user_id": "e33ggbyz"},
                "sender_type": "user",
                "tenant_key": "2ca1d211f64f6438",
            },
            "message": {
                "message_id": "om_5ce6d572455d361153b7cb51da133945",
                "create_time": str(int(time.time() * 1000)),
                "chat_id": "oc_5ce6d572455d361153b7xx51da133945",
                "chat_type": chat_type,
                "message_type": "text",
                "content": json.dumps({"text": f"@_user_1 {text}"}),
                "mentions": mentions if chat_type == "group" else [],
            },
        },
    }


def card_event(value: dict, *, operator: str = LENA, option: str | None = None) -> dict:
    action = {"value": value, "tag": "select_static" if option else "button"}
    if option:
        action["option"] = option
    return {
        "schema": "2.0",
        "header": {
            "event_id": uuid.uuid4().hex,
            "token": TOKEN,
            "create_time": str(int(time.time() * 1000000)),
            "event_type": "card.action.trigger",
            "tenant_key": "2ca1d211f64f6438",
            "app_id": "cli_9f5343c580712544",
        },
        "event": {
            "operator": {"tenant_key": "2ca1d211f64f6438", "open_id": operator},
            "token": "c-" + uuid.uuid4().hex,
            "action": action,
            "host": "im_message",
            "context": {"open_message_id": "om_x", "open_chat_id": "oc_x"},
        },
    }


def signed(data: dict, *, key: str | None = ENCRYPT_KEY, timestamp: int | None = None):
    """(body, headers) as Feishu sends them."""
    body = json.dumps({"encrypt": encrypt(json.dumps(data).encode(), key)} if key else data)
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = uuid.uuid4().hex[:16]
    headers = {"X-Lark-Request-Timestamp": timestamp, "X-Lark-Request-Nonce": nonce}
    if key:
        headers["X-Lark-Signature"] = hashlib.sha256(
            (timestamp + nonce + key).encode() + body.encode()
        ).hexdigest()
    return body.encode(), headers


def post(client, app, body: bytes, headers: dict):
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    return client.post(
        f"/integrations/feishu/{app.pk}/events", body, content_type="application/json", **meta
    )


def sdk_accepts(body: bytes, headers: dict, *, key=ENCRYPT_KEY, token=TOKEN) -> list:
    """What lark-oapi's event dispatcher makes of the same request (it verifies the token and
    signature and decrypts); the events it delivered."""
    seen: list = []

    def on_card(data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        seen.append(data)
        return P2CardActionTriggerResponse({})

    handler = (
        lark.EventDispatcherHandler.builder(key or "", token)
        .register_p2_im_message_receive_v1(seen.append)
        .register_p2_card_action_trigger(on_card)
        .build()
    )
    request = lark.RawRequest()
    request.uri = "/"
    request.body = body
    request.headers = headers
    response = handler.do(request)
    assert response.status_code == 200, response.content
    return seen


def replies(chat_server) -> list[dict]:
    return [
        json.loads(r.json["content"])
        for r in chat_server.received("feishuapi")
        if "reply" in r.path
    ]


# The URL check -------------------------------------------------------------------------------


@pytest.mark.parametrize("encrypted", [True, False])
def test_url_verification_answers_the_challenge(encrypted, client, world):
    app = world["app"]
    if not encrypted:
        app.aes_key = ""
        app.save()
    data = {"challenge": "ajls384kdjx98XX", "token": TOKEN, "type": "url_verification"}
    body, headers = signed(data, key=ENCRYPT_KEY if encrypted else None)
    response = post(client, app, body, headers)
    assert response.status_code == 200
    assert response.json() == {"challenge": "ajls384kdjx98XX"}


def test_url_verification_with_a_wrong_token_is_refused(client, world):
    data = {"challenge": "x", "token": "not-it", "type": "url_verification"}
    response = post(client, world["app"], *signed(data))
    assert response.status_code == 401 and "challenge" not in response.json()


# Commands ------------------------------------------------------------------------------------


def test_an_encrypted_signed_command_marks_the_node_done_and_replies_with_a_card(
    client, world, chat_server
):
    node = world["node"]
    body, headers = signed(message_event(f"done {node.pk}"))
    [event] = sdk_accepts(body, headers)  # Feishu's own SDK verifies and decrypts it
    assert json.loads(event.event.message.content)["text"] == f"@_user_1 done {node.pk}"

    response = post(client, world["app"], body, headers)
    assert response.status_code == 200
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE
    change = MilestoneChange.objects.get(milestone=node, field="status")
    assert change.actor == world["lena"] and "Feishu" in change.reason
    token_request, reply_request = chat_server.received("feishuapi")
    assert token_request.verified and reply_request.verified
    assert reply_request.path.endswith("/om_5ce6d572455d361153b7cb51da133945/reply")
    [card] = replies(chat_server)
    assert card["header"]["title"]["content"] == f"Marked node #{node.pk} done."
    text = json.dumps(card, ensure_ascii=False)
    assert "<at id=all>" not in text and "&#60;at id=all&#62;" in text


def test_mine_replies_with_a_card_whose_nodes_have_buttons(client, world, chat_server):
    node = world["node"]
    response = post(client, world["app"], *signed(message_event("mine")))
    assert response.status_code == 200
    [card] = replies(chat_server)
    actions = [e for e in card["elements"] if e["tag"] == "action"]
    labels = [b["text"]["content"] for b in actions[0]["actions"]]
    assert labels == ["Done", "+1 working day", "Blocked"]
    assert actions[0]["actions"][0]["value"] == {
        "op": "done",
        "node": node.pk,
        "card": [node.pk],
        "h": "Your open nodes",
    }


def test_a_command_without_encryption_is_checked_by_token_and_timestamp(client, world):
    app = world["app"]
    app.aes_key = ""
    app.save()
    node = world["node"]
    body, headers = signed(message_event(f"done {node.pk}"), key=None)
    sdk_accepts(body, headers, key=None)
    assert post(client, app, body, headers).status_code == 200
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE


def test_a_group_message_that_does_not_mention_the_bot_is_ignored(client, world, chat_server):
    data = message_event(f"done {world['node'].pk}")
    data["event"]["message"]["mentions"] = []
    assert post(client, world["app"], *signed(data)).status_code == 200
    world["node"].refresh_from_db()
    assert world["node"].status != MilestoneStatus.DONE
    assert chat_server.received("feishuapi") == []


def test_an_unknown_user_gets_the_linking_answer(client, world, chat_server):
    data = message_event(f"done {world['node'].pk}", sender="ou_stranger", chat_type="p2p")
    assert post(client, world["app"], *signed(data)).status_code == 200
    [card] = replies(chat_server)
    assert "I don't know you yet" in card["header"]["title"]["content"]
    assert "https://milepost.example.com/integrations/chat/link/?t=" in json.dumps(card)
    world["node"].refresh_from_db()
    assert world["node"].status != MilestoneStatus.DONE


@pytest.mark.parametrize(
    "breakage", ["tampered", "stale", "wrong key", "plain body", "unsigned", "replay"]
)
def test_bad_requests_are_refused_with_401_and_change_nothing(breakage, client, world, chat_server):
    node = world["node"]
    data = message_event(f"done {node.pk}")
    if breakage == "tampered":
        body, headers = signed(data)
        headers["X-Lark-Signature"] = "0" * 64
    elif breakage == "stale":
        body, headers = signed(data, timestamp=int(time.time()) - 301)
    elif breakage == "wrong key":
        body, headers = signed(data, key="another-key")
    elif breakage == "plain body":
        body, headers = signed(data, key=None)
    elif breakage == "unsigned":
        body, headers = signed(data)
        del headers["X-Lark-Signature"]
    else:
        body, headers = signed(data)
        assert post(client, world["app"], body, headers).status_code == 200
        node.status = MilestoneStatus.TODO
        node.save()
        chat_server.reset()
        chat_server.secrets["feishu-app-secret"] = APP_SECRET
    response = post(client, world["app"], body, headers)
    assert response.status_code == 401
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO
    assert chat_server.received("feishuapi") == []


def test_an_unknown_or_inactive_app_is_404(client, world):
    body, headers = signed(message_event("help"))
    app = world["app"]
    app.is_active = False
    app.save()
    assert post(client, app, body, headers).status_code == 404


def test_a_body_that_cannot_be_verified_is_401(client, world):
    response = post(client, world["app"], b"{not json", {})
    assert response.status_code == 401


# Card actions --------------------------------------------------------------------------------


def card_post(client, world, value, **kwargs):
    body, headers = signed(card_event(value, **kwargs))
    [delivered] = sdk_accepts(body, headers)
    assert delivered.event.action.value == value
    response = post(client, world["app"], body, headers)
    assert response.status_code == 200
    answer = response.json()
    # The answer is what lark-oapi's callback response model reads.
    parsed = lark.JSON.unmarshal(json.dumps(answer), P2CardActionTriggerResponse)
    assert parsed.toast.content == answer["toast"]["content"]
    return answer


def test_a_card_done_marks_the_node_done_and_updates_the_card_in_place(client, world):
    node = world["node"]
    value = {"op": "done", "node": node.pk, "card": [node.pk], "h": "Your open nodes"}
    answer = card_post(client, world, value)
    assert answer["toast"] == {"type": "success", "content": f"Lena Wang marked #{node.pk} done."}
    card = answer["card"]
    assert card["type"] == "raw"
    notes = [e for e in card["data"]["elements"] if e["tag"] == "note"]
    assert notes[0]["elements"][0]["content"] == f"Lena Wang marked #{node.pk} done."
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE
    assert MilestoneChange.objects.get(milestone=node, field="status").actor == world["lena"]


def test_a_card_action_by_someone_without_permission_changes_nothing(client, world):
    node = world["node"]
    value = {"op": "done", "node": node.pk, "card": [node.pk], "h": "Overdue nodes"}
    answer = card_post(client, world, value, operator=BO)
    assert answer["toast"]["type"] == "error"
    assert "card" not in answer  # the card stays as it was
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO
    assert not MilestoneChange.objects.filter(milestone=node, field="status").exists()


def test_blocked_marks_the_node_blocked(client, world):
    node = world["node"]
    answer = card_post(client, world, {"op": "blocked", "node": node.pk, "card": [node.pk]})
    assert answer["toast"]["type"] == "success"
    node.refresh_from_db()
    assert node.status == MilestoneStatus.BLOCKED


def test_plus_one_working_day_on_a_baselined_node_asks_for_a_reason_first(client, world):
    node = world["node"]
    node.due_at = timezone.make_aware(timezone.datetime(2026, 11, 6, 18, 0))  # a Friday
    node.save()
    project_baseline(project=node.project, actor=None)
    value = {"op": "postpone", "node": node.pk, "card": [node.pk], "h": "Overdue nodes"}
    answer = card_post(client, world, value)
    assert answer["toast"]["type"] == "error"
    selects = [
        a
        for e in answer["card"]["data"]["elements"]
        if e["tag"] == "action"
        for a in e["actions"]
        if a["tag"] == "select_static"
    ]
    offered = [o["value"] for o in selects[0]["options"]]
    assert "scope_change" in offered and "other" not in offered  # the deviation reason codes
    node.refresh_from_db()
    assert node.due_at.day == 6  # nothing moved yet

    answer = card_post(client, world, selects[0]["value"], option="scope_change")
    assert answer["toast"]["type"] == "success"
    node.refresh_from_db()
    moved = timezone.localtime(node.due_at)
    assert (moved.month, moved.day, moved.hour) == (11, 9, 18)  # Monday, same time
    change = MilestoneChange.objects.get(milestone=node, field="due_at")
    assert change.reason_code == "scope_change" and change.actor == world["lena"]


def test_a_card_action_from_an_unknown_user_offers_linking(client, world):
    node = world["node"]
    answer = card_post(client, world, {"op": "done", "node": node.pk}, operator="ou_who")
    assert answer["toast"]["type"] == "error"
    assert "integrations/chat/link/?t=" in json.dumps(answer["card"])
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


def test_a_tampered_card_callback_is_401(client, world):
    node = world["node"]
    body, headers = signed(card_event({"op": "done", "node": node.pk}))
    headers["X-Lark-Signature"] = "f" * 64
    assert post(client, world["app"], body, headers).status_code == 401
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


def test_the_sdk_decrypts_what_the_test_encrypts():
    assert AESCipher(ENCRYPT_KEY).decrypt_str(encrypt(b'{"a": 1}')) == '{"a": 1}'


# Alerts through the app bot ------------------------------------------------------------------


def test_an_app_bot_channel_sends_alert_cards_with_buttons_that_act(
    client, world, chat_server, make_channel
):
    """A Feishu channel whose URL is the Open API's send endpoint and whose secret is the app's
    "App ID:App Secret" posts alerts as the app bot, each node with its buttons; a click on one
    acts like any card button."""
    node = world["node"]
    channel = make_channel(
        "feishu",
        path="/feishuapi/open-apis/im/v1/messages?receive_id_type=chat_id&receive_id=oc_war_room",
        secret=f"cli_9f5343c580712544:{APP_SECRET}",
    )
    payload = {
        "event": "alerts",
        "title": "1 new alert in Double 11",
        "summary": "1 overdue",
        "url": "https://milepost.example.com/projects/1/",
        "items": [
            {
                "kind": "overdue",
                "kind_label": "Overdue",
                "milestone_id": node.pk,
                "title": node.title,
                "project": "Double 11",
                "assignee": "lena",
                "due_at": node.due_at.isoformat(),
                "url": f"https://milepost.example.com/nodes/{node.pk}/",
            }
        ],
    }
    deliver_chat(channel=channel, payload=payload, idempotency_key="outbox-1")
    sent = [r for r in chat_server.received("feishuapi") if r.path.endswith("/messages")]
    [request] = sent
    assert request.verified and request.json["receive_id"] == "oc_war_room"
    assert request.json["uuid"] == "outbox-1"
    card = json.loads(request.json["content"])
    assert card["config"]["update_multi"] is True
    text = json.dumps(card, ensure_ascii=False)
    assert f"<at id={LENA}></at>" in text and "<at id=all>" not in text
    [actions] = [e for e in card["elements"] if e["tag"] == "action" and "value" in e["actions"][0]]
    done = actions["actions"][0]
    assert done["value"] == {
        "op": "done",
        "node": node.pk,
        "card": [node.pk],
        "h": payload["title"],
    }

    answer = card_post(client, world, done["value"])
    assert answer["toast"]["type"] == "success"
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE


def test_an_app_bot_secret_must_name_app_id_and_secret():
    with pytest.raises(ValidationError):
        get_platform("feishu").validate_secret("cli_9f5343c580712544")
    get_platform("feishu").validate_secret("cli_9f5343c580712544:s3cret")
    get_platform("feishu").validate_secret("any custom bot secret")


def test_card_answers_come_in_the_users_language(client, world):
    lena, node = world["lena"], world["node"]
    lena.language = "zh-hans"
    lena.save()
    answer = card_post(client, world, {"op": "done", "node": node.pk, "card": [node.pk]})
    assert answer["toast"]["content"] == f"Lena Wang 已将 #{node.pk} 标记为完成。"
    buttons = [
        b["text"]["content"]
        for e in answer["card"]["data"]["elements"]
        if e["tag"] == "action"
        for b in e["actions"]
    ]
    assert buttons[:3] == ["完成", "顺延 1 个工作日", "受阻"]


@pytest.mark.parametrize("trouble", ["unreachable", "wrong app secret"])
def test_a_reply_that_cannot_be_sent_still_acknowledges_the_event(
    trouble, client, world, settings, chat_server
):
    """The command ran (Feishu must not redeliver it); the reply's failure is only logged."""
    if trouble == "unreachable":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        settings.FEISHU_OPEN_URL = f"http://127.0.0.1:{port}"
    else:
        chat_server.secrets["feishu-app-secret"] = "another"
    node = world["node"]
    response = post(client, world["app"], *signed(message_event(f"done {node.pk}")))
    assert response.status_code == 200
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE
