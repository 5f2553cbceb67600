"""Incoming chat commands: Slack slash commands and a generic signed endpoint for bridges of
Feishu, DingTalk and WeCom app bots. Signatures are checked on the raw body before parsing."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tracker.accounts.selectors import sign_in_account_list
from tracker.accounts.services import sign_in_account_remove
from tracker.integrations.commands import command_run
from tracker.integrations.models import ChatIdentity, ChatPlatform
from tracker.integrations.platforms import get_platform
from tracker.integrations.selectors import chat_identity_list, chat_user
from tracker.integrations.services import (
    chat_identity_link,
    chat_identity_unlink,
    chat_link_read,
    chat_link_token,
)
from tracker.integrations.signatures import (
    SignatureError,
    verify_slack,
    verify_standard_webhook,
)

logger = logging.getLogger(__name__)
COMMAND_PLATFORMS = set(ChatPlatform.values)


def chat_link_url(platform: str, external_id: str, display_name: str) -> str:
    if not external_id:
        return ""
    token = chat_link_token(platform=platform, external_id=external_id, display_name=display_name)
    return f"{settings.SITE_URL}{reverse('integrations:chat_link')}?t={token}"


def _refuse(reason: str, status: int = 401) -> JsonResponse:
    logger.info("Chat command refused: %s", reason)
    return JsonResponse({"ok": False, "error": reason}, status=status)


@csrf_exempt
@require_POST
def slack_commands(request: HttpRequest) -> HttpResponse:
    """A Slack slash command (form-encoded), answered inline well within Slack's 3 seconds."""
    if not settings.SLACK_SIGNING_SECRET:
        return _refuse("Slack commands are not configured (SLACK_SIGNING_SECRET).", 503)
    body = request.body
    try:
        verify_slack(secret=settings.SLACK_SIGNING_SECRET, headers=request.headers, body=body)
    except SignatureError as error:
        return _refuse(f"Invalid Slack signature: {error}.")
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    if form.get("ssl_check"):
        return HttpResponse("")
    external_id = f"{form.get('team_id', '')}:{form.get('user_id', '')}"
    user = chat_user(platform=ChatPlatform.SLACK, external_id=external_id)
    reply = command_run(
        user=user,
        text=form.get("text", ""),
        platform="Slack",
        link_url=chat_link_url(ChatPlatform.SLACK, external_id, form.get("user_name", "")),
    )
    return JsonResponse({"response_type": "ephemeral", "text": reply.slack()})


@csrf_exempt
@require_POST
def chat_commands(request: HttpRequest) -> HttpResponse:
    """Commands relayed by a bridge (Feishu, DingTalk or WeCom app bot), signed with
    CHAT_COMMAND_SECRET the Standard Webhooks way. JSON in: platform, user_id, user_name,
    email, text. JSON out: ok, text, markdown."""
    if not settings.CHAT_COMMAND_SECRET:
        return _refuse("Chat commands are not configured (CHAT_COMMAND_SECRET).", 503)
    body = request.body
    try:
        verify_standard_webhook(
            secret=settings.CHAT_COMMAND_SECRET, headers=request.headers, body=body
        )
    except SignatureError as error:
        return _refuse(f"Invalid signature: {error}.")
    try:
        data = json.loads(body)
    except ValueError:
        return _refuse("The body is not JSON.", 400)
    if not isinstance(data, dict):
        return _refuse("The body must be a JSON object.", 400)
    errors = {}
    platform = data.get("platform")
    if platform not in COMMAND_PLATFORMS:
        errors["platform"] = f"One of: {', '.join(sorted(COMMAND_PLATFORMS))}."
    for name in ("user_id", "email", "text", "user_name"):
        if not isinstance(data.get(name, ""), str):
            errors[name] = "Must be a string."
    if not (data.get("user_id") or data.get("email")) and "platform" not in errors:
        errors["user_id"] = "Give user_id or email."
    if errors:
        return JsonResponse({"ok": False, "errors": errors}, status=400)
    user_id = data.get("user_id", "")[:200]
    user = chat_user(platform=platform, external_id=user_id, email=data.get("email", ""))
    reply = command_run(
        user=user,
        text=data.get("text", ""),
        platform=ChatPlatform(platform).label,
        link_url=chat_link_url(platform, user_id, data.get("user_name", "")),
    )
    markdown = reply.markdown(get_platform(platform).escape)
    return JsonResponse({"ok": reply.ok, "text": reply.plain(), "markdown": markdown})


@login_required
def chat_link_view(request: HttpRequest) -> HttpResponse:
    """Confirm linking the chat account named by the bot's signed link to this user."""
    token = request.POST.get("t") or request.GET.get("t", "")
    try:
        account = chat_link_read(token)
    except ValidationError as error:
        return render(
            request, "integrations/chat_link.html", {"error": error.messages[0]}, status=400
        )
    if request.method == "POST":
        identity = chat_identity_link(user=request.user, token=token)
        messages.success(
            request,
            _("Your %(platform)s account is linked. Chat commands now act as you.")
            % {"platform": identity.get_platform_display()},
        )
        return redirect("integrations:chat_identities")
    context = {
        "token": token,
        "platform": ChatPlatform(account["platform"]).label,
        "display_name": account["display_name"] or account["external_id"],
    }
    return render(request, "integrations/chat_link.html", context)


@login_required
def chat_identities_view(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "integrations/chat_identities.html",
        {
            "identities": chat_identity_list(user=request.user),
            "sign_in_accounts": sign_in_account_list(user=request.user),
            "retention_days": settings.CHAT_IDENTITY_RETENTION_DAYS,
        },
    )


@login_required
@require_POST
def chat_identity_unlink_view(request: HttpRequest, identity_id: int) -> HttpResponse:
    identity = ChatIdentity.objects.filter(pk=identity_id, user=request.user).first()
    if identity is not None:
        chat_identity_unlink(identity_id=identity.pk, user=request.user)
        messages.success(request, _("The chat account is no longer linked."))
    return redirect("integrations:chat_identities")


@login_required
@require_POST
def sign_in_account_remove_view(request: HttpRequest, account_id: int) -> HttpResponse:
    if sign_in_account_remove(user=request.user, account_id=account_id):
        messages.success(request, _("You no longer sign in with that account."))
    return redirect("integrations:chat_identities")
