"""Load a past project (a campaign that ran before Milepost, or on another instance) from the
export format: closed and baselined, with its completion times, raising no alerts.

Repeat offenders and year-over-year comparisons in the monthly analysis need past campaigns;
this is how staff bring them in. The rows are checked as a whole first (`validate_rows` with
`historical`), then one transaction writes the project, its nodes, their re-plans and the
baseline through the same services as any other project, so every row has its history.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracker.accounts.models import User
from tracker.core.permissions import authorize, can_import_history
from tracker.integrations.spreadsheets.importing import (
    ParsedRow,
    dependency_order,
    read_table,
    upstream_links,
    validate_rows,
)
from tracker.milestones.models import Milestone
from tracker.milestones.reasons import Reason
from tracker.milestones.services import milestone_create, milestone_update
from tracker.projects.models import Project, ProjectStatus, ProjectTemplate
from tracker.projects.services import (
    project_audit,
    project_baseline,
    project_create,
    template_kind_check,
)

HISTORY_STAFF_ONLY = gettext_lazy("Only staff can import a past project.")


def history_authorize(*, actor: User | None) -> None:
    """Refuse (PermissionDeniedError) anyone but staff, before a file is read."""
    authorize(actor, can_import_history, message=HISTORY_STAFF_ONLY)


def project_import_historical(
    *,
    actor: User | None,
    filename: str,
    content: bytes,
    name: str,
    kind: str,
    d_day: datetime,
    owner: User | None = None,
    template: ProjectTemplate | None = None,
    deviation_threshold: Decimal | None = None,
    now: datetime | None = None,
) -> Project:
    """Create a closed, baselined project from an export of a past one, or nothing.

    Each row's `baseline due` (else its `due`) is the plan of record and its `due` the date it
    ended on; `status` and `completed at` are its outcome. The D-day has passed (the wizard
    refuses a past one; here it is the point). The baseline is taken now, at the import, and
    the project is closed, so the scan raises no alert for it and no outbox row is written; the
    nodes count in the periods their planned dues fall in. Their history rows, entered now,
    show as restatements of those periods' figures of record where snapshots exist.

    `actor` None is an operator (the management command): then `owner` is required.
    Raises PermissionDeniedError for non-staff, SpreadsheetError with every problem of the
    file, and ValidationError for the project's own fields."""
    history_authorize(actor=actor)
    now = now or timezone.now()
    owner = owner or actor
    if owner is None:
        raise ValidationError({"owner": _("Name the project's owner.")})
    if d_day > now:
        raise ValidationError(
            {"d_day": _("A past project's D-day has passed; import a coming one into a project.")}
        )
    template_kind_check(template, kind)
    parsed = validate_rows(
        project=None,
        actor=actor,
        table=read_table(filename=filename, content=content),
        historical=True,
        now=now,
    )
    with transaction.atomic():
        project = project_create(
            actor=actor,
            name=name,
            kind=kind,
            d_day=d_day,
            owner=owner,
            deviation_threshold=deviation_threshold,
            # A past project is created closed (a creation, not a transition: planning →
            # closed is no step a project may take), so no node of it ever raises an alert.
            status=ProjectStatus.CLOSED,
            now=now,
        )
        reason = Reason(text=_("Imported history from %(file)s") % {"file": filename})
        project_audit(
            project=project, actor=actor, field="status", old="", new=project.status, reason=reason
        )
        if template is not None:
            # Set after creation: `project_create` would schedule the template's own nodes.
            project.template = template
            project.save(update_fields=["template", "updated_at"])
        created = _create_nodes(
            project=project, actor=actor, rows=parsed, filename=filename, now=now
        )
        project_baseline(
            project=project,
            actor=actor,
            now=now,
            planned={
                created[row.number].pk: row.planned_due_at
                for row in parsed
                if row.planned_due_at != row.due_at
            },
        )
        project.refresh_from_db()
    return project


def _create_nodes(
    *, project: Project, actor: User | None, rows: list[ParsedRow], filename: str, now: datetime
) -> dict[int, Milestone]:
    """Each row's node at its plan of record, with its outcome, in dependency order; a node
    re-planned later moves to the date it ended on before the baseline is taken (so neither
    needs a reason code, and its history says so). Returns the nodes by row number."""
    reason = _("Imported history from %(file)s") % {"file": filename}
    ordered, _stuck = dependency_order(rows)
    created: dict[int, Milestone] = {}
    for row in ordered:
        created[row.number] = milestone_create(
            project=project,
            actor=actor,
            title=row.title,
            department=row.department,
            due_at=row.planned_due_at,
            description=row.description,
            assignee=row.assignee,
            status=row.status,
            completed_at=row.completed_at,
            dependencies=upstream_links(row, created),
            template_key=row.template_key,
            reason=reason,
            now=now,
        )
        if row.due_at != row.planned_due_at:
            milestone_update(
                milestone_id=created[row.number].pk,
                actor=actor,
                data={"due_at": row.due_at},
                change_reason=reason,
                now=now,
            )
    return created
