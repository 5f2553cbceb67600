"""Every write to a node goes through these functions: the API, the board, chat commands,
imports and the project services (creation from a template, re-anchoring, baselining) all call
them, so the rules (baseline reasons, completion dates, acyclic dependencies, optimistic
versions, history) hold everywhere and every write leaves a history row.

`milestones` sits below `projects`: a project is passed in (anything with `pk` and
`baselined_at`), never imported."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Max, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import AuditEntry, Department, User
from tracker.core.errors import ConflictError, PermissionDeniedError, StateConflictError
from tracker.core.locks import node_deletion_lock
from tracker.core.permissions import (
    authorize,
    can_create_any_milestone,
    can_create_milestone,
    can_delete_milestone,
    can_edit_milestone,
    can_move_milestone_to_department,
)
from tracker.milestones.episodes import episodes_end
from tracker.milestones.models import (
    BaselineEntry,
    DeviationReason,
    LatenessEpisode,
    Milestone,
    MilestoneChange,
    MilestoneDependency,
    MilestoneStatus,
)
from tracker.milestones.positions import (
    lane_insert,
    lane_next_position,
    lane_position_check,
    lane_position_taken,
    lane_save,
)
from tracker.milestones.reasons import Reason, reason_resolve
from tracker.milestones.selectors import ProjectRef, dependency_edges, find_cycle

EDITABLE_FIELDS = (
    "title",
    "description",
    "department",
    "assignee",
    "due_at",
    "status",
    "completed_at",
    "position",
)


# A completion entered more than this long after the time it claims is a back-dating: on a
# baselined project's node it needs a reason (issue: the deviation rate of record).
BACKDATING_GRACE = timedelta(hours=24)


# The reasons Milepost ships for e-commerce projects: (code, English, Simplified Chinese,
# needs a text). Staff edit, add and deactivate reasons in the admin; the codes stay stable.
DEFAULT_REASONS = (
    ("upstream_late", "Upstream node late", "上游节点延误", False),
    ("supplier", "Supplier or stock delay", "供应商或库存延误", False),
    ("platform_change", "Platform rule or date change", "平台规则或日期变更", False),
    ("scope_change", "Scope change", "需求范围变更", False),
    ("approval", "Approval delay", "审批延误", False),
    ("resource", "Resource shortage", "资源不足", False),
    ("technical", "Technical problem", "技术问题", False),
    ("external", "External / force majeure", "外部原因或不可抗力", False),
    ("other", "Other (say why)", "其他（需说明）", True),
)


def deviation_reasons_install() -> int:
    """Add the shipped reasons that are missing (existing ones, edited or not, stay)."""
    existing = set(DeviationReason.objects.values_list("code", flat=True))
    DeviationReason.objects.bulk_create(
        DeviationReason(
            code=code, name_en=en, name_zh_hans=zh, requires_text=text, position=position
        )
        for position, (code, en, zh, text) in enumerate(DEFAULT_REASONS)
        if code not in existing
    )
    return len(DEFAULT_REASONS) - len(existing & {row[0] for row in DEFAULT_REASONS})


def reason_required_for(
    *, milestone: Milestone, data: Mapping[str, Any], now: datetime
) -> str | None:
    """Why this change of a node needs a reason code, or None: on a baselined project's node,
    moving its due date, cancelling it, recording a completion later than its planned due, or
    a completion time more than 24 hours before the moment it is entered (back-dating).
    Unbaselined projects do not count in the rate, so their nodes need none.

    The board asks this to decide when to show its reason select; the service enforces it."""
    if milestone.project.baselined_at is None:
        return None
    if "due_at" in data and data["due_at"] is not None and data["due_at"] != milestone.due_at:
        return _("This node is baselined: choose a reason code for moving its due date.")
    status = data.get("status", milestone.status)
    if status == MilestoneStatus.CANCELLED and milestone.status != MilestoneStatus.CANCELLED:
        return _("This node is baselined: choose a reason code for cancelling it.")
    if status == MilestoneStatus.DONE:
        completed = data.get("completed_at") or (
            milestone.completed_at if milestone.status == MilestoneStatus.DONE else now
        )
        changed = milestone.status != MilestoneStatus.DONE or (
            data.get("completed_at") is not None and data["completed_at"] != milestone.completed_at
        )
        planned = milestone.baseline_due_at or milestone.due_at
        if changed and completed < now - BACKDATING_GRACE:
            return _(
                "A completion more than 24 hours before now is a back-dating: choose a reason code."
            )
        if changed and completed > planned:
            return _("This node is finished after its planned due: choose a reason code.")
    return None


def reason_codes_text() -> str:
    """The active codes, for a message that lists them (chat, errors)."""
    return ", ".join(
        f"{reason.code} ({reason.name})" for reason in DeviationReason.objects.active()
    )


def _display(field: str, value: Any) -> str:
    """How a value is written into the history."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Department):
        return value.code
    if isinstance(value, User):
        return value.username
    return str(value)


def _resolve_completion(
    *,
    status: str,
    completed_at: datetime | None,
    completed_at_given: bool,
    previous_status: str | None,
    previous_completed_at: datetime | None,
    now: datetime,
) -> datetime | None:
    """Apply the completion rules: done sets now unless given; never in the future;
    leaving done clears it; only done nodes carry a completion time."""
    if status == MilestoneStatus.DONE:
        if completed_at_given and completed_at is not None:
            if completed_at > now:
                raise ValidationError({"completed_at": _("Completion cannot be in the future.")})
            return completed_at
        if previous_status == MilestoneStatus.DONE and not completed_at_given:
            return previous_completed_at
        return now
    if completed_at_given and completed_at is not None:
        raise ValidationError(
            {"completed_at": _("Only a node with status done has a completion time.")}
        )
    return None


def _validate_dependencies(
    *, milestone: Milestone | None, project: ProjectRef, depends_on: Iterable[Milestone]
) -> list[Milestone]:
    upstream = list({m.pk: m for m in depends_on}.values())
    errors = []
    for node in upstream:
        if node.project_id != project.pk:
            errors.append(_("Node %(id)s belongs to another project.") % {"id": node.pk})
        if milestone is not None and node.pk == milestone.pk:
            errors.append(_("A node cannot depend on itself."))
    if errors:
        raise ValidationError({"depends_on": errors})
    if milestone is not None and upstream:
        edges = [e for e in dependency_edges(project_ids=[project.pk]) if e[0] != milestone.pk]
        edges += [(milestone.pk, node.pk) for node in upstream]
        cycle = find_cycle(edges, start=milestone.pk)
        if cycle:
            titles = dict(Milestone.objects.filter(pk__in=cycle).values_list("pk", "title"))
            path = " → ".join(f"#{pk} {titles.get(pk, '')}".strip() for pk in cycle)
            raise ValidationError(
                {
                    "depends_on": [
                        _("These dependencies would make a cycle: %(path)s") % {"path": path}
                    ]
                }
            )
    return upstream


Dependencies = Iterable[tuple[Milestone, int | None]]


def _split_dependencies(
    dependencies: Dependencies,
) -> tuple[list[Milestone], dict[int, int | None]]:
    """(upstream node, declared minimum lead in working days or None) pairs → the nodes, and
    each one's lead."""
    pairs = list(dependencies)
    return [node for node, _lead in pairs], {node.pk: lead for node, lead in pairs}


def _leads_text(leads: dict[int, int | None]) -> str:
    return ",".join(f"{pk}:{lead}" for pk, lead in sorted(leads.items()) if lead is not None)


def _actor_or_none(actor: User | None) -> User | None:
    return actor if actor and actor.pk else None


def _record(
    changes: list[MilestoneChange],
    milestone: Milestone,
    field: str,
    old,
    new,
    actor,
    reason: Reason | str,
    now,
    *,
    planned_due: datetime | None = None,
):
    reason = reason if isinstance(reason, Reason) else Reason(text=reason or "")
    changes.append(
        MilestoneChange(
            milestone=milestone,
            node_id=milestone.pk,
            node_title=milestone.title,
            project_ref=milestone.project_id,
            department_ref=milestone.department_id,
            planned_due=planned_due or milestone.baseline_due_at or milestone.due_at,
            field=field,
            old_value=_display(field, old),
            new_value=_display(field, new),
            actor=_actor_or_none(actor),
            reason_code=reason.code,
            reason=reason.text,
            created_at=now,
        )
    )


def milestone_authorize_edit(*, milestone: Milestone, actor: User | None) -> None:
    """Refuse (PermissionDeniedError) an actor who may not change this node at all.
    `milestone_update` asks it first; the API asks it too before it reads a body, so that a
    caller without the right hears 403 whatever the body holds."""
    authorize(
        actor,
        can_edit_milestone,
        milestone,
        message=_(
            "You cannot change node #%(id)s: only its assignee, its department's lead, the "
            "project's owner or staff can."
        )
        % {"id": milestone.pk},
    )


def milestone_authorize_delete(*, milestone: Milestone, actor: User | None) -> None:
    """Refuse an actor who may not delete this node (asked by `milestone_delete` and, before
    its preconditions, by the API)."""
    authorize(
        actor,
        can_delete_milestone,
        milestone,
        message=_("Only the project's owner, staff or the department lead can delete a node."),
    )


def milestone_authorize_create_any(*, actor: User | None) -> None:
    """Refuse an actor who may add nodes nowhere (not staff, no project of their own, no
    department led), before the API reads which project and lane the body names."""
    authorize(
        actor,
        can_create_any_milestone,
        message=_("You can add nodes only to your own department's lane or to projects you own."),
    )


@transaction.atomic
def milestone_create(
    *,
    project: ProjectRef,
    actor: User | None,
    title: str,
    department: Department,
    due_at: datetime,
    description: str = "",
    assignee: User | None = None,
    status: str = MilestoneStatus.TODO,
    completed_at: datetime | None = None,
    depends_on: Iterable[Milestone] = (),
    dependencies: Dependencies | None = None,
    position: int | None = None,
    reason: str = "",
    reason_code: str = "",
    template_key: str = "",
    now: datetime | None = None,
) -> Milestone:
    """Add a node. A node added after the baseline gets its baseline from its first due date
    and is marked "added after baseline"; it counts in the rate like the others.
    `dependencies` gives its upstream nodes with their declared minimum leads (instead of
    `depends_on`); `template_key` names the template node it stands for (a historical
    import's, so campaigns of one template compare node by node)."""
    authorize(
        actor,
        can_create_milestone,
        project,
        department.pk,
        message=_("You can add nodes only to your own department's lane or to projects you own."),
    )
    now = now or timezone.now()
    completed = _resolve_completion(
        status=status,
        completed_at=completed_at,
        completed_at_given=completed_at is not None,
        previous_status=None,
        previous_completed_at=None,
        now=now,
    )
    needed = None
    if project.baselined_at is not None:
        if status == MilestoneStatus.CANCELLED:
            needed = _("This project is baselined: choose a reason code for a cancelled node.")
        elif completed is not None and (completed > due_at or completed < now - BACKDATING_GRACE):
            needed = _(
                "This project is baselined: choose a reason code for a late or back-dated "
                "completion."
            )
    checked = reason_resolve(reason_code=reason_code, change_reason=reason, needed=needed)
    leads: dict[int, int | None] = {}
    if dependencies is not None:
        depends_on, leads = _split_dependencies(dependencies)
    upstream = _validate_dependencies(milestone=None, project=project, depends_on=depends_on)
    milestone = lane_insert(
        lambda slot: Milestone.objects.create(
            project=project,
            title=title,
            description=description,
            department=department,
            assignee=assignee,
            due_at=due_at,
            baseline_due_at=due_at if project.baselined_at else None,
            added_after_baseline=bool(project.baselined_at),
            status=status,
            completed_at=completed,
            position=slot,
            template_key=template_key,
        ),
        project_id=project.pk,
        department_id=department.pk,
        position=position,
    )
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=milestone, depends_on=node, min_lead_days=leads.get(node.pk))
        for node in upstream
    )
    if project.baselined_at is not None:
        BaselineEntry.objects.create(
            milestone=milestone,
            number=max(getattr(project, "baseline_number", 1) or 1, 1),
            due_at=due_at,
            taken_at=now,
        )
    changes: list[MilestoneChange] = []
    _record(changes, milestone, "created", None, title, actor, checked, now)
    if milestone.added_after_baseline:
        _record(
            changes,
            milestone,
            "baseline_due_at",
            None,
            due_at,
            actor,
            _("added after baseline"),
            now,
        )
    MilestoneChange.objects.bulk_create(changes)
    return milestone


@transaction.atomic
def milestone_update(
    *,
    milestone_id: int,
    actor: User | None,
    data: Mapping[str, Any],
    expected_version: int | None = None,
    change_reason: str = "",
    reason_code: str = "",
    now: datetime | None = None,
) -> Milestone:
    """Change a node. On a baselined project's node, a due move, a cancellation, a late
    completion and a back-dated one need `reason_code` (`reason_required_for`).

    `data` holds only the fields being changed (a PATCH), with model instances for
    department/assignee and a list of nodes for `depends_on`, or (node, declared minimum lead)
    pairs for `dependencies` (`depends_on` alone keeps the links' leads).

    Raises PermissionDeniedError when `actor` may not make the change, ConflictError when
    `expected_version` no longer matches, and ValidationError for broken rules; in every case
    nothing is written.
    """
    now = now or timezone.now()
    milestone = (
        Milestone.objects.select_for_update(of=("self",))
        .select_related("project", "department", "assignee")
        .get(pk=milestone_id)
    )
    milestone_authorize_edit(milestone=milestone, actor=actor)
    if data.get("department") is not None:
        authorize(
            actor,
            can_move_milestone_to_department,
            milestone,
            data["department"].pk,
            message=_("You cannot move this node to that department."),
        )
    if expected_version is not None and milestone.version != expected_version:
        raise ConflictError(milestone.version)
    changes: list[MilestoneChange] = []
    updated: list[str] = []

    leads: dict[int, int | None] | None = None
    if "dependencies" in data:
        depends_on, leads = _split_dependencies(data["dependencies"])
        data = {**{k: v for k, v in data.items() if k != "dependencies"}, "depends_on": depends_on}
    unknown = set(data) - set(EDITABLE_FIELDS) - {"depends_on"}
    if unknown:
        raise ValidationError({field: _("This field cannot be changed.") for field in unknown})

    if "due_at" in data and data["due_at"] != milestone.due_at and data["due_at"] is None:
        raise ValidationError({"due_at": _("A node needs a due date.")})
    reason = reason_resolve(
        reason_code=reason_code,
        change_reason=change_reason,
        needed=reason_required_for(milestone=milestone, data=data, now=now),
    )
    planned_before = milestone.baseline_due_at or milestone.due_at

    new_status = data.get("status", milestone.status)
    completed_at = _resolve_completion(
        status=new_status,
        completed_at=data.get("completed_at"),
        completed_at_given="completed_at" in data,
        previous_status=milestone.status,
        previous_completed_at=milestone.completed_at,
        now=now,
    )
    values = {field: data[field] for field in EDITABLE_FIELDS if field in data}
    values.update(_lane_position(milestone, data))
    values["status"] = new_status
    values["completed_at"] = completed_at

    for field, new in values.items():
        old = getattr(milestone, field)
        if old == new:
            continue
        _record(changes, milestone, field, old, new, actor, reason, now, planned_due=planned_before)
        setattr(milestone, field, new)
        updated.append(field)

    if "depends_on" in data:
        upstream = _validate_dependencies(
            milestone=milestone, project=milestone.project, depends_on=data["depends_on"]
        )
        old_ids = set(
            MilestoneDependency.objects.filter(milestone=milestone).values_list(
                "depends_on_id", flat=True
            )
        )
        new_ids = {node.pk for node in upstream}
        if old_ids != new_ids:
            MilestoneDependency.objects.filter(milestone=milestone).exclude(
                depends_on_id__in=new_ids
            ).delete()
            MilestoneDependency.objects.bulk_create(
                MilestoneDependency(milestone=milestone, depends_on_id=pk)
                for pk in new_ids - old_ids
            )
            _record(
                changes,
                milestone,
                "depends_on",
                ",".join(map(str, sorted(old_ids))),
                ",".join(map(str, sorted(new_ids))),
                actor,
                reason,
                now,
            )
        if leads is not None:
            links = MilestoneDependency.objects.filter(milestone=milestone)
            before = dict(links.values_list("depends_on_id", "min_lead_days"))
            after = {pk: leads.get(pk) for pk in new_ids}
            for pk, lead in after.items():
                if before.get(pk) != lead:
                    links.filter(depends_on_id=pk).update(min_lead_days=lead)
            old_leads = {pk: lead for pk, lead in before.items() if pk in old_ids}
            if _leads_text(old_leads) != _leads_text(after):
                _record(
                    changes,
                    milestone,
                    "dependency_leads",
                    _leads_text(old_leads),
                    _leads_text(after),
                    actor,
                    reason,
                    now,
                )

    if not changes:
        return milestone
    milestone.version = F("version") + 1
    fields = list(dict.fromkeys([*updated, "version", "updated_at"]))
    lane_save(lambda: milestone.save(update_fields=fields), milestone=milestone)
    milestone.refresh_from_db(fields=["version"])
    MilestoneChange.objects.bulk_create(changes)
    if "status" in updated and not milestone.is_open:
        # Done or cancelled: its lateness episode ends now, not at the next scan, so a node
        # re-opened within the minute starts a new one.
        episodes_end(
            LatenessEpisode.objects.filter(milestone=milestone, ended_at__isnull=True), now=now
        )
    return milestone


def _lane_position(milestone: Milestone, data: Mapping[str, Any]) -> dict[str, int]:
    """The node's position once `data` applies: one asked for must be free in its (new)
    lane; a node moved to another lane without one (or with its old one, taken there) goes
    after that lane's last card."""
    department = data.get("department") or milestone.department
    moved = department.pk != milestone.department_id
    position = data.get("position")
    if (
        moved
        and position == milestone.position
        and lane_position_taken(
            project_id=milestone.project_id, department_id=department.pk, position=position
        )
    ):
        position = None  # a full PUT echoes the old lane's position: go to the new lane's end
    if position is None:
        if not moved:
            return {}
        return {
            "position": lane_next_position(
                project_id=milestone.project_id, department_id=department.pk
            )
        }
    if moved or position != milestone.position:
        lane_position_check(
            project_id=milestone.project_id,
            department_id=department.pk,
            position=position,
            exclude_pk=milestone.pk,
        )
    return {"position": position}


@transaction.atomic
def milestone_delete(
    *,
    milestone_id: int,
    actor: User | None,
    expected_version: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> None:
    """Delete a node of a never-baselined project; ConflictError (nothing deleted) when
    `expected_version` is given and the node changed since. Its history survives it (the
    rows keep its id, title and project) and the deletion is written to the history and the
    audit log. A baselined project's node is never deleted (StateConflictError, a 409):
    cancel it with a reason, so that the figure of record shows the change."""
    now = now or timezone.now()
    node_deletion_lock()  # first: the running alert scans commit before the node is read
    milestone = (
        Milestone.objects.select_for_update(of=("self",))
        .select_related("project")
        .get(pk=milestone_id)
    )
    milestone_authorize_delete(milestone=milestone, actor=actor)
    if expected_version is not None and milestone.version != expected_version:
        raise ConflictError(milestone.version)
    if milestone.project.baselined_at is not None:
        raise StateConflictError(
            _(
                "Node #%(id)s belongs to a baselined project and cannot be deleted: cancel it "
                "with a reason code instead."
            )
            % {"id": milestone.pk}
        )
    changes: list[MilestoneChange] = []
    _record(changes, milestone, "deleted", milestone.title, None, actor, reason, now)
    MilestoneChange.objects.bulk_create(changes)
    AuditEntry.objects.create(
        created_at=now,
        actor=_actor_or_none(actor),
        project_ref=milestone.project_id,
        subject=_("node #%(id)s %(title)s") % {"id": milestone.pk, "title": milestone.title},
        field="deleted",
        old_value=milestone.title,
        reason=reason,
    )
    Milestone.objects.filter(pk=milestone.pk).delete()


class BulkEditError(ValidationError):
    """A bulk edit refused for one of its nodes; nothing of the batch was written."""

    def __init__(self, milestone: Milestone, error: Exception) -> None:
        messages = getattr(error, "messages", None) or [str(error)]
        super().__init__(
            _("“%(title)s”: %(reason)s") % {"title": milestone.title, "reason": " ".join(messages)}
        )
        self.milestone = milestone


@transaction.atomic
def milestone_bulk_update(
    *,
    project_id: int,
    milestone_ids: Sequence[int],
    actor: User | None,
    data: Mapping[str, Any] | None = None,
    shift: timedelta | None = None,
    change_reason: str = "",
    reason_code: str = "",
    now: datetime | None = None,
) -> list[Milestone]:
    """Apply one change to many nodes of a project, each through `milestone_update` (so its
    permission, rules and history hold node by node): `data` for every node, and/or `shift`
    added to each node's due date. All or nothing: the first refusal undoes the batch and is
    raised naming the node (BulkEditError for a broken rule, PermissionDeniedError)."""
    nodes = list(
        Milestone.objects.filter(project_id=project_id, pk__in=milestone_ids).order_by(
            "due_at", "id"
        )
    )
    if not nodes or len(nodes) != len(set(milestone_ids)):
        raise ValidationError({"ids": _("Choose nodes of this project.")})
    updated = []
    for node in nodes:
        changes = dict(data or {})
        if shift:
            changes["due_at"] = node.due_at + shift
        try:
            updated.append(
                milestone_update(
                    milestone_id=node.pk,
                    actor=actor,
                    data=changes,
                    change_reason=change_reason,
                    reason_code=reason_code,
                    now=now,
                )
            )
        except PermissionDeniedError as error:
            raise PermissionDeniedError(
                _("“%(title)s”: %(reason)s") % {"title": node.title, "reason": error}
            ) from error
        except ValidationError as error:
            raise BulkEditError(node, error) from error
    return updated


@dataclass(frozen=True)
class PlannedNode:
    """A node to create in bulk, e.g. from a template; `key` names it for `depends_on`."""

    key: str
    title: str
    description: str
    department_code: str
    due_at: datetime
    depends_on: tuple[str, ...]


@transaction.atomic
def milestone_bulk_create(
    *,
    project: ProjectRef,
    nodes: Sequence[PlannedNode],
    actor: User | None,
    reason: str = "",
    now: datetime | None = None,
) -> list[Milestone]:
    """Add many nodes at once, in a constant number of queries: each is assigned to its
    department's lead, linked to its upstream keys and gets a "created" history row. A node
    added after the baseline gets its baseline from its first due date, as one by one."""
    now = now or timezone.now()
    codes = {node.department_code for node in nodes}
    departments = {d.code: d for d in Department.objects.filter(code__in=codes)}
    missing = sorted(codes - set(departments))
    if missing:
        raise ValidationError(
            _("Create these departments first: %(codes)s.") % {"codes": ", ".join(missing)}
        )
    keys = {node.key for node in nodes}
    unknown = sorted({key for node in nodes for key in node.depends_on} - keys)
    if unknown:
        raise ValidationError(
            _("Nodes depend on unknown keys: %(keys)s.") % {"keys": ", ".join(unknown)}
        )
    # After every card already in the project, so each lane's positions stay unique (0, 1, …
    # across the whole plan for a new project).
    top = Milestone.objects.filter(project=project).aggregate(top=Max("position"))["top"]
    start = 0 if top is None else top + 1
    milestones = Milestone.objects.bulk_create(
        Milestone(
            project=project,
            title=node.title,
            description=node.description,
            department=departments[node.department_code],
            assignee=departments[node.department_code].lead,
            due_at=node.due_at,
            baseline_due_at=node.due_at if project.baselined_at else None,
            position=start + index,
            template_key=node.key,
        )
        for index, node in enumerate(nodes)
    )
    by_key = {node.key: milestone for node, milestone in zip(nodes, milestones, strict=True)}
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=by_key[node.key], depends_on=by_key[upstream])
        for node in nodes
        for upstream in node.depends_on
    )
    changes: list[MilestoneChange] = []
    for milestone in milestones:
        _record(changes, milestone, "created", None, milestone.title, actor, reason, now)
    MilestoneChange.objects.bulk_create(changes)
    return milestones


@transaction.atomic
def shifted_nodes(*, project_id: int) -> QuerySet[Milestone]:
    """The nodes a shift of the whole project moves (a re-anchor, a bulk shift): all but the
    done ones."""
    return Milestone.objects.filter(project_id=project_id).exclude(status=MilestoneStatus.DONE)


def milestone_bulk_shift(
    *,
    project_id: int,
    delta: timedelta,
    actor: User | None,
    reason: str,
    reason_code: str = "",
    now: datetime | None = None,
    move: Callable[[datetime], datetime] | None = None,
) -> int:
    """Move every node of the project that is not done by `delta` (or to `move(due_at)`, e.g.
    the same number of working days), in one UPDATE, with one history row each. Baselines stay
    where they were, so the move shows as slip; a moved node is judged afresh by the next
    overdue scan. Returns how many nodes moved."""
    now = now or timezone.now()
    if not delta:
        return 0
    moving = shifted_nodes(project_id=project_id)
    before = list(
        moving.select_for_update().values_list(
            "pk", "due_at", "title", "project_id", "department_id", "baseline_due_at"
        )
    )
    moved = {pk: (move(due_at) if move else due_at + delta) for pk, due_at, *_rest in before}
    moving.update(
        due_at=Case(
            *(When(pk=pk, then=Value(due)) for pk, due in moved.items()), default=F("due_at")
        )
        if move
        else F("due_at") + delta,
        version=F("version") + 1,
        updated_at=now,
    )
    MilestoneChange.objects.bulk_create(
        MilestoneChange(
            milestone_id=pk,
            node_id=pk,
            node_title=title,
            project_ref=project,
            department_ref=department,
            planned_due=baseline or due_at,
            field="due_at",
            old_value=_display("due_at", due_at),
            new_value=_display("due_at", moved[pk]),
            actor=_actor_or_none(actor),
            reason_code=reason_code,
            reason=reason,
            created_at=now,
        )
        for pk, due_at, title, project, department, baseline in before
    )
    return len(before)


@transaction.atomic
def milestone_bulk_baseline(
    *,
    project_id: int,
    actor: User | None,
    now: datetime | None = None,
    number: int = 1,
    previous_at: datetime | None = None,
    reason: Reason | None = None,
    planned: Mapping[int, datetime] | None = None,
) -> int:
    """Lock the plan of every node of the project: its due date becomes its baseline number
    `number`, in one UPDATE, with a `baseline_due_at` history row each. Earlier baselines are
    kept as `BaselineEntry` rows (a node that has none gets its current baseline recorded as
    baseline `number - 1`, taken at `previous_at`). `planned` gives, by node id, the plan to
    lock for nodes whose due date has already moved on from it (a historical import: the
    plan of record, and the date it was re-planned to). Returns how many nodes it baselined."""
    now = now or timezone.now()
    reason = reason or Reason()
    planned = planned or {}
    nodes = Milestone.objects.filter(project_id=project_id)
    before = list(
        nodes.select_for_update().values_list(
            "pk", "due_at", "baseline_due_at", "title", "department_id"
        )
    )
    if number > 1 and previous_at is not None:
        recorded = set(
            BaselineEntry.objects.filter(milestone__project_id=project_id).values_list(
                "milestone_id", flat=True
            )
        )
        BaselineEntry.objects.bulk_create(
            BaselineEntry(milestone_id=pk, number=number - 1, due_at=baseline, taken_at=previous_at)
            for pk, _due, baseline, *_rest in before
            if baseline is not None and pk not in recorded
        )
    BaselineEntry.objects.bulk_create(
        BaselineEntry(milestone_id=pk, number=number, due_at=planned.get(pk, due_at), taken_at=now)
        for pk, due_at, *_rest in before
    )
    nodes.update(
        baseline_due_at=Case(
            *(When(pk=pk, then=Value(due)) for pk, due in planned.items()), default=F("due_at")
        )
        if planned
        else F("due_at"),
        version=F("version") + 1,
        updated_at=now,
    )
    MilestoneChange.objects.bulk_create(
        MilestoneChange(
            milestone_id=pk,
            node_id=pk,
            node_title=title,
            project_ref=project_id,
            department_ref=department,
            planned_due=baseline_due_at or planned.get(pk, due_at),
            field="baseline_due_at",
            old_value=_display("baseline_due_at", baseline_due_at),
            new_value=_display("baseline_due_at", planned.get(pk, due_at)),
            actor=_actor_or_none(actor),
            reason_code=reason.code,
            reason=reason.text,
            created_at=now,
        )
        for pk, due_at, baseline_due_at, title, department in before
    )
    return len(before)
