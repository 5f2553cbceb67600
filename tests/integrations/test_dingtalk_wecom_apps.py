"""DingTalk's outgoing robot and WeCom's self-built app callback, without a bridge, with
requests built as each platform documents them (written here independently of the code under
test):

- DingTalk: headers `timestamp` (ms) and `sign` = base64(HMAC-SHA256(AppSecret,
  "timestamp\\nAppSecret")); the JSON message; the answer is the reply message itself.
- WeCom: `msg_signature` = sha1 of the sorted token, timestamp, nonce and ciphertext; AES-256-CBC
  keyed by base64(EncodingAESKey + "="), IV = the key's first 16 bytes, PKCS#7 to 32 bytes;
  plaintext = 16 random bytes + length (4 bytes, big-endian) + message + CorpID. WeCom has no
  official Python SDK: the answers are decrypted here with the documented scheme.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.utils import timezone

from tests.factories import MilestoneFactory, UserFactory
from tracker.integrations.models import ChatApp, ChatIdentity
from tracker.milestones.models import MilestoneChange, MilestoneStatus

pytestmark = pytest.mark.django_db

APP_SECRET = "gC2h7lO9w9ZhmZc7PgJ0ZVAZaOm-u_tMqANF7fyfgB1ExnGyIwiTcQsvqL7bkAKs"
STAFF = "manager4220"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP = "wx5823bf96d3bd56c7"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://milepost.example.com"


@pytest.fixture
def lena():
    return UserFactory(username="lena")


@pytest.fixture
def node(lena):
    return MilestoneFactory(
        title="Price [approval](https://evil.example) <font color=red>x</font>",
        assignee=lena,
        due_at=timezone.now() - timedelta(hours=3),
    )


# DingTalk ------------------------------------------------------------------------------------


@pytest.fixture
def dingtalk(lena):
    ChatIdentity.objects.create(platform="dingtalk", external_id=STAFF, user=lena)
    return ChatApp.objects.create(
        platform="dingtalk", name="Robot", app_id="dingxxxxxx", app_secret=APP_SECRET
    )


def dingtalk_post(client, app, text, *, timestamp=None, secret=APP_SECRET, staff=STAFF, sign=None):
    body = {
        "conversationId": "cid6KeBBLoveMJOGXoYKF5x7EeiodoA==",
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}],
        "chatbotCorpId": "dinge8a565a0e7",
        "chatbotUserId": "$:LWCP_v1:$robot",
        "msgId": "msg" + uuid.uuid4().hex,
        "senderNick": "Lena",
        "isAdmin": False,
        "senderStaffId": staff,
        "sessionWebhookExpiredTime": int(time.time() * 1000) + 3600_000,
        "createAt": int(time.time() * 1000),
        "senderCorpId": "dinge8a565a0e7",
        "conversationType": "2",
        "senderId": "$:LWCP_v1:$sender",
        "conversationTitle": "Double 11",
        "isInAtList": True,
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=x",
        "text": {"content": f" {text}"},
        "robotCode": "dingxxxxxx",
        "msgtype": "text",
    }
    timestamp = str(int(time.time() * 1000) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return client.post(
        f"/integrations/dingtalk/{app.pk}/robot",
        json.dumps(body),
        content_type="application/json",
        HTTP_TIMESTAMP=timestamp,
        HTTP_SIGN=sign or base64.b64encode(digest).decode(),
    )


def test_a_signed_dingtalk_command_is_answered_in_markdown_mentioning_the_sender(
    client, dingtalk, node, lena
):
    response = dingtalk_post(client, dingtalk, f"done {node.pk}")
    assert response.status_code == 200
    data = response.json()
    assert data["msgtype"] == "markdown"
    assert data["at"] == {"atUserIds": [STAFF], "isAtAll": False}
    text = data["markdown"]["text"]
    assert f"Marked node #{node.pk} done." in text and text.endswith(f"@{STAFF}")
    assert "[approval](" not in text and "<font" not in text  # the title as plain text
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE
    change = MilestoneChange.objects.get(milestone=node, field="status")
    assert change.actor == lena and "DingTalk" in change.reason


@pytest.mark.parametrize("breakage", ["tampered", "stale", "wrong secret", "replay", "no sign"])
def test_bad_dingtalk_requests_are_refused_with_401(breakage, client, dingtalk, node):
    if breakage == "tampered":
        response = dingtalk_post(client, dingtalk, f"done {node.pk}", sign="AAAA" + "=" * 40)
    elif breakage == "stale":
        stale = int(time.time() * 1000) - 301_000
        response = dingtalk_post(client, dingtalk, f"done {node.pk}", timestamp=stale)
    elif breakage == "wrong secret":
        response = dingtalk_post(client, dingtalk, f"done {node.pk}", secret="not-the-secret")
    elif breakage == "no sign":
        response = client.post(
            f"/integrations/dingtalk/{dingtalk.pk}/robot", "{}", content_type="application/json"
        )
    else:
        # DingTalk's sign covers only the timestamp: a second request with the same one is a
        # replay, whatever its body.
        moment = int(time.time() * 1000)
        assert dingtalk_post(client, dingtalk, "help", timestamp=moment).status_code == 200
        response = dingtalk_post(client, dingtalk, f"done {node.pk}", timestamp=moment)
    assert response.status_code == 401
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


def test_an_unknown_dingtalk_user_gets_the_linking_answer(client, dingtalk, node):
    response = dingtalk_post(client, dingtalk, f"done {node.pk}", staff="someone-else")
    assert response.status_code == 200
    text = response.json()["markdown"]["text"]
    assert "I don't know you yet" in text
    assert "https://milepost.example.com/integrations/chat/link/?t=" in text
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


def test_a_verified_dingtalk_body_that_is_not_json_is_400(client, dingtalk):
    timestamp = str(int(time.time() * 1000))
    digest = hmac.new(
        APP_SECRET.encode(), f"{timestamp}\n{APP_SECRET}".encode(), hashlib.sha256
    ).digest()
    response = client.post(
        f"/integrations/dingtalk/{dingtalk.pk}/robot",
        "nope",
        content_type="application/json",
        HTTP_TIMESTAMP=timestamp,
        HTTP_SIGN=base64.b64encode(digest).decode(),
    )
    assert response.status_code == 400


# WeCom ---------------------------------------------------------------------------------------


@pytest.fixture
def wecom(lena):
    ChatIdentity.objects.create(platform="wecom", external_id="LenaWang", user=lena)
    return ChatApp.objects.create(
        platform="wecom", name="Milepost", app_id=CORP, token=TOKEN, aes_key=AES_KEY
    )


def _key() -> bytes:
    return base64.b64decode(AES_KEY + "=")


def wx_encrypt(message: str, corp: str = CORP) -> str:
    body = message.encode()
    plain = os.urandom(16) + struct.pack(">I", len(body)) + body + corp.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(_key()), modes.CBC(_key()[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def wx_decrypt(encrypted: str) -> tuple[str, str]:
    decryptor = Cipher(algorithms.AES(_key()), modes.CBC(_key()[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (length,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + length].decode(), plain[20 + length :].decode()


def wx_signature(timestamp: str, nonce: str, encrypted: str, token: str = TOKEN) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def message_xml(text: str, user: str = "LenaWang") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
        f"<FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{time.time_ns()}</MsgId>"
        f"<AgentID>1000002</AgentID></xml>"
    )


def wecom_post(client, app, text, *, timestamp=None, signature=None, corp=CORP, user="LenaWang"):
    encrypted = wx_encrypt(message_xml(text, user), corp)
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = uuid.uuid4().hex[:10]
    query = urlencode(
        {
            "msg_signature": signature or wx_signature(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }
    )
    envelope = (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
        f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return client.post(
        f"/integrations/wecom/{app.pk}/callback?{query}", envelope, content_type="text/xml"
    )


def test_the_url_check_answers_the_decrypted_echostr(client, wecom):
    echostr = wx_encrypt("4985734098572398754")
    timestamp, nonce = str(int(time.time())), "1372623149"
    query = urlencode(
        {
            "msg_signature": wx_signature(timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
    )
    response = client.get(f"/integrations/wecom/{wecom.pk}/callback?{query}")
    assert response.status_code == 200
    assert response.content == b"4985734098572398754"


def test_a_url_check_with_a_wrong_signature_is_401(client, wecom):
    echostr = wx_encrypt("4985734098572398754")
    query = urlencode(
        {"msg_signature": "0" * 40, "timestamp": int(time.time()), "nonce": "1", "echostr": echostr}
    )
    response = client.get(f"/integrations/wecom/{wecom.pk}/callback?{query}")
    assert response.status_code == 401 and b"4985734098572398754" not in response.content


def test_an_encrypted_wecom_command_is_answered_with_an_encrypted_signed_reply(
    client, wecom, node, lena
):
    response = wecom_post(client, wecom, f"done {node.pk}")
    assert response.status_code == 200
    answer = {child.tag: child.text for child in ET.fromstring(response.content)}
    assert answer["MsgSignature"] == wx_signature(
        answer["TimeStamp"], answer["Nonce"], answer["Encrypt"]
    )
    reply, corp = wx_decrypt(answer["Encrypt"])
    assert corp == CORP
    message = {child.tag: child.text for child in ET.fromstring(reply)}
    assert message["ToUserName"] == "LenaWang" and message["MsgType"] == "text"
    assert f"Marked node #{node.pk} done." in message["Content"]
    node.refresh_from_db()
    assert node.status == MilestoneStatus.DONE
    assert MilestoneChange.objects.get(milestone=node, field="status").actor == lena


@pytest.mark.parametrize("breakage", ["tampered", "stale", "other corp", "replay"])
def test_bad_wecom_requests_are_refused_with_401(breakage, client, wecom, node):
    if breakage == "tampered":
        response = wecom_post(client, wecom, f"done {node.pk}", signature="1" * 40)
    elif breakage == "stale":
        response = wecom_post(client, wecom, f"done {node.pk}", timestamp=int(time.time()) - 301)
    elif breakage == "other corp":
        response = wecom_post(client, wecom, f"done {node.pk}", corp="wx_another_corp")
    else:
        first = wecom_post(client, wecom, "help")
        assert first.status_code == 200
        request = first.wsgi_request
        response = client.post(
            request.get_full_path(), request.body, content_type="text/xml"
        )  # the very same request again
    assert response.status_code == 401
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


def test_an_unknown_wecom_user_gets_the_linking_answer(client, wecom, node):
    response = wecom_post(client, wecom, f"done {node.pk}", user="Stranger")
    answer = {child.tag: child.text for child in ET.fromstring(response.content)}
    reply, _corp = wx_decrypt(answer["Encrypt"])
    content = ET.fromstring(reply).findtext("Content")
    assert "I don't know you yet" in content and "/integrations/chat/link/?t=" in content
    node.refresh_from_db()
    assert node.status == MilestoneStatus.TODO


def test_a_wecom_body_with_a_dtd_cannot_be_verified_and_is_401(client, wecom):
    body = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'
    query = urlencode({"msg_signature": "x", "timestamp": int(time.time()), "nonce": "1"})
    response = client.post(
        f"/integrations/wecom/{wecom.pk}/callback?{query}", body, content_type="text/xml"
    )
    assert response.status_code == 401
