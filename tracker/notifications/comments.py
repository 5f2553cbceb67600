"""Comments on nodes, and who hears of them: posting tells the people a comment names
(@username: a "mention") and the node's assignee, or its department's lead when nobody is
assigned (a "comment"), each once, never the author, by email and in the app as their
preferences for that kind say (`preferences`): inactive people hear nothing, and a person who
muted the project gets the inbox item but no email (`preferences.MUTE_SILENCES`).

It lives here, not in `milestones`, because telling people needs the outbox and the inbox.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.core.delivery import NothingToSend
from tracker.core.errors import PermissionDeniedError
from tracker.core.permissions import authorize, can_comment, can_delete_comment
from tracker.milestones.models import Comment, Milestone
from tracker.notifications import links
from tracker.notifications.emails import RenderedEmail, email_render, email_renderer
from tracker.notifications.inbox import inbox_notify
from tracker.notifications.models import (
    OutboxEvent,
    OutboxMessage,
    PersonalEvent,
    PreferenceChannel,
    kind_label,
)
from tracker.notifications.preferences import (
    kinds_switched_off,
    people_receiving,
    unsubscribe_headers,
)
from tracker.notifications.services import outbox_queue

BODY_MAX = Comment._meta.get_field("body").max_length
# "@name": a username (Django's characters: letters, digits, @ . + - _), not inside a word or
# an email address; a trailing full stop ends the sentence, not the name.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]+)")


def mentioned_usernames(body: str) -> list[str]:
    """The usernames `body` names with @, in order, each once."""
    return list(dict.fromkeys(name.rstrip(".") for name in MENTION.findall(body)))


def _preview(body: str) -> str:
    return " ".join(body.split())


def comment_authorize(*, actor: User, milestone_id: int) -> Milestone:
    """The node `actor` would comment on: Milestone.DoesNotExist when they cannot see it,
    PermissionDeniedError when its project is archived."""
    milestone = (
        Milestone.objects.visible_to(actor, include_archived=True)
        .select_related("project", "department")
        .get(pk=milestone_id)
    )
    authorize(
        actor,
        can_comment,
        milestone,
        message=_("This project is archived: its nodes take no more comments."),
    )
    return milestone


@transaction.atomic
def comment_post(
    *, actor: User, milestone_id: int, body: str, now: datetime | None = None
) -> Comment:
    """Add `actor`'s comment to the node and tell the people it concerns (see the module).

    Raises Milestone.DoesNotExist for a node `actor` cannot see, PermissionDeniedError when
    its project is archived, ValidationError for an empty or too long body.
    """
    milestone = comment_authorize(actor=actor, milestone_id=milestone_id)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write something first.")]})
    if len(body) > BODY_MAX:
        raise ValidationError(
            {"body": [_("At most %(max)d characters, please.") % {"max": BODY_MAX}]}
        )
    if "\x00" in body:
        raise ValidationError({"body": [_("The text holds a character that is not allowed.")]})
    now = now or timezone.now()
    comment = Comment.objects.create(milestone=milestone, author=actor, body=body, created_at=now)
    mentioned = list(
        User.objects.filter(username__in=mentioned_usernames(body), is_active=True).exclude(
            pk=actor.pk
        )
    )
    told = {user.pk for user in mentioned}
    responsible_id = milestone.assignee_id or milestone.department.lead_id
    others = (
        list(User.objects.filter(pk=responsible_id).exclude(pk__in=told | {actor.pk}))
        if responsible_id
        else []
    )
    for kind, users in ((PersonalEvent.MENTION, mentioned), (PersonalEvent.COMMENT, others)):
        if users:
            _notify(comment=comment, milestone=milestone, kind=kind, users=users, now=now)
    return comment


def _notify(
    *, comment: Comment, milestone: Milestone, kind: str, users: list[User], now: datetime
) -> None:
    """An inbox item and an email of `kind` about `comment` for each of `users` who wants it."""
    inbox_notify(
        recipients=users,
        kind=kind,
        milestone=milestone,
        actor=comment.author,
        text=_preview(comment.body),
        comment=comment,
        now=now,
    )
    by_email = (
        people_receiving(
            User.objects.filter(pk__in=[user.pk for user in users]),
            kind=kind,
            channel=PreferenceChannel.EMAIL,
            project_id=milestone.project_id,
        )
        .exclude(email="")
        .values_list("pk", flat=True)
    )
    outbox_queue(
        [
            OutboxMessage(
                event=OutboxEvent.COMMENT,
                recipient_id=pk,
                payload={"comment_id": comment.pk, "kind": kind},
                dedupe_key=f"comment:{comment.pk}:user:{pk}",
                created_at=now,
                next_attempt_at=now,
            )
            for pk in by_email
        ]
    )


def comment_delete(*, actor: User, comment_id: int, now: datetime | None = None) -> Comment:
    """Take a comment out of its thread (its author or staff): the row stays, its body goes.
    Raises Comment.DoesNotExist for one `actor` cannot see, PermissionDeniedError."""
    comment = (
        Comment.objects.filter(milestone__in=Milestone.objects.visible_to(actor))
        .select_for_update()
        .get(pk=comment_id, deleted_at__isnull=True)
    )
    if not can_delete_comment(actor, comment):
        raise PermissionDeniedError(_("Only its author or staff may delete a comment."))
    comment.body = ""
    comment.deleted_at = now or timezone.now()
    comment.save(update_fields=["body", "deleted_at"])
    return comment


@email_renderer(OutboxEvent.COMMENT)
def _render_comment(message: OutboxMessage, now: datetime) -> RenderedEmail:
    """A mention or a comment by email; nothing when the comment was deleted meanwhile or the
    person has switched that kind off since it was queued."""
    kind = message.payload.get("kind", PersonalEvent.COMMENT)
    comment = (
        Comment.objects.shown()
        .select_related("author", "milestone__project")
        .filter(pk=message.payload.get("comment_id"))
        .first()
    )
    if comment is None:
        raise NothingToSend("The comment was deleted.")
    if kind in kinds_switched_off(user=message.recipient, channel=PreferenceChannel.EMAIL):
        raise NothingToSend("The recipient switched these emails off.")
    node = comment.milestone
    author = str(comment.author) if comment.author else _("Someone")
    if kind == PersonalEvent.MENTION:
        subject = _("%(author)s mentioned you on “%(node)s”") % {"author": author, "node": node}
    else:
        subject = _("%(author)s commented on “%(node)s”") % {"author": author, "node": node}
    return email_render(
        "comment",
        subject,
        {
            "comment": comment,
            "author": author,
            "node": node,
            "project": node.project,
            "node_url": links.node_url(node.pk),
            "settings_url": links.settings_url(),
            "kinds_text": kind_label(kind),
        },
        headers=unsubscribe_headers(user=message.recipient, kinds=[kind]),
    )
