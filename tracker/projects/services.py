"""Writes to projects and templates: creation from a template, baseline, re-anchoring.

The nodes themselves are written by `tracker.milestones.services` (with their history rows);
`projects` sits above `milestones` and calls it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext

from tracker.accounts.models import AuditEntry, User
from tracker.core.errors import StateConflictError
from tracker.core.locks import node_deletion_lock
from tracker.core.permissions import (
    authorize,
    can_change_threshold,
    can_create_project,
    can_manage_project,
    can_manage_templates,
    can_rebaseline,
)
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.milestones.selectors import find_cycle
from tracker.milestones.services import (
    PlannedNode,
    Reason,
    milestone_bulk_baseline,
    milestone_bulk_create,
    milestone_bulk_shift,
    milestone_update,
    reason_resolve,
    shifted_nodes,
)
from tracker.projects.models import (
    OffsetUnit,
    PastNodeAction,
    Project,
    ProjectBaseline,
    ProjectKind,
    ProjectStatus,
    ProjectTemplate,
    TemplateNode,
)
from tracker.workcal.calendar import WarRoom, WorkingCalendar, base_name
from tracker.workcal.models import RollRule

TEMPLATE_DATA_DIR = Path(__file__).parent / "template_data"
_MANAGE_PROJECT = _lazy("Only the project's owner or staff can change this project.")
_MANAGE_TEMPLATES = _lazy("Only staff can change templates.")


def project_authorize_manage(*, project: Project, actor: User | None) -> None:
    """Refuse an actor who may not change this project (every project service asks the same
    rule; the API asks it before it reads a body)."""
    authorize(actor, can_manage_project, project, message=_MANAGE_PROJECT)


def template_authorize_write(*, actor: User | None) -> None:
    """Refuse anyone but staff any change to templates."""
    authorize(actor, can_manage_templates, message=_MANAGE_TEMPLATES)


# The project fields whose changes the audit log keeps (with the baseline and re-baselines).
AUDITED_FIELDS = ("deviation_threshold", "d_day", "owner", "status")


def _audit_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, User):
        return value.username
    return str(value)


def project_audit(
    *,
    project: Project,
    actor: User | None,
    field: str,
    old: Any,
    new: Any,
    reason: Reason | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the project's audit log (actor, time, old → new, reason)."""
    reason = reason or Reason()
    return AuditEntry.objects.create(
        created_at=now or timezone.now(),
        actor=actor if actor and actor.pk else None,
        project_ref=project.pk,
        subject=_("project %(name)s") % {"name": project.name},
        field=field,
        old_value=_audit_value(old),
        new_value=_audit_value(new),
        reason_code=reason.code,
        reason=reason.text,
    )


@dataclass(frozen=True)
class ScheduledNode(PlannedNode):
    """A template node placed on a working day, and what moved it there."""

    moved_from: date | None = None  # where it would be without holidays and make-up workdays
    moved_because: str = ""  # the breaks that moved it


def _weekdays_from(day: date, count: int) -> date:
    """`count` Mondays-to-Fridays from `day`: a plain office week, holidays ignored."""
    step = timedelta(days=1 if count > 0 else -1)
    for _n in range(abs(count)):
        day += step
        while day.weekday() >= 5:
            day += step
    return day


def _because(calendar: WorkingCalendar, first: date, last: date) -> str:
    """The breaks from `first` to `last`, each named once by its first named day off
    (“Mid-Autumn Festival, National Day”)."""
    names: list[str] = []
    in_break = named = False
    for n in range((last - first).days + 1):
        day = calendar.day(first + timedelta(days=n))
        if day.working:
            in_break = False
            continue
        if not in_break:
            in_break, named = True, False
        if not named and day.name:
            named = True
            if base_name(day.name) not in names:
                names.append(base_name(day.name))
    return ", ".join(names)


def template_node_day(
    *,
    calendar: WorkingCalendar,
    template: ProjectTemplate,
    d_day: date,
    offset: int,
    war_room: WarRoom | None = None,
) -> tuple[date, date | None, str]:
    """The working day of a template node (local dates), where it would be without the holiday
    calendar when that differs, and why. The D-day itself (offset 0) never moves.

    Working-day offsets count only working days from the D-day; calendar-day offsets that land
    on a non-working day move to the previous or next working day (the template's rule).
    """
    if offset == 0:
        return d_day, None, ""
    rule = template.roll_rule
    if template.offset_unit == OffsetUnit.WORKING_DAYS:
        plain = _weekdays_from(d_day, offset)
        day = calendar.add_working_days(d_day, offset, rule=rule, war_room=war_room)
        if day == plain:
            return day, None, ""
        span = sorted([day, plain, d_day])
        return day, plain, _because(calendar, span[0], span[-1]) or _("war room")
    plain = d_day + timedelta(days=offset)
    day = calendar.roll(plain, rule, war_room)
    if day == plain:
        return day, None, ""
    return day, plain, calendar.day(plain).name or str(WEEKDAYS[plain.weekday()])


def template_schedule(
    *,
    template: ProjectTemplate,
    d_day: datetime,
    war_room: WarRoom | None = None,
    calendar: WorkingCalendar | None = None,
) -> list[ScheduledNode]:
    """Every node of the template, dated from the D-day in the current time zone on a working
    day (see `template_node_day`); a moved node says from where and why."""
    calendar = calendar or WorkingCalendar()
    local_day = timezone.localtime(d_day).date()
    zone = timezone.get_current_timezone()
    schedule = []
    for node in template.nodes.all():
        day, moved_from, because = template_node_day(
            calendar=calendar,
            template=template,
            d_day=local_day,
            offset=node.offset_days,
            war_room=war_room,
        )
        schedule.append(
            ScheduledNode(
                key=node.key,
                title=node.title,
                description=node.description,
                department_code=node.department_code,
                due_at=datetime.combine(day, node.time_of_day, tzinfo=zone),
                depends_on=tuple(node.depends_on),
                moved_from=moved_from,
                moved_because=because,
            )
        )
    return schedule


def next_working_moment(
    after: datetime, at: time, calendar: WorkingCalendar, war_room: WarRoom | None = None
) -> datetime:
    """The first working day, today or later, whose `at` o'clock is still ahead of `after`."""
    local = timezone.localtime(after)
    day = calendar.roll(local.date(), RollRule.NEXT, war_room)
    moment = datetime.combine(day, at, tzinfo=local.tzinfo)
    if moment <= after:
        day = calendar.add_working_days(day, 1, war_room=war_room)
        moment = datetime.combine(day, at, tzinfo=local.tzinfo)
    return moment


def past_node_keys(schedule: list[ScheduledNode], *, now: datetime) -> set[str]:
    """The nodes a schedule puts in the past (due at or before `now`): the wizard asks what to
    do with each of them."""
    return {node.key for node in schedule if node.due_at <= now}


def schedule_past_nodes(
    schedule: list[ScheduledNode],
    actions: Mapping[str, str],
    *,
    now: datetime,
    war_room: WarRoom | None = None,
    calendar: WorkingCalendar | None = None,
) -> tuple[list[ScheduledNode], set[str]]:
    """Apply the wizard's choice for each node the schedule puts in the past.

    `skip` leaves the node out (and out of its downstream nodes' dependencies), `reschedule`
    keeps it on the next working day at its template time, `done` keeps its date and returns
    its key among those to mark done once created. A past node without a choice is kept as
    scheduled; choices for nodes that are not in the past are ignored.
    """
    calendar = calendar or WorkingCalendar()
    past = past_node_keys(schedule, now=now)
    unknown = sorted(set(actions.values()) - set(PastNodeAction.values))
    if unknown:
        raise ValidationError(
            {"past_nodes": _("Unknown choices: %(values)s.") % {"values": ", ".join(unknown)}}
        )
    chosen = {key: action for key, action in actions.items() if key in past}
    skipped = {key for key, action in chosen.items() if action == PastNodeAction.SKIP}
    kept = []
    for node in schedule:
        if node.key in skipped:
            continue
        if chosen.get(node.key) == PastNodeAction.RESCHEDULE:
            local = timezone.localtime(node.due_at)
            node = replace(
                node, due_at=next_working_moment(now, local.timetz(), calendar, war_room)
            )
        if skipped.intersection(node.depends_on):
            node = replace(node, depends_on=tuple(k for k in node.depends_on if k not in skipped))
        kept.append(node)
    done = {key for key, action in chosen.items() if action == PastNodeAction.DONE}
    return kept, done


def _mark_done_before_start(milestone: Milestone, *, actor: User | None, now: datetime) -> None:
    """A node that was finished before the project was entered: done on its due date."""
    milestone_update(
        milestone_id=milestone.pk,
        actor=actor,
        data={"status": MilestoneStatus.DONE, "completed_at": milestone.due_at},
        change_reason=_("Done before the project was created"),
        now=now,
    )


def template_kind_check(template: ProjectTemplate | None, kind: str) -> None:
    """A project takes only a template of its own kind (a campaign's, or a launch's)."""
    if template is not None and template.kind != kind:
        raise ValidationError(
            {
                "template": _("Template “%(name)s” is for another kind of project.")
                % {"name": template.name}
            }
        )


@transaction.atomic
def project_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    d_day: datetime,
    owner: User,
    template: ProjectTemplate | None = None,
    deviation_threshold: Decimal | None = None,
    due_soon_window: timedelta | None = None,
    escalate_after: timedelta | None = None,
    escalate_owner_after: timedelta | None = None,
    escalate_contact_after: timedelta | None = None,
    nudge_every: timedelta | None = None,
    escalation_contact: User | None = None,
    status: str = ProjectStatus.PLANNING,
    now: datetime | None = None,
    working_hours: str = "",
    war_room: bool = False,
    war_room_days_before: int | None = None,
    war_room_days_after: int | None = None,
    past_nodes: Mapping[str, str] | None = None,
) -> Project:
    """Create a project; with a template, schedule all its nodes back from the D-day, on
    working days (the war room's days count as working days). `past_nodes` says, by template
    key, what to do with a node the schedule puts in the past (`schedule_past_nodes`).

    Windows left out come from the `DUE_SOON_HOURS` and `ESCALATE_AFTER_HOURS` settings (the
    model's defaults); `status` active baselines the new plan at once, and any other status
    is where the project starts (creation is not a transition: see `project_status_check`)."""
    authorize(
        actor,
        can_create_project,
        owner,
        message=_("Only staff can create a project for another owner."),
    )
    now = now or timezone.now()
    template_kind_check(template, kind)
    project = Project(
        name=name,
        kind=kind,
        d_day=d_day,
        owner=owner,
        template=template,
        # Creation is no transition: a project may start in any status (the historical
        # import creates closed ones); active goes through the activation below.
        status=ProjectStatus.PLANNING if status == ProjectStatus.ACTIVE else status,
        working_hours=working_hours,
        war_room=war_room,
        nudge_every=nudge_every,
        escalation_contact=escalation_contact,
    )
    for field, value in (
        ("deviation_threshold", deviation_threshold),
        ("due_soon_window", due_soon_window),
        ("escalate_after", escalate_after),
        ("escalate_owner_after", escalate_owner_after),
        ("escalate_contact_after", escalate_contact_after),
        ("war_room_days_before", war_room_days_before),
        ("war_room_days_after", war_room_days_after),
    ):
        if value is not None:
            setattr(project, field, value)
    project.full_clean(exclude=["template"])
    project.save()
    if template is not None:
        schedule, done = schedule_past_nodes(
            template_schedule(template=template, d_day=d_day, war_room=project.war_room_window),
            past_nodes or {},
            now=now,
            war_room=project.war_room_window,
        )
        try:
            created = milestone_bulk_create(
                project=project,
                nodes=schedule,
                actor=actor,
                reason=_("From template %(code)s") % {"code": template.code},
                now=now,
            )
        except ValidationError as error:
            raise ValidationError({"template": error.messages}) from error
        for milestone in created:
            if milestone.template_key in done:
                _mark_done_before_start(milestone, actor=actor, now=now)
    if status == ProjectStatus.ACTIVE:
        project_activate(project=project, actor=actor, now=now)
    return project


@transaction.atomic
def project_baseline(
    *,
    project: Project,
    actor: User | None,
    now: datetime | None = None,
    planned: Mapping[int, datetime] | None = None,
) -> Project:
    """Lock today's plan: every node's due date becomes its baseline (one history row each);
    `planned` gives the plan of nodes already re-planned (`milestone_bulk_baseline`).

    The baseline is locked once taken, so that moving dates later cannot hide a slip.
    """
    authorize(actor, can_manage_project, project, message=_MANAGE_PROJECT)
    now = now or timezone.now()
    locked = Project.objects.select_for_update().get(pk=project.pk)
    if locked.baselined_at is not None:
        raise ValidationError(
            _("This project was baselined on %(when)s; the baseline is locked.")
            % {"when": timezone.localtime(locked.baselined_at).strftime("%Y-%m-%d %H:%M")}
        )
    count = milestone_bulk_baseline(project_id=locked.pk, actor=actor, now=now, planned=planned)
    locked.baselined_at = now
    locked.baseline_number = 1
    locked.save(update_fields=["baselined_at", "baseline_number", "updated_at"])
    ProjectBaseline.objects.create(
        project=locked, number=1, taken_at=now, actor=_user_or_none(actor), node_count=count
    )
    project_audit(project=locked, actor=actor, field="baseline", old=None, new=1, now=now)
    project.baselined_at = now
    project.baseline_number = 1
    return project


def _user_or_none(actor: User | None) -> User | None:
    return actor if actor and actor.pk else None


@transaction.atomic
def project_rebaseline(
    *,
    project: Project,
    actor: User | None,
    reason_code: str,
    change_reason: str = "",
    now: datetime | None = None,
) -> ProjectBaseline:
    """Take a new baseline (e.g. the platform moved the D-day): every node's due date becomes
    its planned due from now on. Only the owner or staff, always with a reason code. Every
    earlier baseline is kept, and a closed period stays measured against the baseline that
    was in force when it ended; the change shows as a restatement of periods not yet closed."""
    authorize(
        actor,
        can_rebaseline,
        project,
        message=_("Only the project's owner or staff can re-baseline it."),
    )
    now = now or timezone.now()
    reason = reason_resolve(
        reason_code=reason_code,
        change_reason=change_reason,
        needed=_("Choose a reason code for the new baseline."),
    )
    locked = Project.objects.select_for_update().get(pk=project.pk)
    if locked.baselined_at is None:
        raise StateConflictError(
            _("This project has no baseline yet: activate or baseline it first.")
        )
    number = locked.baseline_number + 1
    previous = locked.baselines.filter(number=locked.baseline_number).first()
    count = milestone_bulk_baseline(
        project_id=locked.pk,
        actor=actor,
        now=now,
        number=number,
        previous_at=previous.taken_at if previous else locked.baselined_at,
        reason=reason,
    )
    locked.baseline_number = number
    locked.save(update_fields=["baseline_number", "updated_at"])
    baseline = ProjectBaseline.objects.create(
        project=locked,
        number=number,
        taken_at=now,
        actor=_user_or_none(actor),
        reason_code=reason.code,
        reason=reason.text,
        node_count=count,
    )
    project_audit(
        project=locked,
        actor=actor,
        field="rebaseline",
        old=number - 1,
        new=number,
        reason=reason,
        now=now,
    )
    project.baseline_number = number
    return baseline


@transaction.atomic
def project_activate(
    *, project: Project, actor: User | None, now: datetime | None = None
) -> Project:
    """planning → active; activation takes the baseline if there is none yet."""
    authorize(actor, can_manage_project, project, message=_MANAGE_PROJECT)
    project.status = ProjectStatus.ACTIVE
    project.save(update_fields=["status", "updated_at"])
    if project.baselined_at is None:
        project_baseline(project=project, actor=actor, now=now)
    return project


@transaction.atomic
def project_reanchor(
    *,
    project: Project,
    new_d_day: datetime,
    reason: str,
    actor: User | None,
    reason_code: str = "",
    now: datetime | None = None,
) -> int:
    """Move the D-day and every node that is not done with it, in one step (see
    `reanchor_move` for where each node goes). A baselined project's re-anchor moves planned
    nodes, so it needs a reason code, like one node's move; the audit log keeps it.

    Baselines stay where they were, so the move shows up as slip in the reports.
    Returns how many nodes moved.
    """
    authorize(actor, can_manage_project, project, message=_MANAGE_PROJECT)
    now = now or timezone.now()
    checked = reason_resolve(
        reason_code=reason_code,
        change_reason=reason,
        needed=_("This project is baselined: choose a reason code for moving its D-day.")
        if project.baselined_at is not None
        else None,
    )
    reason = checked.text or checked.code
    if not reason:
        raise ValidationError({"change_reason": _("Say why the D-day moves.")})
    locked = (
        Project.objects.select_for_update(of=("self",))
        .select_related("template")
        .get(pk=project.pk)
    )
    delta = new_d_day - locked.d_day
    if not delta:
        return 0
    old_d_day, locked.d_day = locked.d_day, new_d_day
    moved = milestone_bulk_shift(
        project_id=locked.pk,
        delta=delta,
        move=reanchor_move(project=locked, old_d_day=old_d_day),
        actor=actor,
        reason=_("D-day moved: %(reason)s") % {"reason": reason},
        reason_code=checked.code,
        now=now,
    )
    locked.save(update_fields=["d_day", "updated_at"])
    project_audit(
        project=locked,
        actor=actor,
        field="d_day",
        old=old_d_day,
        new=new_d_day,
        reason=checked,
        now=now,
    )
    project.d_day = new_d_day
    return moved


def reanchor_move(
    *, project: Project, old_d_day: datetime
) -> Callable[[datetime], datetime] | None:
    """Where a node due at a given moment goes when the D-day moves to `project.d_day`.

    A project made from a template keeps the template's rule: a node N working days before the
    old D-day is N working days before the new one (working-day templates), or moves by the same
    time and then off a non-working day (calendar-day templates). Other projects' nodes move by
    the same time (None).
    """
    template = project.template
    if template is None:
        return None
    calendar = WorkingCalendar()
    war_room = project.war_room_window
    delta = project.d_day - old_d_day
    old_day = timezone.localtime(old_d_day).date()
    new_day = timezone.localtime(project.d_day).date()

    def move(due: datetime) -> datetime:
        local = timezone.localtime(due)
        day = local.date()
        if template.offset_unit == OffsetUnit.WORKING_DAYS:
            if day == old_day:
                return datetime.combine(new_day, local.time(), tzinfo=local.tzinfo)
            if day > old_day:
                offset = calendar.working_days_between(old_day, day)
            else:  # the working days from the node up to the day before the D-day
                offset = -calendar.working_days_between(
                    day - timedelta(days=1), old_day - timedelta(days=1)
                )
            day = calendar.add_working_days(
                new_day, offset, rule=template.roll_rule, war_room=war_room
            )
            return datetime.combine(day, local.time(), tzinfo=local.tzinfo)
        shifted = timezone.localtime(due + delta)
        day = shifted.date()
        if day != new_day:
            day = calendar.roll(day, template.roll_rule, war_room)
        return datetime.combine(day, shifted.time(), tzinfo=shifted.tzinfo)

    return move


@dataclass(frozen=True)
class ReanchorRow:
    node: Milestone
    due_at: datetime  # now
    new_due_at: datetime  # after the re-anchor


def reanchor_preview(*, project: Project, new_d_day: datetime) -> list[ReanchorRow]:
    """Where `project_reanchor` would put each node if the D-day moved to `new_d_day`, by
    the same rule (`reanchor_move`), without writing anything: the nodes that would move, by
    due date."""
    if new_d_day == project.d_day:
        return []
    moved = copy.copy(project)
    moved.d_day = new_d_day
    move = reanchor_move(project=moved, old_d_day=project.d_day)
    delta = new_d_day - project.d_day
    nodes = (
        shifted_nodes(project_id=project.pk)
        .select_related("department", "assignee")
        .order_by("due_at", "id")
    )
    return [
        ReanchorRow(
            node=node,
            due_at=node.due_at,
            new_due_at=move(node.due_at) if move else node.due_at + delta,
        )
        for node in nodes
    ]


def project_status_check(*, project: Project, new_status: str) -> None:
    """Refuse a status change that `ProjectStatus.allowed_next` does not allow, on the status
    field, naming the statuses the project may move to. The settings page, the API and
    `project_update` all ask here (the admin shows the status read-only)."""
    if new_status == project.status:
        return
    allowed = ProjectStatus.allowed_next(project.status)
    if new_status in allowed:
        return
    current = ProjectStatus(project.status).label
    if not allowed:
        message = _("An archived project stays archived: its status cannot change.")
    else:
        message = _("A project that is “%(current)s” can move only to: %(allowed)s.") % {
            "current": current,
            "allowed": pgettext("between the items of a list", ", ").join(
                str(ProjectStatus(status).label) for status in allowed
            ),
        }
    raise ValidationError({"status": message}, code="transition")


@transaction.atomic
def project_update(
    *,
    project: Project,
    actor: User | None,
    data: dict[str, Any],
    change_reason: str = "",
    reason_code: str = "",
) -> Project:
    """Change a project's fields; a new D-day re-anchors its nodes, a move to active baselines.
    Changes of the threshold, the escalation ladder, D-day, owner and status go to the audit
    log; only the owner and staff may change the threshold."""
    authorize(actor, can_manage_project, project, message=_MANAGE_PROJECT)
    data = dict(data)
    if data.get("status") is not None:
        project_status_check(project=project, new_status=data["status"])
    if (
        "deviation_threshold" in data
        and data["deviation_threshold"] is not None
        and Decimal(data["deviation_threshold"]) != project.deviation_threshold
    ):
        authorize(
            actor,
            can_change_threshold,
            project,
            message=_("Only the project's owner or staff can change its deviation threshold."),
        )
    new_d_day = data.pop("d_day", None)
    new_status = data.pop("status", None)
    # The owner changes last: the re-anchor and the activation check the actor against the
    # project as it was, so an owner may hand the project over in the same save.
    new_owner = data.pop("owner", None)
    audited = ("deviation_threshold", *Project.LADDER_WINDOWS, "nudge_every", "escalation_contact")
    before = {field: getattr(project, field) for field in audited}
    for field, value in data.items():
        setattr(project, field, value)
    project.full_clean(exclude=["template"])
    project.save()
    reason = Reason(code=(reason_code or "").strip(), text=(change_reason or "").strip())
    for field, old in before.items():
        new = getattr(project, field)
        if old != new:
            project_audit(
                project=project, actor=actor, field=field, old=old, new=new, reason=reason
            )
    if new_d_day is not None and new_d_day != project.d_day:
        project_reanchor(
            project=project,
            new_d_day=new_d_day,
            reason=change_reason,
            reason_code=reason_code,
            actor=actor,
        )
    if new_status is not None and new_status != project.status:
        old_status = project.status
        if new_status == ProjectStatus.ACTIVE:
            project_activate(project=project, actor=actor)
        else:
            project.status = new_status
            project.save(update_fields=["status", "updated_at"])
        project_audit(
            project=project,
            actor=actor,
            field="status",
            old=old_status,
            new=new_status,
            reason=reason,
        )
    if new_owner is not None and new_owner != project.owner:
        old_owner, project.owner = project.owner, new_owner
        project.save(update_fields=["owner", "updated_at"])
        project_audit(
            project=project, actor=actor, field="owner", old=old_owner, new=new_owner, reason=reason
        )
    return project


@transaction.atomic
def project_delete(*, project: Project, actor: User | None) -> None:
    """Delete a never-baselined project with its nodes; their history rows and an audit entry
    survive it. A project that was ever baselined is never deleted (StateConflictError, a
    409): archive it, so that its periods keep their figures."""
    node_deletion_lock()  # first: the running alert scans commit before its nodes are read
    authorize(actor, can_manage_project, project, message=_MANAGE_PROJECT)
    if project.baselined_at is not None:
        raise StateConflictError(
            _("This project has a baseline and cannot be deleted: archive it instead.")
        )
    project_audit(project=project, actor=actor, field="deleted", old=project.name, new=None)
    project.delete()


def _parse_time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            _("“%(value)s” is not a time of day (HH:MM).") % {"value": value}
        ) from exc


def template_validate_nodes(nodes: list[dict[str, Any]]) -> None:
    """Keys unique, dependencies name existing keys, no cycles."""
    keys = [node["key"] for node in nodes]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValidationError(_("Duplicate node keys: %(keys)s.") % {"keys": ", ".join(duplicates)})
    known = set(keys)
    for node in nodes:
        unknown = [key for key in node.get("depends_on", []) if key not in known]
        if unknown:
            raise ValidationError(
                _("Node %(key)s depends on unknown keys: %(unknown)s.")
                % {"key": node["key"], "unknown": ", ".join(unknown)}
            )
    index = {key: i for i, key in enumerate(keys)}
    edges = [(index[n["key"]], index[d]) for n in nodes for d in n.get("depends_on", [])]
    for i in index.values():
        cycle = find_cycle(edges, start=i)
        if cycle:
            raise ValidationError(
                _("Template dependencies make a cycle: %(path)s.")
                % {"path": " → ".join(keys[j] for j in cycle)}
            )


@transaction.atomic
def template_save(
    *,
    actor: User | None,
    code: str,
    name: str,
    kind: str,
    nodes: list[dict[str, Any]] | None,
    description: str = "",
    template: ProjectTemplate | None = None,
    offset_unit: str | None = None,
    roll_rule: str | None = None,
) -> ProjectTemplate:
    """Create or update a template; `nodes` (dicts: key, title, department, offset_days,
    time "HH:MM", depends_on keys, optional description) replace the old ones unless None."""
    authorize(actor, can_manage_templates, message=_MANAGE_TEMPLATES)
    if kind not in ProjectKind.values:
        raise ValidationError({"kind": _("Unknown kind %(kind)s.") % {"kind": kind}})
    if nodes is not None or template is None:
        if not nodes:
            raise ValidationError({"nodes": _("A template needs at least one node.")})
        try:
            template_validate_nodes(nodes)
        except ValidationError as error:
            raise ValidationError({"nodes": error.messages}) from error
    template = template or ProjectTemplate()
    template.code, template.name, template.kind = code, name, kind
    template.description = description
    if offset_unit is not None:
        template.offset_unit = offset_unit
    if roll_rule is not None:
        template.roll_rule = roll_rule
    template.full_clean()
    template.save()
    if nodes is None:
        return template
    template.nodes.all().delete()
    TemplateNode.objects.bulk_create(
        TemplateNode(
            template=template,
            key=node["key"],
            title=node["title"],
            description=node.get("description", ""),
            department_code=node["department"],
            offset_days=int(node["offset_days"]),
            time_of_day=_parse_time(node.get("time", "18:00")),
            depends_on=list(node.get("depends_on", [])),
            position=position,
        )
        for position, node in enumerate(nodes)
    )
    return template


@transaction.atomic
def template_duplicate(*, template: ProjectTemplate, actor: User | None) -> ProjectTemplate:
    """A copy of `template` with all its nodes, under a free code ("<code>-copy", "-copy-2"…)."""
    authorize(actor, can_manage_templates, message=_MANAGE_TEMPLATES)
    base = f"{template.code[:44]}-copy"
    taken = set(
        ProjectTemplate.objects.filter(code__startswith=base).values_list("code", flat=True)
    )
    code = next(
        candidate
        for candidate in (base, *(f"{base}-{n}" for n in range(2, len(taken) + 3)))
        if candidate not in taken
    )
    copy = ProjectTemplate.objects.create(
        code=code,
        name=_("%(name)s (copy)") % {"name": template.name},
        kind=template.kind,
        description=template.description,
        offset_unit=template.offset_unit,
        roll_rule=template.roll_rule,
    )
    TemplateNode.objects.bulk_create(
        TemplateNode(
            template=copy,
            key=node.key,
            title=node.title,
            description=node.description,
            department_code=node.department_code,
            offset_days=node.offset_days,
            time_of_day=node.time_of_day,
            depends_on=list(node.depends_on),
            position=node.position,
        )
        for node in template.nodes.all()
    )
    return copy


def template_delete(*, template: ProjectTemplate, actor: User | None) -> None:
    authorize(actor, can_manage_templates, message=_MANAGE_TEMPLATES)
    template.delete()


def template_load_shipped() -> list[ProjectTemplate]:
    """Install (or refresh) the templates shipped with Milepost under template_data/."""
    loaded = []
    for path in sorted(TEMPLATE_DATA_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        existing = ProjectTemplate.objects.filter(code=data["code"]).first()
        loaded.append(
            template_save(
                actor=None,
                code=data["code"],
                name=data["name"],
                kind=data["kind"],
                description=data.get("description", ""),
                nodes=data["nodes"],
                template=existing,
                offset_unit=data.get("offset_unit", OffsetUnit.CALENDAR_DAYS),
                roll_rule=data.get("roll_rule", RollRule.PREVIOUS),
            )
        )
    return loaded
