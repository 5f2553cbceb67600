"""Due-soon reminders and escalations count working hours, and wait out quiet hours.

A project's `due_soon_window` and its ladder's delays (`escalate_after` for the lead,
`escalate_owner_after`, `escalate_contact_after`, `nudge_every`) are working time, in the
project's working hours (or the organisation's), its war room counting around the clock. For
each alerting project the scan needs one moment per rule: a node is due soon while at most its
window of working time is left before its due date, and a lateness episode reaches a rung once
more than that rung's delay of working time has passed since it started. Outside a project's
working time (unless it is in its war room or `ALERTS_AT_ANY_HOUR` is set) the moment is NULL:
nothing is raised until the next working period starts, when the first scan raises it. Overdue
and resolved notices never wait.

Projects that share a window, working hours and war room share the arithmetic, so the cost
is one query for the projects' distinct settings (grouped in SQL) and one calendar per scan,
whatever the number of projects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, DateTimeField, Expression, F, QuerySet, Value, When

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
    range on the index before the per-project test; None when every project is quiet), and
    their earliest, a quiet project's counting as `now` (up to there every project's window
    reached: the due-soon watermark)."""

    expression: Expression
    latest: datetime | None
    earliest: datetime | None = None


def _expression(
    moments: dict[datetime | None, list[tuple]],
    groups: dict[tuple, tuple[Project, int]],
    ids: dict[tuple, list[int]],
) -> Expression:
    """CASE project_id … over the moments, the one most projects share as the default (no id
    list: with a single moment, no list at all)."""
    default = max(moments, key=lambda moment: sum(groups[key][1] for key in moments[moment]))
    return Case(
        *(
            When(
                project_id__in=[pk for key in keys for pk in ids[key]],
                then=Value(moment, output_field=DateTimeField()),
            )
            for moment, keys in moments.items()
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


def _passed_before(
    calendar: WorkingCalendar, now: datetime, delay: timedelta, options, *, since=None
) -> datetime:
    """The moment a clock must have started before for more than `delay` of working time to
    have passed by `now` (`since`: the moment `delay` of working time before `now`, when the
    caller already knows it).

    Inside a working period that is "more than the delay has passed": before the start of the
    gap that precedes the moment the delay reaches back to. Where no working time passed just
    before now (a gap, or the first instant of a period), every clock whose delay ended at the
    last period's end has passed it: started up to that moment."""
    if since is None:
        since = calendar.add_working_hours(now, -delay, **options)
    if calendar.working_time_between(now - TICK, now, **options):
        return calendar.add_working_hours(since, -TICK, **options) + TICK
    return since + TICK


# What a project's moments depend on, per function (with `WAR_ROOM_FIELDS`: the D-day and the
# war room's days only count while its war room is on, `Project.war_room_window`).
DUE_SOON_FIELDS = ("due_soon_window", "working_hours", "war_room")
LADDER_FIELDS = (
    "escalate_after",
    "escalate_owner_after",
    "escalate_contact_after",
    "nudge_every",
    "working_hours",
    "war_room",
)
WAR_ROOM_FIELDS = ("d_day", "war_room_days_before", "war_room_days_after")


def _war_room_only(field: str) -> Case:
    return Case(When(war_room=True, then=F(field)))


def _groups(
    projects: QuerySet[Project], fields: tuple[str, ...]
) -> dict[tuple, tuple[Project, int]]:
    """The projects' distinct `fields` (one row each, grouped in SQL, so a scan never builds
    every project), as an unsaved `Project` that holds them, and how many projects share them."""
    keys = {f"room_{field}": field for field in WAR_ROOM_FIELDS}  # aliases: not the fields' names
    rows = (
        projects.order_by()
        .values(*fields, **{alias: _war_room_only(field) for alias, field in keys.items()})
        .annotate(count=Count("pk"))
    )
    groups = {}
    for row in rows:
        count = row.pop("count")
        values = {keys.get(name, name): value for name, value in row.items()}
        groups[tuple(values.values())] = (Project(**values), count)
    return groups


def _group_key(project: Project, fields: tuple[str, ...]) -> tuple:
    """A project's key among `_groups` (its war-room fields only while its war room is on)."""
    return tuple(
        getattr(project, field) if field in fields or project.war_room else None
        for field in (*fields, *WAR_ROOM_FIELDS)
    )


def _project_ids(
    projects: QuerySet[Project], fields: tuple[str, ...], *moments: dict
) -> dict[tuple, list[int]]:
    """The ids of the projects of each group, read only when some `moments` differ (with one
    moment each, every CASE is its default and needs no list)."""
    ids: dict[tuple, list[int]] = defaultdict(list)
    if all(len(each) <= 1 for each in moments):
        return ids
    for project in projects.order_by().only("pk", *fields, *WAR_ROOM_FIELDS):
        ids[_group_key(project, fields)].append(project.pk)
    return ids


def _deadlines(
    moments: dict[datetime | None, list[tuple]],
    groups: dict[tuple, tuple[Project, int]],
    ids: dict[tuple, list[int]],
    *,
    now: datetime,
) -> Deadlines:
    return Deadlines(
        _expression(moments, groups, ids) if moments else Value(None, output_field=DateTimeField()),
        max((m for m in moments if m is not None), default=None),
        min((now if m is None else m for m in moments), default=None),
    )


@dataclass(frozen=True)
class Ladder:
    """The escalation ladder's moments for the alerting projects as of a scan's `now`, each a
    `Deadlines` over `project_id` (NULL where the project is in quiet hours: nothing climbs
    until its next working period):

    - `rungs[kind]`: a lateness episode that started before it has reached that rung;
    - `nudges[n - 1]`: one that started before it is due its n-th repeat nudge;
    - `settled`: a project created before it is past its first working day (younger ones
      escalate nothing, issue 16);
    - `awake`: `now`, for the projects in working time (a broken promise climbs at once)."""

    rungs: dict[str, Deadlines]
    nudges: list[Deadlines]
    settled: Deadlines
    awake: Deadlines


def ladder_deadlines(*, now: datetime, projects: QuerySet[Project], kinds: list[str]) -> Ladder:
    """The ladder's moments (see `Ladder`); `kinds` names the rungs after the first, in the
    order of the project fields that delay them.

    Like `working_deadlines`: one query for the projects' distinct ladder settings, and their
    ids only when the settings give more than one moment."""
    calendar = WorkingCalendar()
    groups = _groups(projects, LADDER_FIELDS)
    slots = settings.NUDGE_MAX_PER_EPISODE
    rungs: dict[str, dict] = {kind: defaultdict(list) for kind in kinds}
    nudges: list[dict] = [defaultdict(list) for _slot in range(slots)]
    settled: dict = defaultdict(list)
    awake: dict = defaultdict(list)
    for key, (sample, _count) in groups.items():
        hours, war_room = sample.hours, sample.war_room_window
        quiet = _quiet(calendar, now, hours=hours, war_room=war_room)
        options = {"working_hours": hours, "war_room": war_room}
        delays = (sample.escalate_after, sample.escalate_owner_after, sample.escalate_contact_after)
        for kind, delay in zip(kinds, delays, strict=True):
            rungs[kind][None if quiet else _passed_before(calendar, now, delay, options)].append(
                key
            )
        every = sample.nudge_every or hours.per_day
        since = now
        for moments in nudges:  # slot n: n × `every` before now, a step back from slot n - 1
            if quiet:
                moments[None].append(key)
                continue
            since = calendar.add_working_hours(since, -every, **options)
            moments[_passed_before(calendar, now, every, options, since=since)].append(key)
        settled[None if quiet else _passed_before(calendar, now, hours.per_day, options)].append(
            key
        )
        awake[None if quiet else now].append(key)
    ids = _project_ids(projects, LADDER_FIELDS, *rungs.values(), *nudges, settled, awake)
    return Ladder(
        rungs={kind: _deadlines(moments, groups, ids, now=now) for kind, moments in rungs.items()},
        nudges=[_deadlines(moments, groups, ids, now=now) for moments in nudges],
        settled=_deadlines(settled, groups, ids, now=now),
        awake=_deadlines(awake, groups, ids, now=now),
    )


def working_deadlines(*, now: datetime, projects: QuerySet[Project]) -> Deadlines:
    """Remind until: the due-soon window's far edge for the alerting `projects` as of `now`.

    One query for the projects' distinct settings and one calendar per setting; the ids of
    projects are only read when their settings give more than one moment (the moment most of
    them share is the CASE's default, which needs no list)."""
    calendar = WorkingCalendar()
    groups = _groups(projects, DUE_SOON_FIELDS)
    remind: dict[datetime | None, list[tuple]] = defaultdict(list)
    for key, (sample, _count) in groups.items():
        hours, war_room = sample.hours, sample.war_room_window
        if _quiet(calendar, now, hours=hours, war_room=war_room):
            remind[None].append(key)
            continue
        options = {"working_hours": hours, "war_room": war_room}
        # Due soon while at most the window of working time is left: up to the end of the
        # non-working gap the window ends in (a node due Monday 09:00 is as near as Friday 18:00).
        until = calendar.add_working_hours(now, sample.due_soon_window, **options)
        if sample.due_soon_window:
            until = calendar.next_working_start(until, **options)
        remind[until].append(key)
    return _deadlines(remind, groups, _project_ids(projects, DUE_SOON_FIELDS, remind), now=now)
