"""Acting on a node from a chat card's buttons (Feishu's `card.action.trigger`): Done,
+1 working day and Blocked, as the linked Milepost user.

The same service as the API and the `done` command does the work (`milestone_update`): it checks
the person, refuses a baselined project's move (or late completion) without a reason code, and
records the history. A card offers the deviation reasons to choose from when the service asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.core.errors import PermissionDeniedError
from tracker.milestones.models import DeviationReason, Milestone, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.workcal.calendar import add_working_days

ACTIONS = ("done", "postpone", "blocked")


def card_reasons() -> list[tuple[str, str]]:
    """The deviation reasons a card offers (code, name in the active language); "other",
    which needs a text a card cannot take, is left to the board and the API."""
    return [
        (reason.code, reason.name)
        for reason in DeviationReason.objects.active().filter(requires_text=False)
    ]


@dataclass
class ActionResult:
    ok: bool
    message: str
    node: Milestone | None = None
    needs_reason: bool = False


def next_working_day_due(node: Milestone) -> datetime:
    """The same local time one working day later (the project's war room counts)."""
    local = timezone.localtime(node.due_at)
    day = add_working_days(local.date(), 1, war_room=node.project.war_room_window)
    return local.replace(year=day.year, month=day.month, day=day.day)


def card_action_run(
    *,
    user: User | None,
    action: str,
    node_id: int,
    reason: str = "",
    platform: str,
    now: datetime | None = None,
) -> ActionResult:
    """Do `action` on node `node_id` as `user` (None: an unknown chat account: nothing done)."""
    now = now or timezone.now()
    language = user.language if user is not None else settings.LANGUAGE_CODE
    with translation.override(language):
        if user is None or not user.is_active:
            return ActionResult(
                False, _("I don't know you yet: no Milepost user is linked to this chat account.")
            )
        if action not in ACTIONS:
            return ActionResult(False, _("Unknown action."))
        node = (
            Milestone.objects.visible_to(user, include_archived=True)
            .select_related("project")
            .filter(pk=node_id)
            .first()
        )
        if node is None:
            return ActionResult(False, _("There is no node #%(id)s.") % {"id": node_id})
        if action == "postpone":
            data = {"due_at": next_working_day_due(node)}
            change = _("Moved by one working day from %(platform)s.") % {"platform": platform}
        else:
            status = MilestoneStatus.DONE if action == "done" else MilestoneStatus.BLOCKED
            data = {"status": status}
            change = _("Marked %(status)s from %(platform)s.") % {
                "status": status.label.lower(),
                "platform": platform,
            }
        try:
            node = milestone_update(
                milestone_id=node.pk,
                actor=user,
                data=data,
                change_reason=change,
                reason_code=reason,
                now=now,
            )
        except PermissionDeniedError as exc:
            return ActionResult(False, str(exc), node)
        except ValidationError as exc:
            asked = getattr(exc, "message_dict", {}).get("reason_code")
            if asked and action in ("postpone", "done"):
                return ActionResult(False, " ".join(asked), node, needs_reason=True)
            return ActionResult(False, " ".join(exc.messages), node)
        name = user.get_full_name() or user.username
        if action == "done":
            message = _("%(name)s marked #%(id)s done.")
        elif action == "blocked":
            message = _("%(name)s marked #%(id)s blocked.")
        else:
            message = _("%(name)s moved #%(id)s to %(when)s.")
        return ActionResult(
            True,
            message
            % {
                "name": name,
                "id": node.pk,
                "when": timezone.localtime(node.due_at).strftime("%Y-%m-%d %H:%M"),
            },
            node,
        )
