"""A person's own data: everything Milepost holds about them (export), and its erasure on
request (China's Personal Information Protection Law, arts. 45 and 47).

Erasure anonymises rather than deletes: the history, alerts and reports are the
organisation's record and keep their entries, now pointing to `erased-<id>`. What only
identifies or reaches the person (names, email, password, tokens, feeds, chat accounts,
memberships, queued and sent emails) goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext

from tracker.accounts.models import ApiToken, Department, Membership, User
from tracker.core.errors import PermissionDeniedError
from tracker.core.permissions import authorize, can_manage_users
from tracker.integrations.models import CalendarFeed, ChatIdentity
from tracker.milestones.models import Milestone, MilestoneChange
from tracker.notifications.models import NotificationPreference, OutboxMessage
from tracker.projects.models import Project
from tracker.reports.models import ReportSnapshot


def _dates(queryset, *fields: str) -> list[dict]:
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        for row in queryset.values(*fields)
    ]


def person_data_export(*, user: User) -> dict:
    """Everything about `user`, as JSON-ready data (credentials by their labels only)."""
    profile = _dates(
        User.objects.filter(pk=user.pk),
        "id",
        "username",
        "first_name",
        "last_name",
        "email",
        "language",
        "is_active",
        "is_staff",
        "date_joined",
        "last_login",
    )[0]
    return {
        "profile": profile,
        "muted_projects": list(user.muted_projects.values("id", "name")),
        "notification_preferences": list(
            NotificationPreference.objects.filter(user=user)
            .order_by("kind", "channel")
            .values("kind", "channel", "delivery")
        ),
        "departments": _dates(
            Membership.objects.filter(user=user),
            "department__code",
            "department__name",
            "joined_at",
        ),
        "departments_led": list(Department.objects.filter(lead=user).values("code", "name")),
        "projects_owned": _dates(
            Project.objects.filter(owner=user), "id", "name", "d_day", "status"
        ),
        "nodes_assigned": _dates(
            Milestone.objects.filter(assignee=user), "id", "project_id", "title", "due_at", "status"
        ),
        "history_written": _dates(
            MilestoneChange.objects.filter(actor=user),
            "milestone_id",
            "field",
            "old_value",
            "new_value",
            "reason",
            "created_at",
        ),
        "api_tokens": _dates(
            ApiToken.objects.filter(user=user),
            "name",
            "prefix",
            "scope",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        ),
        "calendar_feeds": _dates(
            CalendarFeed.objects.filter(user=user), "project_id", "created_at", "last_fetched_at"
        ),
        "chat_identities": _dates(
            ChatIdentity.objects.filter(user=user),
            "platform",
            "external_id",
            "display_name",
            "open_id",
            "union_id",
            "mobile",
            "created_at",
        ),
        "sign_in_accounts": _dates(
            SocialAccount.objects.filter(user=user), "provider", "uid", "date_joined", "last_login"
        ),
        "emails": _dates(
            OutboxMessage.objects.filter(recipient=user),
            "event",
            "subject",
            "status",
            "created_at",
            "sent_at",
        ),
    }


@dataclass(frozen=True)
class ErasureResult:
    """What was erased, and what still names the anonymised account for staff to reassign."""

    username: str
    history_entries_kept: int
    emails_deleted: int
    open_nodes_assigned: int
    departments_led: int
    projects_owned: int


def _replace_json_string(model, column: str, old: str, new: str) -> None:
    """Replace the JSON string value `old` by `new` in every row of `model.column`."""
    old_json, new_json = json.dumps(old, ensure_ascii=False), json.dumps(new, ensure_ascii=False)
    table, col = model._meta.db_table, connection.ops.quote_name(column)
    text = f"{col}::text" if connection.vendor == "postgresql" else col
    back = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {col} = replace({text}, %s, %s){back} WHERE {text} LIKE %s",
            [old_json, new_json, f"%{old_json}%"],
        )


@transaction.atomic
def person_erase(*, actor: User, user: User) -> ErasureResult:
    """Anonymise `user` on their request. Staff only, and not oneself."""
    authorize(actor, can_manage_users, message=gettext("Only staff may erase a person's data."))
    if actor.pk == user.pk:
        raise PermissionDeniedError(gettext("Staff cannot erase their own account."))
    user = User.objects.select_for_update().get(pk=user.pk)
    old, new = user.username, f"erased-{user.pk}"
    # The history names assignees by username; snapshots and chat messages too.
    for column in ("old_value", "new_value"):
        MilestoneChange.objects.filter(field="assignee", **{column: old}).update(**{column: new})
    _replace_json_string(ReportSnapshot, "data", old, new)
    _replace_json_string(OutboxMessage, "payload", old, new)
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    ).update(object_repr=new)
    emails, _ = OutboxMessage.objects.filter(recipient=user).delete()
    for model in (
        ApiToken,
        CalendarFeed,
        ChatIdentity,
        Membership,
        NotificationPreference,
        SocialAccount,
    ):
        model.objects.filter(user=user).delete()
    user.muted_projects.clear()
    user.groups.clear()
    user.user_permissions.clear()
    User.objects.filter(pk=user.pk).update(
        username=new,
        first_name="",
        last_name="",
        email="",
        password=make_password(None),
        is_active=False,
        is_staff=False,
        is_superuser=False,
        last_login=None,
    )
    return ErasureResult(
        username=new,
        history_entries_kept=MilestoneChange.objects.filter(
            Q(actor=user) | Q(field="assignee", old_value=new) | Q(field="assignee", new_value=new)
        ).count(),
        emails_deleted=emails,
        open_nodes_assigned=Milestone.objects.open().filter(assignee=user).count(),
        departments_led=Department.objects.filter(lead=user).count(),
        projects_owned=Project.objects.filter(owner=user).count(),
    )


@dataclass(frozen=True)
class PurgeResult:
    marked: int  # chat accounts of people found deactivated, from now on counting
    kept: int  # of people active again: no longer counting
    deleted: int  # past CHAT_IDENTITY_RETENTION_DAYS


@transaction.atomic
def chat_identities_purge(*, now: datetime) -> PurgeResult:
    """Remove a deactivated person's chat accounts (open_id, union_id, mobile) once they have
    been deactivated `CHAT_IDENTITY_RETENTION_DAYS`, as erasure removes them: nothing then
    @mentions or acts as that person in a chat. The retention counts from the first run that
    finds the person deactivated (Milepost does not record when an account was deactivated);
    reactivating the person stops the count. Idempotent: run daily."""
    marked = ChatIdentity.objects.filter(
        user__is_active=False, owner_inactive_since__isnull=True
    ).update(owner_inactive_since=now)
    kept = ChatIdentity.objects.filter(
        user__is_active=True, owner_inactive_since__isnull=False
    ).update(owner_inactive_since=None)
    cutoff = now - timedelta(days=settings.CHAT_IDENTITY_RETENTION_DAYS)
    deleted, _ = ChatIdentity.objects.filter(
        user__is_active=False, owner_inactive_since__lte=cutoff
    ).delete()
    return PurgeResult(marked=marked, kept=kept, deleted=deleted)
