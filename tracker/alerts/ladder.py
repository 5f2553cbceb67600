"""The escalation ladder of a lateness episode, one set-based statement a step (and the mark
that takes its rows out of the next scan's work), every minute after the overdue step, each
step only when `ladder_pending` (one statement of index probes) says an open episode may be
due for it:

- broken promises: an episode whose promise passed with the node still open climbs one rung
  at once, and the promise is marked broken;
- rungs: an episode reaches the lead's, the owner's and the escalation contact's rung once
  that rung's delay of working time has passed since it started, unless a promise holds it
  (and never in a project younger than its first working day, issue 16);
- nudges: the assignee hears again every `nudge_every` of working time (once per working
  day by default) unless a promise or a snooze pauses it.

The safety net that ends the episodes of nodes done or cancelled by a write past the services
(`end_episodes`) runs every quarter hour, on the nodes written since its previous run.

Episodic alerts are unique per (episode, kind, slot), so racing scans raise each rung once
(docs/escalation.md).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    DurationField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from tracker.alerts.models import Alert, AlertKind
from tracker.alerts.raising import _insert_alerts
from tracker.alerts.sql import Names, compile_queryset, execute
from tracker.alerts.working_time import TICK, Ladder, ladder_deadlines
from tracker.milestones.episodes import episodes_end
from tracker.milestones.models import (
    LatenessEpisode,
    Milestone,
    MilestoneStatus,
    Promise,
    PromiseOutcome,
)
from tracker.projects.models import Project, ProjectStatus
from tracker.workcal.calendar import default_working_hours

# The rungs after the first, in the order of the project fields that delay them.
CLIMBING = AlertKind.rungs()[1:]


def ladder_for(*, now: datetime) -> Ladder:
    """The ladder's moments for the alerting projects as of `now` (`working_time`)."""
    return ladder_deadlines(now=now, projects=Project.objects.alerting(), kinds=CLIMBING)


def end_episodes(*, now: datetime, changed_since: datetime | None = None) -> int:
    """End the open episodes of nodes done or cancelled that the save did not end (the safety
    net of `milestones.episodes.episodes_end`: a write that bypassed the services). With the
    quarter-hour scan's watermark, only the nodes written since `changed_since` are read (every
    write stamps `updated_at`, `MilestoneQuerySet.changed_since`), as resolution reads them."""
    closed = Milestone.objects.filter(status__in=[MilestoneStatus.DONE, MilestoneStatus.CANCELLED])
    if changed_since is not None:
        # From the nodes written since (`milestones_updated_due`) to their open episode (the one
        # open episode per node's index): a probe per changed node, not every open episode.
        closed = closed.changed_since(changed_since)
    episodes = LatenessEpisode.objects.filter(
        ended_at__isnull=True, milestone__in=closed.values("pk")
    )
    return episodes_end(episodes, now=now)


@dataclass(frozen=True)
class Pending:
    """The earliest start of the open episodes at each rung and at each nudge count, and the
    earliest promise in force: enough to tell, against the ladder's latest moments, which steps
    may find something (`steps`)."""

    rungs: dict[int, datetime | None]
    nudges: dict[int, datetime | None]
    promised: datetime | None
    # The shortest delay of each climbing rung and between nudges over the alerting projects
    # (None: no project, or one whose nudges follow working hours of its own): working time
    # passes no faster than the clock, so no moment of the ladder is later than `now` minus
    # them (`may_climb`).
    shortest: dict[str, timedelta | None] = field(default_factory=dict)

    @property
    def idle(self) -> bool:
        """No open episode below the top rung or the last nudge, and no promise: the ladder has
        nothing left to do, whatever the clock says."""
        return self.promised is None and not any((*self.rungs.values(), *self.nudges.values()))

    def may_climb(self, *, now: datetime) -> bool:
        """Whether any step may find something, judged by the clock alone, before the ladder's
        moments are worked out (a query and a calendar per setting): an episode below a rung
        can reach it only once it started more than the rung's shortest delay before `now`,
        and its next nudge only once its slot's count of the shortest interval has passed.
        Conservative: True whenever a delay is unknown or a promise is in force."""
        if self.promised is not None:
            return True
        delays = [self.shortest.get(kind) for kind in (*CLIMBING, "nudge")]
        if any(delay is None for delay in delays):
            return True
        *rung_delays, every = delays
        for number, delay in enumerate(rung_delays, start=2):
            latest = now - delay + TICK
            if any(
                start is not None and start < latest
                for rung, start in self.rungs.items()
                if rung < number
            ):
                return True
        return any(
            start is not None and start < now - (count + 1) * every + TICK
            for count, start in self.nudges.items()
        )

    def steps(self, ladder: Ladder, *, now: datetime) -> tuple[bool, set[str], bool]:
        """Broken promises?, the rungs, nudges: the steps an open episode may be due for. An
        episode at rung r may reach any rung above it; one with n nudges is due its next once
        it started before slot n + 1's moment. Conservative: a promise, a snooze or a young
        project may still hold what a step then finds."""
        broken = (
            self.promised is not None and self.promised <= now and ladder.awake.latest is not None
        )
        rungs = {
            kind
            for number, kind in enumerate(CLIMBING, start=2)
            if (latest := ladder.rungs[kind].latest) is not None
            and any(
                start is not None and start < latest
                for rung, start in self.rungs.items()
                if rung < number
            )
        }
        nudges = any(
            start is not None
            and count < len(ladder.nudges)
            and (latest := ladder.nudges[count].latest) is not None
            and start < latest
            for count, start in self.nudges.items()
        )
        return broken, rungs, nudges


def ladder_pending() -> Pending:
    """One statement of index probes (`milestones_episode_rungs`, `…_nudges`,
    `…_promised`): the earliest open episode per rung below the top and per nudge count below
    the last, and the earliest promise."""
    rungs = len(AlertKind.rungs()) - 1
    sql, params = _pending_sql(connection.vendor, rungs, settings.NUDGE_MAX_PER_EPISODE)
    (row,) = execute(sql, params)
    *starts, lead, owner, contact, every, default_hours, own_hours = row
    values = _datetimes(starts)
    shortest: dict[str, timedelta | None] = dict(
        zip(CLIMBING, _durations([lead, owner, contact]), strict=True)
    )
    # Nudges without an interval of their own come once per working day: the organisation's,
    # or a project's own hours' (unknown here: no bound then).
    intervals = [*_durations([every]), default_working_hours().per_day if default_hours else None]
    intervals = [interval for interval in intervals if interval is not None]
    shortest["nudge"] = None if own_hours or not intervals else min(intervals)
    return Pending(
        rungs=dict(enumerate(values[:rungs], start=1)),
        nudges=dict(enumerate(values[rungs:-1])),
        promised=values[-1],
        shortest=shortest,
    )


@functools.cache
def _pending_sql(_vendor: str, rungs: int, nudges: int) -> tuple[str, tuple]:
    """The probe's statement, compiled once per database and ladder shape: it has no moment in
    it, and compiling its 24 subqueries would cost an empty scan more than running them."""
    open_episodes = LatenessEpisode.objects.filter(ended_at__isnull=True).order_by()
    earliest = [
        *(
            open_episodes.filter(rung=rung).order_by("started_at").values("started_at")[:1]
            for rung in range(1, rungs + 1)
        ),
        *(
            open_episodes.filter(nudges=count).order_by("started_at").values("started_at")[:1]
            for count in range(nudges)
        ),
        open_episodes.filter(promised_at__isnull=False)
        .order_by("promised_at")
        .values("promised_at")[:1],
    ]
    parts = [compile_queryset(queryset) for queryset in earliest]
    # The shortest delays over the alerting projects (`Pending.shortest`), in the same trip.
    p = Names(Project)
    alerting = ", ".join(["%s"] * len(ProjectStatus.alerting_values()))
    limits = (
        f"SELECT min({p.escalate_after}), min({p.escalate_owner_after}),"
        f" min({p.escalate_contact_after}), min({p.nudge_every}),"
        f" count(*) FILTER (WHERE {p.nudge_every} IS NULL AND {p.working_hours} = ''),"
        f" count(*) FILTER (WHERE {p.nudge_every} IS NULL AND {p.working_hours} <> '')"
        f" FROM {p.table} WHERE {p.status} IN ({alerting})"
    )
    sql = (
        "SELECT "
        + ", ".join(f"({part})" for part, _params in parts)
        + f", limits.* FROM ({limits}) AS limits"
    )
    params = tuple(param for _part, params in parts for param in params)
    return sql, (*params, *ProjectStatus.alerting_values())


def _durations(values) -> list[timedelta | None]:
    """Raw durations as the ORM would read them (SQLite answers microseconds)."""
    return _as_read(values, DurationField())


def _datetimes(values) -> list[datetime | None]:
    """Raw datetimes as the ORM would read them (SQLite answers text)."""
    return _as_read(values, DateTimeField())


def _as_read(values, output_field) -> list:
    """Raw values of a statement's columns as the ORM reads a column of `output_field`."""
    field = Value(None, output_field=output_field)
    converters = connection.ops.get_db_converters(field) + field.get_db_converters(connection)
    converted = []
    for value in values:
        for converter in converters:
            value = converter(value, field, connection)
        converted.append(value)
    return converted


def _climbing(ladder: Ladder) -> QuerySet[LatenessEpisode]:
    """Open episodes of open nodes in active projects past their first working day, in
    working time: the ones a rung may be raised for."""
    return (
        LatenessEpisode.objects.filter(
            ended_at__isnull=True,
            milestone__status__in=MilestoneStatus.open_values(),
            project__status__in=ProjectStatus.alerting_values(),
        )
        .alias(settled_before=ladder.settled.expression)
        .filter(project__created_at__lt=F("settled_before"))
    )


def _insert_episode_alerts(
    episodes: QuerySet[LatenessEpisode], *, kind, now: datetime, scan_id: uuid.UUID, sequence=None
) -> int:
    return _insert_alerts(
        episodes,
        milestone="milestone_id",
        node="milestone__",
        copies="milestone__",
        kind=kind,
        now=now,
        scan_id=scan_id,
        episode="pk",
        sequence=sequence,
    )


def raise_broken_promises(*, now: datetime, scan_id: uuid.UUID, ladder: Ladder) -> int:
    """An episode whose promise has passed with its node still open climbs the next rung at
    once (its alert says "promised …, not done"); the promise is marked broken, which lets
    nudges and the clock-driven rungs resume."""
    if ladder.awake.latest is None:
        return 0
    broken = (
        _climbing(ladder)
        .filter(promised_at__isnull=False, promised_at__lte=now)
        .alias(awake=ladder.awake.expression)
        .filter(awake__isnull=False)
    )
    ids = list(broken.values_list("pk", flat=True))
    if not ids:
        return 0
    next_rung = Case(
        *(When(rung=number, then=Value(kind)) for number, kind in enumerate(CLIMBING, start=1)),
        output_field=CharField(),
    )
    episodes = LatenessEpisode.objects.filter(pk__in=ids)
    created = _insert_episode_alerts(
        episodes.filter(rung__lt=len(AlertKind.rungs())), kind=next_rung, now=now, scan_id=scan_id
    )
    Promise.objects.filter(
        episode_id__in=ids, outcome=PromiseOutcome.PENDING, promised_at__lte=now
    ).update(outcome=PromiseOutcome.BROKEN, broken_at=now)
    episodes.filter(rung__lt=len(AlertKind.rungs())).update(rung=F("rung") + 1)
    episodes.update(promised_at=None)
    return created


def ladder_climb(*, now: datetime, scan_id: uuid.UUID) -> tuple[int, int]:
    """The every-minute ladder: the steps `ladder_pending` says may find something, in order
    (broken promises, the rungs, the nudges); none at all, and no ladder moments worked out,
    when no open episode has a rung, a nudge or a promise left. Returns (escalated, nudged)."""
    pending = ladder_pending()
    if pending.idle or not pending.may_climb(now=now):
        return 0, 0
    moments = ladder_for(now=now)
    broken, rungs, nudges = pending.steps(moments, now=now)
    escalated = raise_broken_promises(now=now, scan_id=scan_id, ladder=moments) if broken else 0
    if rungs:
        escalated += raise_rungs(now=now, scan_id=scan_id, ladder=moments, kinds=rungs)
    nudged = raise_nudges(now=now, scan_id=scan_id, ladder=moments) if nudges else 0
    return escalated, nudged


def _unpromised(episodes: QuerySet[LatenessEpisode], now: datetime) -> QuerySet[LatenessEpisode]:
    """Episodes no promise holds: none made, or the one made has passed."""
    return episodes.filter(Q(promised_at__isnull=True) | Q(promised_at__lte=now))


def raise_rungs(
    *, now: datetime, scan_id: uuid.UUID, ladder: Ladder, kinds: set[str] | None = None
) -> int:
    """The lead's, the owner's and the contact's rungs (those of `kinds`, default all), one
    INSERT … SELECT each, for the open episodes that started before the rung's moment and have
    not reached it; then the rung is marked on the episode (which takes it out of this step's
    next reads)."""
    created = 0
    for number, kind in enumerate(CLIMBING, start=2):
        deadlines = ladder.rungs[kind]
        if deadlines.latest is None or (kinds is not None and kind not in kinds):
            continue
        due = (
            _unpromised(_climbing(ladder), now)
            .filter(rung__lt=number, started_at__lt=deadlines.latest)
            .alias(reach_before=deadlines.expression)
            .filter(started_at__lt=F("reach_before"))
        )
        raised = _insert_episode_alerts(due, kind=kind, now=now, scan_id=scan_id)
        if raised:
            reached = Alert.objects.filter(scan_id=scan_id, created_at=now, kind=kind)
            LatenessEpisode.objects.filter(
                pk__in=reached.values("episode_id"), rung__lt=number
            ).update(rung=number)
        created += raised
    return created


def _nudge_slot(ladder: Ladder):
    """How many nudge slots an episode's working time has passed (the n-th slot passes once n
    × `nudge_every` of working time has passed since it started)."""
    return sum(
        (
            Case(
                When(started_at__lt=deadlines.expression, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
            for deadlines in ladder.nudges
        ),
        start=Value(0, output_field=IntegerField()),
    )


def raise_nudges(*, now: datetime, scan_id: uuid.UUID, ladder: Ladder) -> int:
    """A nudge to the assignee for each open episode that passed a new slot, unless a promise
    or a snooze pauses it (slots passed meanwhile are skipped, not sent in a burst); then the
    slot is marked on the episode."""
    first = ladder.nudges[0].latest if ladder.nudges else None
    if first is None:
        return 0
    # An episode this scan started (late: the node was first judged after its due date) has
    # its overdue notice now: the slots it passed before are not nudged on top of it.
    LatenessEpisode.objects.filter(scan_id=scan_id, started_at__lt=first).update(
        nudges=_nudge_slot(ladder)
    )
    due = (
        _unpromised(
            LatenessEpisode.objects.filter(
                ended_at__isnull=True,
                milestone__status__in=MilestoneStatus.open_values(),
                project__status__in=ProjectStatus.alerting_values(),
                started_at__lt=first,
            ),
            now,
        )
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
        .alias(slot=_nudge_slot(ladder))
        .filter(slot__gt=F("nudges"))
    )
    created = _insert_episode_alerts(
        due, kind=AlertKind.NUDGE, now=now, scan_id=scan_id, sequence=_nudge_slot(ladder)
    )
    if created:
        nudged = Alert.objects.filter(scan_id=scan_id, created_at=now, kind=AlertKind.NUDGE)
        LatenessEpisode.objects.filter(pk__in=nudged.values("episode_id")).update(
            nudges=Subquery(nudged.filter(episode_id=OuterRef("pk")).values("sequence")[:1])
        )
    return created
