"""Who may do what: the one place the rules live, for the API, the UI and chat commands alike.

- staff: everything;
- a project's owner: everything in that project;
- a department's lead: create and edit that department's nodes in every project;
- a member: edit the nodes assigned to them;
- any signed-in user: read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.accounts.models import User
    from tracker.milestones.models import Milestone
    from tracker.projects.models import Project


def _led_department_ids(user: User) -> set[int]:
    # Cached per user object so a page that checks 300 cards asks the database once.
    cached = getattr(user, "_led_department_ids", None)
    if cached is None:
        cached = set(user.led_departments.values_list("id", flat=True))
        user._led_department_ids = cached
    return cached


def is_active_user(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def can_manage_project(user: User, project: Project) -> bool:
    """Edit the project itself, baseline it, re-anchor it, delete nodes, manage its channels."""
    return is_active_user(user) and (user.is_staff or project.owner_id == user.id)


def can_create_project(user: User) -> bool:
    return is_active_user(user)


def can_create_milestone(user: User, project: Project, department_id: int | None) -> bool:
    if can_manage_project(user, project):
        return True
    return (
        is_active_user(user)
        and department_id is not None
        and department_id in _led_department_ids(user)
    )


def can_edit_milestone(user: User, milestone: Milestone) -> bool:
    if not is_active_user(user):
        return False
    if user.is_staff or milestone.project.owner_id == user.id:
        return True
    if milestone.department_id in _led_department_ids(user):
        return True
    return milestone.assignee_id == user.id


def can_move_milestone_to_department(user: User, milestone: Milestone, department_id: int) -> bool:
    """Moving a node to another lane also needs the right to create nodes there."""
    return department_id == milestone.department_id or can_create_milestone(
        user, milestone.project, department_id
    )


def can_delete_milestone(user: User, milestone: Milestone) -> bool:
    return can_manage_project(user, milestone.project) or (
        is_active_user(user) and milestone.department_id in _led_department_ids(user)
    )


def can_manage_channel(user: User, project: Project | None) -> bool:
    """Chat channels: staff manage every channel; a project's owner those scoped to the project."""
    return is_active_user(user) and (
        user.is_staff or (project is not None and project.owner_id == user.id)
    )


def can_manage_any_channel(user: User) -> bool:
    """The channels page: staff, and anyone who owns a project (for that project's channels)."""
    return is_active_user(user) and (user.is_staff or user.owned_projects.exists())


def can_manage_templates(user: User) -> bool:
    return is_active_user(user) and user.is_staff


def can_manage_users(user: User) -> bool:
    return is_active_user(user) and user.is_staff
