"""Writes to users, departments and API tokens.

Users and departments are staff's to change (`actor`); preferences and tokens are each
person's own (`user`), so they only ever touch that person's rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import (
    ApiToken,
    AuditEntry,
    Department,
    Membership,
    TokenScope,
    User,
)
from tracker.core.errors import StateConflictError
from tracker.core.permissions import authorize, can_manage_departments, can_manage_users

if TYPE_CHECKING:
    from tracker.projects.models import Project


def token_issue(
    *,
    user: User,
    scope: str = TokenScope.READ,
    expires_in: timedelta | None = None,
    name: str = "",
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token; returns it with the clear key, which is never stored or shown again."""
    if scope not in TokenScope.values:
        raise ValidationError({"scope": _("Scope must be read or write.")})
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationError({"expires_in": _("A token must expire in the future.")})
    now = now or timezone.now()
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[: ApiToken.PREFIX_LENGTH],
        key_hash=ApiToken.hash_key(key),
        scope=scope,
        expires_at=now + expires_in if expires_in else None,
    )
    return token, key


def token_revoke(*, token: ApiToken, now: datetime | None = None) -> ApiToken:
    """Revoke a token (idempotent: the first revocation time is kept)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    token.refresh_from_db(fields=["revoked_at"])
    return token


def user_authorize_write(*, actor: User | None) -> None:
    """Refuse anyone but staff any change to people (asked by every user write and, before it
    reads a body, by the API)."""
    authorize(actor, can_manage_users, message=_("Only staff can change people."))


def department_authorize_write(*, actor: User | None) -> None:
    """Refuse anyone but staff any change to departments."""
    authorize(actor, can_manage_departments, message=_("Only staff can change departments."))


def _refuse_removing_last_staff(*, user_id: int) -> None:
    """Someone must remain able to administer Milepost: refuse (409) when `user_id` is the
    last active staff account and is about to stop being one. The active staff rows are
    locked, so two concurrent removals cannot each leave the other as the last one."""
    staff = set(
        User.objects.select_for_update()
        .filter(is_staff=True, is_active=True)
        .values_list("pk", flat=True)
    )
    if staff == {user_id}:
        raise StateConflictError(
            _(
                "This is the last active staff account: make someone else staff first, "
                "or nobody can administer Milepost."
            )
        )


@transaction.atomic
def user_save(
    *,
    actor: User | None,
    user: User | None = None,
    username: str | None = None,
    email: str | None = None,
    password: str | None = None,
    language: str | None = None,
    department_codes: Iterable[str] | None = None,
    **fields,
) -> User:
    """Create or update a user; memberships are replaced when `department_codes` is given."""
    user_authorize_write(actor=actor)
    user = user or User()
    before = _roles(user) if user.pk else None
    user = _user_write(
        user=user,
        username=username,
        email=email,
        password=password,
        language=language,
        department_codes=department_codes,
        **fields,
    )
    if before is not None:
        after = _roles(user)
        for field in after:
            if before[field] != after[field]:
                _audit_role(
                    actor=actor,
                    subject=user.username,
                    field=field,
                    old=before[field],
                    new=after[field],
                )
    return user


def _roles(user: User) -> dict[str, str]:
    """What a person may do, as the audit log compares it: staff, active, departments."""
    return {
        "is_staff": str(user.is_staff),
        "is_active": str(user.is_active),
        "departments": ",".join(
            sorted(Membership.objects.filter(user=user).values_list("department__code", flat=True))
        ),
    }


def roles_of(user: User) -> dict[str, str]:
    """A person's roles as the audit log compares them, for writers outside `user_save` (the
    admin, whose membership inline saves after the person)."""
    return _roles(user)


def roles_audit(*, actor: User | None, user: User, before: dict[str, str]) -> None:
    """Record each role of `user` that differs from `before` (see `roles_of`)."""
    user.refresh_from_db(fields=["is_staff", "is_active"])
    after = _roles(user)
    for field in after:
        if before[field] != after[field]:
            _audit_role(
                actor=actor,
                subject=user.username,
                field=field,
                old=before[field],
                new=after[field],
            )


def staff_removal_check(*, user: User) -> None:
    """Refuse (StateConflictError) saving `user` as not active staff when they are the last
    active staff account: the rule `user_save` applies, for the admin's form."""
    if user.pk is not None and not (user.is_staff and user.is_active):
        _refuse_removing_last_staff(user_id=user.pk)


def department_lead_audit(*, actor: User | None, department: Department, old_lead: str) -> None:
    """Record a change of a department's lead made outside `department_save` (the admin)."""
    new_lead = department.lead.username if department.lead else ""
    if old_lead != new_lead:
        _audit_role(
            actor=actor,
            subject=_("department %(code)s") % {"code": department.code},
            field="lead",
            old=old_lead,
            new=new_lead,
        )


def _audit_role(*, actor: User | None, subject: str, field: str, old: str, new: str) -> None:
    """Changes of people's roles go to the audit log (append-only): they change who may move
    the dates and the thresholds the deviation rate depends on."""
    AuditEntry.objects.create(
        actor=actor if actor and actor.pk else None,
        subject=subject,
        field=field,
        old_value=old,
        new_value=new,
    )


def _user_write(
    *,
    user: User,
    username: str | None = None,
    email: str | None = None,
    password: str | None = None,
    language: str | None = None,
    department_codes: Iterable[str] | None = None,
    **fields,
) -> User:
    if username is not None:
        user.username = username
    if email is not None:
        user.email = email
    if language is not None:
        user.language = language
    for field, value in fields.items():
        setattr(user, field, value)
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from error
        user.set_password(password)
    elif user.pk is None:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    if user.pk is not None and not (user.is_staff and user.is_active):
        _refuse_removing_last_staff(user_id=user.pk)
    user.save()
    if department_codes is not None:
        codes = set(department_codes)
        departments = list(Department.objects.filter(code__in=codes))
        missing = codes - {d.code for d in departments}
        if missing:
            raise ValidationError(
                {
                    "departments": _("Unknown departments: %(codes)s.")
                    % {"codes": ", ".join(sorted(missing))}
                }
            )
        Membership.objects.filter(user=user).exclude(department__in=departments).delete()
        Membership.objects.bulk_create(
            [Membership(user=user, department=d) for d in departments], ignore_conflicts=True
        )
    return user


@transaction.atomic
def preferences_save(
    *,
    user: User,
    language: str | None = None,
    muted_projects: Iterable[Project] | None = None,
) -> User:
    """Save the settings a user changes for themselves; muted projects are replaced as a set.
    What reaches them by which channel is `tracker.notifications.preferences`."""
    user = _user_write(user=user, language=language)
    if muted_projects is not None:
        user.muted_projects.set(list(muted_projects))
    return user


def lane_collapse_set(*, user: User, department_id: int, collapsed: bool) -> None:
    """Fold or unfold a department's lane on every board this person opens."""
    department = Department.objects.get(pk=department_id)
    if collapsed:
        user.collapsed_lanes.add(department)
    else:
        user.collapsed_lanes.remove(department)


@transaction.atomic
def user_delete(*, user: User, actor: User | None) -> None:
    """Delete a person; one who still owns projects is refused (ProtectedError, a 409), and so
    is the last active staff account (StateConflictError, a 409)."""
    user_authorize_write(actor=actor)
    _refuse_removing_last_staff(user_id=user.pk)
    user.delete()


def department_save(
    *,
    actor: User | None,
    department: Department | None = None,
    **fields,
) -> Department:
    """Create or update a department (name, code, lead)."""
    department_authorize_write(actor=actor)
    department = department or Department()
    old_lead = department.lead.username if department.pk and department.lead else ""
    for field, value in fields.items():
        setattr(department, field, value)
    department.full_clean()
    department.save()
    new_lead = department.lead.username if department.lead else ""
    if old_lead != new_lead:
        _audit_role(
            actor=actor,
            subject=_("department %(code)s") % {"code": department.code},
            field="lead",
            old=old_lead,
            new=new_lead,
        )
    return department


def department_delete(*, department: Department, actor: User | None) -> None:
    """Delete a department; one that still has nodes is refused (ProtectedError, a 409)."""
    department_authorize_write(actor=actor)
    department.delete()


def sign_in_account_remove(*, user: User, account_id: int) -> bool:
    """Disconnect one of `user`'s single sign-on accounts (only their own). Signing in through
    that provider again then takes a verified email of theirs, as the first time did."""
    deleted, _ = SocialAccount.objects.filter(pk=account_id, user=user).delete()
    return bool(deleted)
