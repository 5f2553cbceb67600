"""Reads of the integrations app: which channels a person manages, feeds, chat users."""

from __future__ import annotations

from django.db.models import QuerySet

from tracker.accounts.models import User
from tracker.core.permissions import managed_projects
from tracker.integrations.models import CalendarFeed, ChatIdentity
from tracker.notifications.models import Channel


def channel_list(*, user: User) -> QuerySet[Channel]:
    """The channels `user` manages (`can_manage_channel`): all for staff, those of their
    projects for owners."""
    return (
        Channel.objects.select_related("project", "department")
        .filter(managed_projects(user, "project__"))
        .order_by("name", "id")
    )


def calendar_feed_by_token(token: str) -> CalendarFeed | None:
    """The live feed behind a secret URL, or None (unknown, revoked, or owner deactivated)."""
    if not token or len(token) > 64:
        return None
    return (
        CalendarFeed.objects.select_related("user", "project")
        .filter(token_hash=CalendarFeed.hash_token(token), user__is_active=True)
        .first()
    )


def calendar_feed_list(*, user: User) -> QuerySet[CalendarFeed]:
    return CalendarFeed.objects.filter(user=user).select_related("project")


def chat_user(*, platform: str, external_id: str = "", email: str = "") -> User | None:
    """The active Milepost user behind a chat account: a linked identity first, then the
    email the platform vouches for (case-insensitive); None when neither is known."""
    if external_id:
        identity = (
            ChatIdentity.objects.select_related("user")
            .filter(platform=platform, external_id=external_id, user__is_active=True)
            .first()
        )
        if identity is not None:
            return identity.user
    email = (email or "").strip()
    if email:
        return User.objects.filter(email__iexact=email, is_active=True).first()
    return None


def chat_identity_list(*, user: User) -> QuerySet[ChatIdentity]:
    return ChatIdentity.objects.filter(user=user)
