"""Report snapshots: compute a period's report, keep it, send it to the people and channels that
follow it. The figures come from `tracker.reports.selectors`, the one place they are defined."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import Department, User
from tracker.core.permissions import authorize, can_retake_snapshot
from tracker.notifications.models import Channel, OutboxEvent, OutboxMessage, PreferenceChannel
from tracker.notifications.preferences import users_receiving
from tracker.notifications.services import outbox_queue
from tracker.projects.models import Project
from tracker.reports.models import ReportSnapshot
from tracker.reports.notifications import report_payload, snapshot_url
from tracker.reports.periods import Period, PeriodKind, period_containing
from tracker.reports.selectors import deviation_report, monthly_report

REPORT_EVENTS = {
    PeriodKind.WEEK: OutboxEvent.WEEKLY_REPORT,
    PeriodKind.MONTH: OutboxEvent.MONTHLY_REPORT,
}


@dataclass(frozen=True)
class Published:
    snapshot: ReportSnapshot
    messages: int


def report_compute(
    *,
    period: Period,
    as_of: datetime,
    project_id: int | None = None,
    department_id: int | None = None,
) -> dict[str, Any]:
    """The weekly report of a week, or the monthly report (with its weekly trend) of a month."""
    compute = deviation_report if period.kind == PeriodKind.WEEK else monthly_report
    return compute(
        period=period,
        as_of=timezone.localtime(as_of),  # so the stored JSON reads in local time
        project_id=project_id,
        department_id=department_id,
    )


def report_to_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report as stored and sent: ISO datetimes, decimals as strings."""
    return json.loads(json.dumps(report, cls=DjangoJSONEncoder))


def report_scope(*, project: Project | None, department: Department | None) -> str:
    if project is not None:
        return f"project:{project.pk}"
    if department is not None:
        return f"department:{department.code}"
    return "all"


@transaction.atomic
def report_snapshot_save(
    *,
    period: Period,
    as_of: datetime,
    project: Project | None = None,
    department: Department | None = None,
    actor: User | None = None,
    retake_reason: str | None = None,
) -> ReportSnapshot:
    """Compute and keep the report. A snapshot taken once the period had closed is its figure
    of record: running the report again keeps it (and returns it). Only staff re-take it, with
    `retake_reason`; the earlier snapshot is kept, superseded. A snapshot of a period still
    open is only a preview and is updated."""
    scope = report_scope(project=project, department=department)
    current = (
        ReportSnapshot.objects.select_for_update()
        .filter(kind=period.kind, label=period.label, scope=scope, superseded_at__isnull=True)
        .first()
    )
    of_record = current is not None and current.as_of >= period.end
    if retake_reason is not None:
        authorize(
            actor,
            can_retake_snapshot,
            message=_("Only staff can re-take the snapshot of a closed period."),
        )
        if not retake_reason.strip():
            raise ValidationError({"reason": _("Say why the figure of record is re-taken.")})
    elif of_record:
        return current
    report = report_compute(
        period=period,
        as_of=as_of,
        project_id=project.pk if project else None,
        department_id=department.pk if department else None,
    )
    values = {
        "project": project,
        "department": department,
        "period_start": period.start,
        "period_end": period.end,
        "as_of": report["as_of"],
        "deviation_rate": report["deviation_rate"],
        "breached": report["breached"],
        "data": report_to_json(report),
    }
    if current is not None and not of_record:
        for field, value in values.items():
            setattr(current, field, value)
        current.save()
        return current
    if current is not None:
        current.superseded_at = timezone.now()
        current.save(update_fields=["superseded_at", "updated_at"])
    return ReportSnapshot.objects.create(
        kind=period.kind,
        label=period.label,
        scope=scope,
        taken_by=actor if actor and actor.pk else None,
        reason=(retake_reason or "").strip(),
        **values,
    )


def report_recipients(snapshot: ReportSnapshot) -> QuerySet[User]:
    """The owners of the projects in the report and the leads of its departments, but not
    those who switched this report's emails off."""
    project_ids = [row["id"] for row in snapshot.data.get("by_project", [])]
    codes = [row["code"] for row in snapshot.data.get("by_department", [])]
    people = (
        User.objects.filter(
            Q(owned_projects__id__in=project_ids) | Q(led_departments__code__in=codes),
            is_active=True,
        )
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    return users_receiving(
        people, kind=REPORT_EVENTS[snapshot.kind], channel=PreferenceChannel.EMAIL
    )


def report_channels(snapshot: ReportSnapshot, event: str) -> list[Channel]:
    """Active channels following `event` whose scope is exactly the snapshot's scope."""
    return Channel.objects.filter(
        project_id=snapshot.project_id, department_id=snapshot.department_id
    ).following(event)


@transaction.atomic
def report_send(*, snapshot: ReportSnapshot, email: bool = True) -> int:
    """Queue the report for its recipients (by email) and its channels, once per period and
    scope: sending the same snapshot again queues nothing. Returns the messages queued."""
    event = REPORT_EVENTS[snapshot.kind]
    base = f"{event}:{snapshot.label}:{snapshot.scope}"
    messages = []
    if email:
        messages += [
            OutboxMessage(
                event=event,
                recipient=user,
                payload={"snapshot_id": snapshot.pk},
                dedupe_key=f"{base}:user:{user.pk}",
            )
            for user in report_recipients(snapshot)
        ]
    url = snapshot_url(snapshot)
    messages += [
        OutboxMessage(
            event=event,
            channel=channel,
            payload=report_payload(
                event=event,
                kind=snapshot.kind,
                label=snapshot.label,
                report=snapshot.data,
                url=url,
                language=channel.language,
            ),
            dedupe_key=f"{base}:channel:{channel.pk}",
        )
        for channel in report_channels(snapshot, event)
    ]
    return outbox_queue(messages)


def report_publish(
    *,
    period: Period,
    as_of: datetime,
    project: Project | None = None,
    department: Department | None = None,
    email: bool = True,
    actor: User | None = None,
    retake_reason: str | None = None,
) -> Published:
    snapshot = report_snapshot_save(
        period=period,
        as_of=as_of,
        project=project,
        department=department,
        actor=actor,
        retake_reason=retake_reason,
    )
    return Published(snapshot=snapshot, messages=report_send(snapshot=snapshot, email=email))


def report_run_scheduled(*, kind: str, now: datetime) -> list[Published]:
    """The beat's weekly/monthly job: last period's report for everyone by email and for the
    all-projects channels, plus one scoped report per project or department channel."""
    period = period_containing(kind, now).previous()
    published = [report_publish(period=period, as_of=now)]
    event = REPORT_EVENTS[kind]
    scoped = {
        (channel.project, channel.department)
        for channel in Channel.objects.exclude(project__isnull=True, department__isnull=True)
        .select_related("project", "department")
        .following(event)
    }
    for project, department in sorted(scoped, key=lambda s: (str(s[0]), str(s[1]))):
        published.append(
            report_publish(
                period=period, as_of=now, project=project, department=department, email=False
            )
        )
    return published
