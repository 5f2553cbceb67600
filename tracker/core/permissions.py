"""Who may do what: the one home of the rules, for the API, the UI, chat commands and imports.

- staff: everything;
- a project's owner: everything in that project, its chat channels included;
- a department's lead: create, edit, move into their lane and delete that department's nodes
  in every project; import nodes;
- a member: edit the nodes assigned to them;
- any signed-in user: read everything; comment on the nodes of projects not archived; create
  a project of their own.

Services enforce the rules with `authorize(actor, rule, …)`, which raises the one refusal,
`PermissionDeniedError` (403 in the API, the 403 page or a form message in the UI, a reply in
chat). Views only ask the same rules to decide what to offer. Reads start from the scoping
querysets `Project.objects.visible_to(user)` and `Milestone.objects.visible_to(user)`, built on
`can_read`.

A read-scope API token never writes: that is a property of the credential, not of the person,
so it is checked where credentials are (`core.api.permissions`), before any service runs.

This is the bottom layer: it imports no package above `core` at runtime. Models are only
annotated (TYPE_CHECKING) and read through their attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tracker.core.errors import PermissionDeniedError

if TYPE_CHECKING:
    from tracker.accounts.models import User
    from tracker.milestones.models import Comment, Milestone
    from tracker.projects.models import Project


def authorize(
    actor: User | None,
    rule: Callable[..., bool],
    *args: Any,
    message: str = _("You are not allowed to do this."),
) -> None:
    """Raise PermissionDeniedError(message) unless `rule(actor, *args)`.

    `actor=None` is Milepost itself (a migration, the demo seed, a management command run by
    an operator, a template install): it acts for no person, so there is no one to check.
    Every request has an actor (an anonymous visitor is one), so a request never passes None.
    """
    if actor is not None and not rule(actor, *args):
        raise PermissionDeniedError(message)


def _led_department_ids(user: User) -> set[int]:
    # Cached per user object so a page that checks 300 cards asks the database once.
    cached = getattr(user, "_led_department_ids", None)
    if cached is None:
        cached = set(user.led_departments.values_list("id", flat=True))
        user._led_department_ids = cached
    return cached


def is_active_user(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


# Reading ----------------------------------------------------------------------------------


# The project status the read rule knows by its value; `ProjectStatus.ARCHIVED` is defined
# from it (core cannot import projects).
ARCHIVED = "archived"


def can_read(user: Any) -> bool:
    """Any signed-in, active user reads every project and node; nobody else reads any."""
    return is_active_user(user)


def read_scope(user: Any, *, include_archived: bool, project: str = "") -> Q | None:
    """`can_read` as a filter, for the `visible_to` querysets: None when `user` reads nothing;
    otherwise every project (or, with `project="project__"`, every project's rows), archived
    ones left out unless the reader asked for them (a status filter, or naming one by id)."""
    if not can_read(user):
        return None
    return Q() if include_archived else ~Q(**{f"{project}status": ARCHIVED})


# Projects ---------------------------------------------------------------------------------


def can_manage_project(user: User, project: Project) -> bool:
    """Edit the project itself, baseline it, re-anchor it, delete it or its nodes, manage its
    channels."""
    return is_active_user(user) and (user.is_staff or project.owner_id == user.id)


def can_change_threshold(user: User, project: Project) -> bool:
    """A project's deviation threshold, the bar its rate is judged by: its owner and staff
    only (a department lead who edits the project's nodes may not move it)."""
    return can_manage_project(user, project)


def can_rebaseline(user: User, project: Project) -> bool:
    """Take a new baseline of a project: its owner and staff."""
    return can_manage_project(user, project)


def can_retake_snapshot(user: User) -> bool:
    """Re-take a closed period's report snapshot (the figure of record): staff only."""
    return is_active_user(user) and user.is_staff


def can_import_history(user: User) -> bool:
    """Load a past project, closed and baselined, from a spreadsheet: staff only."""
    return is_active_user(user) and user.is_staff


def managed_projects(user: User, prefix: str = "") -> Q:
    """`can_manage_project` as a filter on projects (or, with `prefix` such as "project__", on
    rows that belong to a project): all for staff, their own for owners."""
    if not is_active_user(user):
        return Q(pk__in=[])
    if user.is_staff:
        return Q()
    return Q(**{f"{prefix}owner": user})


def can_create_project(user: User, owner: User | None = None) -> bool:
    """Anyone signed in creates a project they own; only staff create one for someone else."""
    return is_active_user(user) and (owner is None or owner.pk == user.pk or user.is_staff)


def can_edit_calendar(user: User) -> bool:
    """Add or remove the organisation's holidays and make-up workdays."""
    return is_active_user(user) and user.is_staff


# Nodes ------------------------------------------------------------------------------------


def can_create_milestone(user: User, project: Project, department_id: int | None) -> bool:
    if can_manage_project(user, project):
        return True
    return (
        is_active_user(user)
        and department_id is not None
        and department_id in _led_department_ids(user)
    )


def can_create_any_milestone(user: User) -> bool:
    """Whether `can_create_milestone` can hold anywhere: staff, the owner of a project, the
    lead of a department."""
    if not is_active_user(user):
        return False
    return user.is_staff or bool(_led_department_ids(user)) or user.owned_projects.exists()


def can_edit_milestone(user: User, milestone: Milestone) -> bool:
    if not is_active_user(user):
        return False
    if user.is_staff or milestone.project.owner_id == user.id:
        return True
    if milestone.department_id in _led_department_ids(user):
        return True
    return milestone.assignee_id == user.id


def can_acknowledge_lateness(user: User, milestone: Milestone) -> bool:
    """Acknowledge a late node with a promise: its assignee or its department's lead, the
    people its first two rungs name (docs/escalation.md)."""
    if not is_active_user(user):
        return False
    return milestone.assignee_id == user.id or milestone.department_id in _led_department_ids(user)


def can_comment(user: User, milestone: Milestone) -> bool:
    """Whoever reads a node's project may comment on it, while the project is not archived."""
    return can_read(user) and milestone.project.status != ARCHIVED


def can_delete_comment(user: User, comment: Comment) -> bool:
    """A comment's author, and staff."""
    return is_active_user(user) and (user.is_staff or comment.author_id == user.id)


def can_move_milestone_to_department(user: User, milestone: Milestone, department_id: int) -> bool:
    """Moving a node to another lane also needs the right to create nodes there."""
    return department_id == milestone.department_id or can_create_milestone(
        user, milestone.project, department_id
    )


def can_delete_milestone(user: User, milestone: Milestone) -> bool:
    return can_manage_project(user, milestone.project) or (
        is_active_user(user) and milestone.department_id in _led_department_ids(user)
    )


def can_import_milestones(user: User, project: Project) -> bool:
    """Open the import of a project: its managers and any department lead (each row is then
    held to `can_create_milestone`)."""
    return can_manage_project(user, project) or (
        is_active_user(user) and bool(_led_department_ids(user))
    )


# Chat channels ----------------------------------------------------------------------------


def can_manage_channel(user: User, project: Project | None) -> bool:
    """Chat channels: staff manage every channel; a project's owner those scoped to the project."""
    return is_active_user(user) and (
        user.is_staff or (project is not None and project.owner_id == user.id)
    )


def can_manage_any_channel(user: User) -> bool:
    """The channels page: staff, and anyone who owns a project (for that project's channels)."""
    return is_active_user(user) and (user.is_staff or user.owned_projects.exists())


# Reference data ---------------------------------------------------------------------------


def can_manage_templates(user: User) -> bool:
    return is_active_user(user) and user.is_staff


def can_manage_departments(user: User) -> bool:
    return is_active_user(user) and user.is_staff


def can_manage_users(user: User) -> bool:
    return is_active_user(user) and user.is_staff
