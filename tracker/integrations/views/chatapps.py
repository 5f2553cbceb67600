"""Native callbacks of chat platform apps, no bridge: Feishu's event subscription and card
callbacks, DingTalk's outgoing robot and WeCom's self-built app.

Each request is verified first, on the raw body (`tracker.integrations.signatures`): a failed
check is 401 and nothing is done. Then the sender's chat account is looked up (a linked chat
identity: an unknown one gets the linking answer), the same `command_run` as Slack's answers,
and the answer goes back in the platform's format.
"""

from __future__ import annotations

import json
import logging
import time
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tracker.accounts.models import User
from tracker.integrations.actions import card_action_run
from tracker.integrations.commands import Reply, Row, command_run
from tracker.integrations.models import ChatApp, ChatAppPlatform, ChatPlatform
from tracker.integrations.platforms.base import MENTION_ID
from tracker.integrations.platforms.feishu import FeishuApiError, feishu_reply_card
from tracker.integrations.platforms.wecom import wecom_encrypt, wecom_signature
from tracker.integrations.replies import card_reply, dingtalk_markdown, feishu_card, plain_text
from tracker.integrations.selectors import chat_user
from tracker.integrations.signatures import (
    MalformedRequestError,
    SignatureError,
    verify_dingtalk,
    verify_feishu,
    verify_wecom,
)
from tracker.integrations.views.commands import chat_link_url

logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def _app(app_id: int, platform: str) -> ChatApp:
    app = ChatApp.objects.filter(pk=app_id, platform=platform, is_active=True).first()
    if app is None:
        raise Http404
    return app


def _refuse(reason: str, status: int = 401) -> JsonResponse:
    logger.info("Chat callback refused: %s", reason)
    return JsonResponse({"ok": False, "error": reason}, status=status)


# Feishu -------------------------------------------------------------------------------------


def _feishu_text(message: dict[str, Any]) -> str:
    """The text of a text message, without the @-mention placeholders (@_user_1)."""
    try:
        content = json.loads(message.get("content") or "{}")
    except ValueError:
        content = {}
    text = str(content.get("text") or "") if isinstance(content, dict) else ""
    for mention in message.get("mentions") or []:
        if isinstance(mention, dict) and mention.get("key"):
            text = text.replace(str(mention["key"]), " ")
    return " ".join(text.split())


def _feishu_message(app: ChatApp, event: dict[str, Any]) -> None:
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    ids = sender.get("sender_id") if isinstance(sender.get("sender_id"), dict) else {}
    if message.get("message_type") != "text" or sender.get("sender_type") == "app":
        return
    if message.get("chat_type") == "group" and not message.get("mentions"):
        return  # in a group the bot answers only when it is @-mentioned
    open_id = str(ids.get("open_id") or "")[:200]
    user = chat_user(platform=ChatPlatform.FEISHU, external_id=open_id)
    reply = command_run(
        user=user,
        text=_feishu_text(message),
        platform=ChatPlatform.FEISHU.label,
        link_url=chat_link_url(ChatPlatform.FEISHU, open_id, ""),
    )
    with translation.override(_language(user)):
        card = feishu_card(reply)
    try:
        feishu_reply_card(
            app_id=app.app_id,
            app_secret=app.app_secret,
            message_id=str(message.get("message_id") or ""),
            card=card,
        )
    except (FeishuApiError, httpx.HTTPError) as error:
        logger.warning("Feishu reply failed: %s", error)


def _language(user: User | None) -> str:
    return user.language if user is not None else settings.LANGUAGE_CODE


def _feishu_card_action(event: dict[str, Any]) -> dict[str, Any]:
    """Act on a card button; the answer (toast and card) in the person's language."""
    operator = event.get("operator") if isinstance(event.get("operator"), dict) else {}
    open_id = str(operator.get("open_id") or "")[:200]
    user = chat_user(platform=ChatPlatform.FEISHU, external_id=open_id)
    with translation.override(_language(user)):
        return _feishu_card_answer(event, user, open_id)


def _feishu_card_answer(event: dict[str, Any], user: User | None, open_id: str) -> dict[str, Any]:
    action = event.get("action") if isinstance(event.get("action"), dict) else {}
    value = action.get("value") if isinstance(action.get("value"), dict) else {}
    try:
        node_id = int(value.get("node"))
        card_ids = [int(pk) for pk in value.get("card") or [node_id]][:20]
    except (TypeError, ValueError):
        return {"toast": {"type": "error", "content": _("This button is not Milepost's.")}}
    result = card_action_run(
        user=user,
        action=str(value.get("op") or ""),
        node_id=node_id,
        reason=str(action.get("option") or ""),
        platform=ChatPlatform.FEISHU.label,
    )
    if user is None:
        link = chat_link_url(ChatPlatform.FEISHU, open_id, "")
        reply = Reply(result.message, [Row(_("Link your chat account to Milepost"), link)])
        return {
            "toast": {"type": "error", "content": result.message},
            "card": {"type": "raw", "data": feishu_card(reply)},
        }
    answer: dict[str, Any] = {
        "toast": {"type": "success" if result.ok else "error", "content": result.message}
    }
    if result.ok or result.needs_reason:
        reply = card_reply(
            user=user, heading=str(value.get("h") or ""), node_ids=card_ids, now=timezone.now()
        )
        card = feishu_card(
            reply,
            note=result.message,
            ask_reason_for=node_id if result.needs_reason else None,
            reason_op=str(value.get("op") or "postpone"),
        )
        answer["card"] = {"type": "raw", "data": card}
    return answer


@csrf_exempt
@require_POST
def feishu_events(request: HttpRequest, app_id: int) -> HttpResponse:
    """A Feishu app's event subscription and card callback URL (one URL for both)."""
    app = _app(app_id, ChatAppPlatform.FEISHU)
    if len(request.body) > MAX_BODY:
        return _refuse("The body is too large.", 400)
    try:
        data = verify_feishu(
            token=app.token, encrypt_key=app.aes_key, headers=request.headers, body=request.body
        )
    except MalformedRequestError as error:
        return _refuse(str(error), 400)
    except SignatureError as error:
        return _refuse(f"Invalid Feishu request: {error}.")
    if data.get("type") == "url_verification":
        return JsonResponse({"challenge": str(data.get("challenge") or "")})
    header = data.get("header") if isinstance(data.get("header"), dict) else {}
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    kind = header.get("event_type")
    if kind == "card.action.trigger":
        return JsonResponse(_feishu_card_action(event))
    if kind == "im.message.receive_v1":
        _feishu_message(app, event)
    return JsonResponse({})


# DingTalk -----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def dingtalk_robot(request: HttpRequest, app_id: int) -> HttpResponse:
    """A DingTalk enterprise robot's message receiving URL (outgoing): answered in the
    response, as markdown @-mentioning the sender."""
    app = _app(app_id, ChatAppPlatform.DINGTALK)
    if len(request.body) > MAX_BODY:
        return _refuse("The body is too large.", 400)
    try:
        data = verify_dingtalk(
            app_secret=app.app_secret, headers=request.headers, body=request.body
        )
    except MalformedRequestError as error:
        return _refuse(str(error), 400)
    except SignatureError as error:
        return _refuse(f"Invalid DingTalk request: {error}.")
    text = data.get("text") if isinstance(data.get("text"), dict) else {}
    staff_id = str(data.get("senderStaffId") or "")[:200]
    user = chat_user(platform=ChatPlatform.DINGTALK, external_id=staff_id)
    reply = command_run(
        user=user,
        text=str(text.get("content") or ""),
        platform=ChatPlatform.DINGTALK.label,
        link_url=chat_link_url(ChatPlatform.DINGTALK, staff_id, str(data.get("senderNick") or "")),
    )
    sender = staff_id if MENTION_ID.match(staff_id) else ""
    return JsonResponse(dingtalk_markdown(reply, sender=sender))


# WeCom --------------------------------------------------------------------------------------


def _xml(body: bytes) -> dict[str, str]:
    """The child elements of a WeCom XML document (no DTDs, no entities)."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise MalformedRequestError("DTDs are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedRequestError("the body is not XML") from exc
    return {child.tag: (child.text or "") for child in root}


def _wecom_answer(app: ChatApp, to_user: str, text: str) -> HttpResponse:
    now = str(int(time.time()))
    reply = ET.Element("xml")
    for name, value in (
        ("ToUserName", to_user),
        ("FromUserName", app.app_id),
        ("CreateTime", now),
        ("MsgType", "text"),
        ("Content", text),
    ):
        ET.SubElement(reply, name).text = value
    encrypted = wecom_encrypt(app.aes_key, ET.tostring(reply, encoding="unicode"), app.app_id)
    nonce = str(time.time_ns() % 10**10)
    answer = ET.Element("xml")
    for name, value in (
        ("Encrypt", encrypted),
        ("MsgSignature", wecom_signature(app.token, now, nonce, encrypted)),
        ("TimeStamp", now),
        ("Nonce", nonce),
    ):
        ET.SubElement(answer, name).text = value
    return HttpResponse(ET.tostring(answer, encoding="unicode"), content_type="application/xml")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wecom_callback(request: HttpRequest, app_id: int) -> HttpResponse:
    """A WeCom self-built app's callback URL: GET answers the URL check (the decrypted
    echostr), POST a message, answered passively (encrypted text)."""
    app = _app(app_id, ChatAppPlatform.WECOM)
    query = {key: request.GET.get(key, "") for key in ("msg_signature", "timestamp", "nonce")}
    try:
        if request.method == "GET":
            echo = verify_wecom(
                token=app.token,
                aes_key=app.aes_key,
                receiver_id=app.app_id,
                query=query,
                encrypted=request.GET.get("echostr", ""),
            )
            return HttpResponse(echo, content_type="text/plain")
        if len(request.body) > MAX_BODY:
            return _refuse("The body is too large.", 400)
        try:
            envelope = _xml(request.body)
        except MalformedRequestError as exc:
            raise SignatureError(f"no Encrypt to verify: {exc}") from exc
        plain = verify_wecom(
            token=app.token,
            aes_key=app.aes_key,
            receiver_id=app.app_id,
            query=query,
            encrypted=envelope.get("Encrypt", ""),
        )
        message = _xml(plain.encode())
    except MalformedRequestError as error:
        return _refuse(str(error), 400)
    except SignatureError as error:
        return _refuse(f"Invalid WeCom request: {error}.")
    if message.get("MsgType") != "text":
        return HttpResponse("")  # events (entering the app…) need no answer
    user_id = message.get("FromUserName", "")[:200]
    user = chat_user(platform=ChatPlatform.WECOM, external_id=user_id)
    reply = command_run(
        user=user,
        text=message.get("Content", ""),
        platform=ChatPlatform.WECOM.label,
        link_url=chat_link_url(ChatPlatform.WECOM, user_id, ""),
    )
    return _wecom_answer(app, user_id, plain_text(reply))
