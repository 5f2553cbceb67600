"""Reads of the integrations app: which channels a person manages, feeds, chat users."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import OuterRef, QuerySet

from tracker.accounts.models import User, display_name
from tracker.core.permissions import managed_projects
from tracker.integrations.models import CalendarFeed, ChatIdentity, ChatPlatform
from tracker.integrations.platforms.base import ESCALATIONS, Person
from tracker.milestones.models import Milestone
from tracker.notifications.models import Channel, PreferenceChannel
from tracker.notifications.preferences import has_muted, kinds_switched_off_by_user


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


def chat_people(*, platform: str, items: Iterable[tuple[int, str]]) -> dict[int, list[Person]]:
    """The people responsible for each node of `items` ((node id, alert kind) pairs), as
    `platform` can mention them: its assignee, and for an escalated node its department's lead
    too. A person with a linked chat identity on `platform` carries its id (and mobile, where
    sign-in stored one); others only their name.

    An @ is a push to that person, so the preferences decide it as they decide an email
    (`preferences.MUTE_SILENCES`): someone who muted the node's project, or switched every kind
    the message says of the node off by chat, is named in plain text, not mentioned; the group
    still sees the alert. Three queries at most, whatever the number of nodes."""
    kinds: dict[int, set[str]] = {}
    for milestone_id, kind in items:
        if isinstance(milestone_id, int):
            kinds.setdefault(milestone_id, set()).add(kind)
    project = OuterRef("project_id")
    rows = (
        Milestone.objects.filter(pk__in=kinds)
        .annotate(
            assignee_muted=has_muted(user=OuterRef("assignee_id"), project=project),
            lead_muted=has_muted(user=OuterRef("department__lead_id"), project=project),
        )
        .values_list(
            "pk",
            "assignee_id",
            "assignee__username",
            "assignee__first_name",
            "assignee__last_name",
            "assignee_muted",
            "department__lead_id",
            "department__lead__username",
            "department__lead__first_name",
            "department__lead__last_name",
            "lead_muted",
        )
    )
    # (user id, name, may be mentioned as far as mutes go) per node.
    wanted: dict[int, list[tuple[int, str, bool]]] = {}
    for pk, assignee_id, *assignee, assignee_muted, lead_id, lead, first, last, lead_muted in rows:
        people = [(assignee_id, display_name(*assignee), not assignee_muted)] if assignee_id else []
        if kinds[pk] & set(ESCALATIONS) and lead_id and lead_id != assignee_id:
            people.append((lead_id, display_name(lead, first, last), not lead_muted))
        if people:
            wanted[pk] = people
    identities: dict[int, ChatIdentity] = {}
    if platform in ChatPlatform.values:
        user_ids = {user_id for people in wanted.values() for user_id, _n, free in people if free}
        for identity in ChatIdentity.objects.filter(
            platform=platform, user_id__in=user_ids, user__is_active=True
        ).order_by("-created_at"):
            identities.setdefault(identity.user_id, identity)
    switched_off = (
        kinds_switched_off_by_user(user_ids=identities, channel=PreferenceChannel.CHAT)
        if identities
        else {}
    )
    result: dict[int, list[Person]] = {}
    for pk, people in wanted.items():
        result[pk] = []
        for user_id, name, free in people:
            identity = identities.get(user_id) if free else None
            if identity is not None and kinds[pk] <= switched_off.get(user_id, set()):
                identity = None
            result[pk].append(
                Person(
                    name=name,
                    external_id=mention_external_id(identity) if identity else "",
                    # Stored (encrypted) by sign-in where the platform gives it.
                    mobile=str(identity.mobile or "") if identity else "",
                )
            )
    return result


def mention_external_id(identity: ChatIdentity) -> str:
    """The id a robot @mentions `identity` by, or "" when it is not known: DingTalk sign-in
    keeps the unionId in `external_id` when the app may not read the organisation's userid,
    and robots mention only by userid (or by mobile number)."""
    if identity.union_id and identity.external_id == identity.union_id:
        return ""
    return identity.external_id
