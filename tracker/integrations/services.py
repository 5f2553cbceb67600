"""Writes of the integrations app: channels, test messages, calendar feeds and chat identities.

The browser settings, the admin and the REST API all call these, so the rules (who manages a
channel, the SSRF guard at save time, each platform's secret format) hold everywhere.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tracker.accounts.models import Department, Language, User
from tracker.accounts.sso.base import ChatProfile
from tracker.core.delivery import DeliveryError, TransientDeliveryError
from tracker.core.permissions import authorize, can_manage_any_channel, can_manage_channel
from tracker.integrations.delivery import deliver_chat
from tracker.integrations.models import (
    CalendarFeed,
    ChatApp,
    ChatAppPlatform,
    ChatIdentity,
    ChatPlatform,
)
from tracker.integrations.platforms import get_platform
from tracker.integrations.platforms.wecom import aes_key_bytes as wecom_decrypt_key_check
from tracker.integrations.ssrf import UnresolvableURLError, UnsafeURLError, check_url
from tracker.notifications.models import Channel, ChannelEvent, ChannelKind
from tracker.projects.models import Project

CHANNEL_FIELDS = (
    "name",
    "kind",
    "url",
    "secret",
    "project",
    "department",
    "events",
    "is_active",
    "language",
)
CHAT_LINK_SALT = "milepost.integrations.chat-link"
CHAT_LINK_MAX_AGE = 30 * 60


# Channels ----------------------------------------------------------------------------------


def channel_validate(channel: Channel, *, check_address: bool) -> list[str]:
    """Every rule of a channel's final state; all broken ones at once, by field.

    Returns the warnings that do not stop the save: a host name that does not resolve now is
    saved (outbound DNS may be unavailable where Milepost is configured) and checked again,
    address by address, before every send.
    """
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    channel.name = (channel.name or "").strip()
    if not channel.name:
        errors.setdefault("name", []).append(_("Give the channel a name."))
    elif len(channel.name) > 100:
        errors.setdefault("name", []).append(_("At most 100 characters."))
    if channel.kind not in ChannelKind.values:
        errors.setdefault("kind", []).append(
            _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(ChannelKind.values)}
        )
    channel.url = (channel.url or "").strip()
    if not channel.url:
        errors.setdefault("url", []).append(_("Give the webhook URL."))
    elif len(channel.url) > 500:
        errors.setdefault("url", []).append(_("At most 500 characters."))
    elif check_address:
        try:
            check_url(channel.url)
        except UnresolvableURLError as exc:
            warnings.append(
                _("%(reason)s It is saved, and checked again before every send.") % {"reason": exc}
            )
        except UnsafeURLError as exc:
            errors.setdefault("url", []).append(str(exc))
    channel.secret = (channel.secret or "").strip()
    if channel.kind in ChannelKind.values:
        try:
            get_platform(channel.kind).validate_secret(channel.secret)
        except ValidationError as exc:
            errors.setdefault("secret", []).extend(exc.messages)
    events = channel.events if isinstance(channel.events, list) else None
    if not events:
        errors.setdefault("events", []).append(_("Choose at least one event."))
    else:
        unknown = [str(e) for e in events if e not in ChannelEvent.values]
        if unknown:
            errors.setdefault("events", []).append(
                _("Unknown events: %(events)s. Choose from: %(choices)s.")
                % {"events": ", ".join(unknown), "choices": ", ".join(ChannelEvent.values)}
            )
        else:
            channel.events = [e for e in ChannelEvent.values if e in events]
    if channel.project_id and channel.department_id:
        errors.setdefault("department", []).append(
            _("Scope a channel to a project or to a department, not both.")
        )
    if channel.language not in Language.values:
        errors.setdefault("language", []).append(_("Choose English or Simplified Chinese."))
    if errors:
        raise ValidationError(errors)
    return warnings


def channel_authorize_any(*, actor: User | None) -> None:
    """Refuse an actor who may manage no channel at all (not staff, no project of their own),
    before the API reads which project a new channel names."""
    authorize(
        actor,
        can_manage_any_channel,
        message=_("Only staff, or the owner of the channel's project, can manage this channel."),
    )


def _check_permission(actor: User, project: Project | None) -> None:
    authorize(
        actor,
        can_manage_channel,
        project,
        message=_("Only staff, or the owner of the channel's project, can manage this channel."),
    )


@transaction.atomic
def channel_create(
    *,
    actor: User,
    name: str,
    kind: str,
    url: str,
    events: list[str],
    secret: str = "",
    project: Project | None = None,
    department: Department | None = None,
    is_active: bool = True,
    language: str = Language.EN,
) -> Channel:
    """Add a channel. The URL may not reach a non-public address (SSRF guard); `warnings` on
    the returned channel says what was saved unchecked."""
    _check_permission(actor, project)
    channel = Channel(
        name=name,
        kind=kind,
        url=url,
        secret=secret,
        project=project,
        department=department,
        events=list(events or []),
        is_active=is_active,
        language=language,
        created_by=actor,
    )
    warnings = channel_validate(channel, check_address=True)
    channel.save()
    channel.warnings = warnings
    return channel


@transaction.atomic
def channel_update(*, channel_id: int, actor: User, data: Mapping[str, Any]) -> Channel:
    """Change a channel. `data` holds only the changed fields; an absent secret is kept."""
    channel = (
        Channel.objects.select_for_update(of=("self",)).select_related("project").get(pk=channel_id)
    )
    _check_permission(actor, channel.project)
    unknown = set(data) - set(CHANNEL_FIELDS)
    if unknown:
        raise ValidationError({field: _("This field cannot be changed.") for field in unknown})
    old_url = channel.url
    for field, value in data.items():
        setattr(channel, field, value)
    if "project" in data:
        # Moving a channel needs the right to manage it where it lands, too.
        _check_permission(actor, channel.project)
    warnings = channel_validate(channel, check_address=channel.url != old_url)
    channel.save()
    channel.warnings = warnings
    return channel


def channel_switch_off(*, channel_id: int) -> bool:
    """Switch off a channel whose address is gone; False if it was off already."""
    return bool(
        Channel.objects.filter(pk=channel_id, is_active=True).update(
            is_active=False, updated_at=timezone.now()
        )
    )


def channel_delete(*, channel_id: int, actor: User) -> None:
    channel = Channel.objects.select_related("project").get(pk=channel_id)
    _check_permission(actor, channel.project)
    channel.delete()


@dataclass
class TestResult:
    ok: bool
    answer: str
    retry_after: float | None = None


def channel_test_payload(channel: Channel) -> dict[str, Any]:
    with translation.override(channel.language):
        return {
            "event": "test",
            "title": _("Milepost test message"),
            "summary": _("Channel “%(name)s” is connected. It receives: %(events)s.")
            % {
                "name": channel.name,
                "events": ", ".join(
                    str(ChannelEvent(e).label) for e in channel.events if e in ChannelEvent.values
                ),
            },
            "url": settings.SITE_URL + reverse("integrations:channel_list"),
            "items": [],
        }


def channel_send_test(*, channel_id: int, actor: User) -> TestResult:
    """Send a test message now, through the same guard, limiter and signer as real alerts."""
    channel = Channel.objects.select_related("project").get(pk=channel_id)
    _check_permission(actor, channel.project)
    try:
        answer = deliver_chat(
            channel=channel,
            payload=channel_test_payload(channel),
            idempotency_key=f"test-{channel.pk}-{uuid.uuid4().hex}",
        )
    except DeliveryError as exc:
        retry = exc.retry_after if isinstance(exc, TransientDeliveryError) else None
        return TestResult(ok=False, answer=str(exc), retry_after=retry)
    return TestResult(ok=True, answer=answer)


# Calendar feeds ----------------------------------------------------------------------------


def _new_token() -> tuple[str, dict[str, str]]:
    """A clear token and the fields that store it (its prefix and hash)."""
    token = secrets.token_urlsafe(32)
    return token, {
        "prefix": token[: CalendarFeed.PREFIX_LENGTH],
        "token_hash": CalendarFeed.hash_token(token),
    }


def calendar_feed_create(
    *, user: User, project: Project | None = None
) -> tuple[CalendarFeed, str | None]:
    """The user's feed for `project` (or their own nodes) and its clear token, which exists
    only now; an existing feed is returned as is, with no token (make a new one to see it)."""
    token, stored = _new_token()
    CalendarFeed.objects.bulk_create(
        [CalendarFeed(user=user, project=project, **stored)], ignore_conflicts=True
    )
    feed = CalendarFeed.objects.get(user=user, project=project)
    return feed, token if feed.token_hash == stored["token_hash"] else None


def calendar_feed_regenerate(*, feed_id: int, user: User) -> tuple[CalendarFeed, str]:
    """A new secret URL (its token returned once); the old one stops working at once."""
    feed = CalendarFeed.objects.get(pk=feed_id, user=user)
    token, stored = _new_token()
    for field, value in stored.items():
        setattr(feed, field, value)
    feed.save(update_fields=list(stored))
    return feed, token


def calendar_feed_revoke(*, feed_id: int, user: User) -> None:
    CalendarFeed.objects.filter(pk=feed_id, user=user).delete()


# Chat identities ---------------------------------------------------------------------------


def chat_link_token(*, platform: str, external_id: str, display_name: str = "") -> str:
    """A signed, short-lived token naming a chat account; the bot offers it to unknown users."""
    return signing.dumps(
        {"p": platform, "u": external_id, "n": display_name[:200]}, salt=CHAT_LINK_SALT
    )


def chat_link_read(token: str) -> dict[str, str]:
    """The chat account named by a link token; ValidationError when forged or expired."""
    try:
        data = signing.loads(token, salt=CHAT_LINK_SALT, max_age=CHAT_LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError(_("This link has expired: ask the bot for a new one.")) from exc
    except signing.BadSignature as exc:
        raise ValidationError(_("This link is not valid.")) from exc
    if data.get("p") not in ChatPlatform.values or not data.get("u"):
        raise ValidationError(_("This link is not valid."))
    return {"platform": data["p"], "external_id": data["u"], "display_name": data.get("n", "")}


def chat_identity_link(*, user: User, token: str) -> ChatIdentity:
    """Link the chat account of `token` to `user` (moving it if someone else had it)."""
    account = chat_link_read(token)
    identity, _created = ChatIdentity.objects.update_or_create(
        platform=account["platform"],
        external_id=account["external_id"],
        defaults={"user": user, "display_name": account["display_name"]},
    )
    return identity


def chat_identity_unlink(*, identity_id: int, user: User) -> None:
    """Remove one of `user`'s chat accounts: Milepost no longer @mentions them there nor takes
    commands from it (signing in through the platform again links it again)."""
    ChatIdentity.objects.filter(pk=identity_id, user=user).delete()


@transaction.atomic
def chat_identity_sign_in(*, user: User, profile: ChatProfile) -> ChatIdentity:
    """Link the chat account `user` just signed in through: the platform has proven it is
    theirs, so it moves from anyone who had it. The account's earlier rows under another id
    (the same union_id, e.g. before the app could read the directory) are replaced."""
    if profile.union_id:
        ChatIdentity.objects.filter(platform=profile.platform, union_id=profile.union_id).exclude(
            external_id=profile.external_id
        ).delete()
    identity, _created = ChatIdentity.objects.update_or_create(
        platform=profile.platform,
        external_id=profile.external_id,
        defaults={
            "user": user,
            "display_name": profile.display_name[:200],
            "open_id": profile.open_id[:200],
            "union_id": profile.union_id[:200],
            "mobile": profile.mobile[:32],
            "owner_inactive_since": None,
        },
    )
    return identity


# Chat apps ---------------------------------------------------------------------------------

CHAT_APP_SECRETS = ("app_secret", "token", "aes_key")
# What each platform's callback checks with: these must be set.
CHAT_APP_REQUIRED = {
    ChatAppPlatform.FEISHU: ("app_id", "app_secret", "token"),
    ChatAppPlatform.DINGTALK: ("app_secret",),
    ChatAppPlatform.WECOM: ("app_id", "token", "aes_key"),
}


def chat_app_validate(app: ChatApp) -> None:
    """Raise ValidationError (by field) when `app` lacks what its platform's checks need."""
    errors: dict[str, str] = {}
    for name in CHAT_APP_REQUIRED.get(app.platform, ()):
        if not getattr(app, name):
            errors[name] = _("This platform needs it to verify its requests.")
    if app.platform == ChatAppPlatform.WECOM and app.aes_key:
        try:
            wecom_decrypt_key_check(app.aes_key)
        except ValueError:
            errors["aes_key"] = _("An EncodingAESKey is 43 letters and digits.")
    if errors:
        raise ValidationError(errors)


def chat_app_callback_url(app: ChatApp) -> str:
    """The URL to enter in the platform's developer console."""
    name = {
        ChatAppPlatform.FEISHU: "integrations:feishu_events",
        ChatAppPlatform.DINGTALK: "integrations:dingtalk_robot",
        ChatAppPlatform.WECOM: "integrations:wecom_callback",
    }[app.platform]
    return settings.SITE_URL.rstrip("/") + reverse(name, args=[app.pk])
