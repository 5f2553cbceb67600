"""The in-app inbox (the bell): what is addressed to a person, shown at once.

Alerts reach it through the scan's fan-out (`tracker.alerts.fanout`), mentions and comments
through `inbox_notify`; both leave out whoever switched the kind off "in the app" or is
inactive (`preferences.people_receiving`). A muted project's items are in it too: muting
silences the pushes only (`preferences.MUTE_SILENCES`). The email digest never delays an item.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from tracker.accounts.models import User
from tracker.milestones.models import Comment, Milestone
from tracker.notifications.models import InboxItem, PreferenceChannel
from tracker.notifications.preferences import people_receiving

PAGE_SIZE = 50
TEXT_LENGTH = InboxItem._meta.get_field("text").max_length


def inbox_notify(
    *,
    recipients: Iterable[User],
    kind: str,
    milestone: Milestone,
    actor: User | None = None,
    text: str = "",
    comment: Comment | None = None,
    now: datetime | None = None,
) -> list[InboxItem]:
    """An item of `kind` about `milestone` for each of `recipients` who wants it in the app
    (never for `actor`, who did it). Returns the items written."""
    ids = {user.pk for user in recipients} - {actor.pk if actor else None}
    if not ids:
        return []
    now = now or timezone.now()
    wanted = people_receiving(
        User.objects.filter(pk__in=ids),
        kind=kind,
        channel=PreferenceChannel.IN_APP,
        project_id=milestone.project_id,
    ).values_list("pk", flat=True)
    if len(text) > TEXT_LENGTH:
        text = text[: TEXT_LENGTH - 1] + "…"
    return InboxItem.objects.bulk_create(
        [
            InboxItem(
                recipient_id=pk,
                kind=kind,
                project_id=milestone.project_id,
                milestone=milestone,
                actor=actor,
                text=text,
                comment=comment,
                created_at=now,
            )
            for pk in sorted(wanted)
        ]
    )


def inbox_unread_count(*, user: User) -> int:
    """The bell's number: one count on the partial index of unread items."""
    return InboxItem.objects.filter(recipient=user).unread().count()


def inbox_items(*, user: User, limit: int = PAGE_SIZE) -> list[InboxItem]:
    """`user`'s latest items, newest first, with what their rows show (one query)."""
    return list(
        InboxItem.objects.filter(recipient=user)
        .select_related("milestone", "project", "actor", "alert")
        .only(
            "kind",
            # A lateness episode's open alert offers its snooze (docs/escalation.md).
            "alert__episode_id",
            "alert__resolved_at",
            "text",
            "created_at",
            "read_at",
            "milestone__title",
            "milestone__project_id",
            "project__name",
            "actor__username",
            "actor__first_name",
            "actor__last_name",
        )
        .order_by("-created_at", "-id")[:limit]
    )


def inbox_mark_read(
    *, user: User, item_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Mark `user`'s unread items `item_ids` (all of them when None) read; returns how many.
    Someone else's items are never touched."""
    items = InboxItem.objects.filter(recipient=user).unread()
    if item_ids is not None:
        items = items.filter(pk__in=list(item_ids))
    return items.update(read_at=now or timezone.now())


def inbox_purge(*, now: datetime) -> int:
    """Delete the items older than INBOX_RETENTION_DAYS (the nightly retention job)."""
    cutoff = now - timedelta(days=settings.INBOX_RETENTION_DAYS)
    deleted, _ = InboxItem.objects.filter(created_at__lt=cutoff).delete()
    return deleted
