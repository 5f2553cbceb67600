"""Due-soon reminders and escalations count working hours, and wait out quiet hours.

A project's `due_soon_window` and `escalate_after` are working time, in the project's working
hours (or the organisation's), its war room counting around the clock. For each alerting
project the scan needs one moment per rule: a node is due soon while at most its window of
working time is left before its due date, and escalates once more than the delay of working time
has passed since it. Outside a project's working time (unless it is in its war room
or `ALERTS_AT_ANY_HOUR` is set) the moment is NULL: nothing is raised until the next working
period starts, when the first scan raises it. Overdue and resolved notices never wait.

Projects that share a window, working hours and war room share the arithmetic, so the cost
is one query for the projects and one calendar per scan, whatever the number of projects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, DateTimeField, Expression, QuerySet, Value, When

from tracker.projects.models import Project
from tracker.workcal.calendar import WorkingCalendar

TICK = timedelta(microseconds=1)
# A deadline reached as a working period ends (18:00) goes out with the scan that runs just
# after it (18:01), not with the next period's first scan: the minute scan's interval and a
# margin count as still inside the period.
PERIOD_END_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Deadlines:
    """Per-project moments as SQL expressions over `project_id`, and their latest value (for a
    range on the index before the per-project test); None when every project is quiet."""

    expression: Expression
    latest: datetime | None


def _expression(moments: dict[datetime | None, list[int]]) -> Expression:
    """CASE project_id … over the groups, the largest as the default (no id list)."""
    default = max(moments, key=lambda moment: len(moments[moment]))
    return Case(
        *(
            When(project_id__in=ids, then=Value(moment, output_field=DateTimeField()))
            for moment, ids in moments.items()
            if moment != default
        ),
        default=Value(default, output_field=DateTimeField()),
        output_field=DateTimeField(),
    )


def _quiet(calendar: WorkingCalendar, now: datetime, *, hours, war_room) -> bool:
    """Outside working time, and not just after a period ended (PERIOD_END_GRACE)."""
    return all(
        calendar.quiet_until(moment, working_hours=hours, war_room=war_room) != moment
        for moment in (now, now - PERIOD_END_GRACE)
    )


def working_deadlines(*, now: datetime, projects: QuerySet[Project]) -> tuple[Deadlines, Deadlines]:
    """(remind until, escalate before) for the alerting `projects` as of `now`."""
    calendar = WorkingCalendar()
    groups: dict[tuple, list[Project]] = defaultdict(list)
    fields = [
        "due_soon_window",
        "escalate_after",
        "working_hours",
        "war_room",
        "war_room_days_before",
        "war_room_days_after",
        "d_day",
    ]
    for project in projects.only("pk", *fields):
        key = (project.due_soon_window, project.escalate_after, project.working_hours)
        groups[(*key, project.war_room_window)].append(project)
    remind: dict[datetime | None, list[int]] = defaultdict(list)
    escalate: dict[datetime | None, list[int]] = defaultdict(list)
    for members in groups.values():
        sample = members[0]
        hours, war_room = sample.hours, sample.war_room_window
        ids = [p.pk for p in members]
        if _quiet(calendar, now, hours=hours, war_room=war_room):
            remind[None] += ids
            escalate[None] += ids
            continue
        options = {"working_hours": hours, "war_room": war_room}
        # Due soon while at most the window of working time is left: up to the end of the
        # non-working gap the window ends in (a node due Monday 09:00 is as near as Friday 18:00).
        until = calendar.add_working_hours(now, sample.due_soon_window, **options)
        if sample.due_soon_window:
            until = calendar.next_working_start(until, **options)
        remind[until] += ids
        # Escalated once the moment the delay of working time ends (due + delay) has passed.
        # Inside a working period that is "more than the delay has passed": due before the
        # start of the gap that precedes the moment the delay reaches back to. Where no working
        # time passed just before now (a gap, or the first instant of a period), every node
        # whose delay ended at the last period's end has passed it: due up to that moment.
        since = calendar.add_working_hours(now, -sample.escalate_after, **options)
        if calendar.working_time_between(now - TICK, now, **options):
            escalate[calendar.add_working_hours(since, -TICK, **options) + TICK] += ids
        else:
            escalate[since + TICK] += ids
    return tuple(  # type: ignore[return-value]
        Deadlines(
            _expression(moments) if moments else Value(None, output_field=DateTimeField()),
            max((m for m in moments if m is not None), default=None),
        )
        for moments in (remind, escalate)
    )
