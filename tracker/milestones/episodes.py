"""Lateness episodes as people act on and read them: acknowledging one with a promise, and
the episodes of a node with their rungs, promises and snoozes (docs/escalation.md).

The deadline scan starts and climbs episodes (`tracker.alerts.ladder`); a node's save that
makes it done or cancelled ends its episode (`episodes_end`, with the scan as a safety net).
This module is the domain's side, which `tracker.reports` may read too (the promise-kept
rate).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Exists,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.core.errors import PermissionDeniedError, StateConflictError
from tracker.core.permissions import can_acknowledge_lateness
from tracker.milestones.models import (
    LatenessEpisode,
    Milestone,
    MilestoneChange,
    MilestoneStatus,
    Promise,
    PromiseOutcome,
)
from tracker.milestones.reasons import reason_resolve


def episode_authorize_acknowledge(*, milestone: Milestone, actor: User | None) -> None:
    """Refuse (PermissionDeniedError) anyone but the node's assignee and its lead."""
    if actor is None or not can_acknowledge_lateness(actor, milestone):
        raise PermissionDeniedError(
            _("Only the node's assignee or its department's lead can acknowledge it.")
        )


def episode_open_or_conflict(*, milestone: Milestone, lock: bool = False) -> LatenessEpisode:
    """The node's open lateness episode; StateConflictError when it is not late."""
    episodes = LatenessEpisode.objects.filter(milestone=milestone, ended_at__isnull=True)
    episode = (episodes.select_for_update() if lock else episodes).first()
    if episode is None:
        raise StateConflictError(_("This node is not late: there is nothing to acknowledge."))
    return episode


def episode_acknowledge(
    *,
    milestone_id: int,
    actor: User,
    promised_at: datetime | None,
    reason_code: str,
    note: str = "",
    now: datetime | None = None,
) -> Promise:
    """The assignee or the department lead acknowledges the node's open lateness episode with
    a new promised time, a reason code (`DeviationReason`) and a note. Nudges pause and the
    ladder holds until `promised_at`; a promise still pending is replaced (it counts as not
    kept). The due date, the baseline and the figure of record do not change.

    Raises PermissionDeniedError for anyone else, StateConflictError for a node that is not
    late, and ValidationError for a promised time not in the future or a bad reason; nothing
    is written then."""
    now = now or timezone.now()
    with transaction.atomic():
        milestone = Milestone.objects.select_for_update(of=("self",)).get(pk=milestone_id)
        episode_authorize_acknowledge(milestone=milestone, actor=actor)
        episode = episode_open_or_conflict(milestone=milestone, lock=True)
        errors = {}
        if promised_at is None:
            errors["promised_at"] = _("Say when it will be done.")
        elif promised_at <= now:
            errors["promised_at"] = _("The promised time must be in the future.")
        try:
            reason = reason_resolve(
                reason_code=reason_code,
                change_reason=note,
                needed=_("Say why it is late: give a reason code."),
            )
        except ValidationError as error:
            errors.update(
                {
                    ("note" if field == "change_reason" else field): messages
                    for field, messages in error.message_dict.items()
                }
            )
        if errors:
            raise ValidationError(errors)
        episode.promises.filter(outcome=PromiseOutcome.PENDING).update(
            outcome=PromiseOutcome.SUPERSEDED
        )
        promise = Promise.objects.create(
            episode=episode,
            milestone=milestone,
            actor=actor,
            promised_at=promised_at,
            reason_code=reason.code,
            note=reason.text,
            created_at=now,
        )
        episode.promised_at = promised_at
        episode.save(update_fields=["promised_at"])
    return promise


def episodes_end(episodes: QuerySet[LatenessEpisode], *, now: datetime) -> int:
    """End these open episodes of nodes done or cancelled, at the node's completion time (else
    `now`), and judge their pending promises: kept when done by the promised time, broken
    when done later, void when cancelled. Set-based: one query when there is nothing to end,
    three otherwise."""
    ids = list(episodes.values_list("pk", flat=True))
    if not ids:
        return 0
    node = Milestone.objects.filter(pk=OuterRef("milestone_id"))
    Promise.objects.filter(episode_id__in=ids, outcome=PromiseOutcome.PENDING).update(
        outcome=Case(
            When(
                Exists(
                    node.filter(
                        status=MilestoneStatus.DONE, completed_at__lte=OuterRef("promised_at")
                    )
                ),
                then=Value(PromiseOutcome.KEPT),
            ),
            When(
                Exists(node.filter(status=MilestoneStatus.DONE)), then=Value(PromiseOutcome.BROKEN)
            ),
            default=Value(PromiseOutcome.VOID),
            output_field=CharField(),
        )
    )
    return LatenessEpisode.objects.filter(pk__in=ids).update(
        ended_at=Coalesce(Subquery(node.values("completed_at")[:1]), Value(now))
    )


def episodes_of(*, milestone: Milestone) -> QuerySet[LatenessEpisode]:
    """A node's episodes, newest first, with their rung alerts, promises and snoozes loaded
    (three queries however many there are)."""
    return LatenessEpisode.objects.filter(milestone=milestone).prefetch_related(
        Prefetch("promises", queryset=Promise.objects.select_related("actor")),
        "snoozes__user",
        "alerts",
    )


def open_episodes_of(milestone_ids) -> dict[int, LatenessEpisode]:
    """The open episode of each of these nodes (one query), for the board's and My work's
    lists."""
    return {
        episode.milestone_id: episode
        for episode in LatenessEpisode.objects.filter(
            milestone_id__in=list(milestone_ids), ended_at__isnull=True
        )
    }


def replans_during(*, episode: LatenessEpisode) -> int:
    """How many times the node's due date was moved since its episode started."""
    changes = MilestoneChange.objects.filter(
        milestone_id=episode.milestone_id, field="due_at", created_at__gte=episode.started_at
    )
    if episode.ended_at:
        changes = changes.filter(created_at__lte=episode.ended_at)
    return changes.count()


@dataclass(frozen=True)
class EpisodeStory:
    """What an alert of an episode tells of it beyond the node: since when it is late, how
    often it was re-planned, and its latest promise (and whether that was broken)."""

    started_at: datetime
    replans: int
    promised_at: datetime | None
    broken: bool


def episode_stories(episode_ids) -> dict[int, EpisodeStory]:
    """The story of each of these episodes, in three queries however many there are."""
    episodes = list(
        LatenessEpisode.objects.filter(pk__in=list(episode_ids)).values_list(
            "pk", "milestone_id", "started_at", "ended_at"
        )
    )
    if not episodes:
        return {}
    starts = {milestone: started for _pk, milestone, started, _ended in episodes}
    replans: dict[int, int] = defaultdict(int)
    for milestone_id, created_at in MilestoneChange.objects.filter(
        milestone_id__in=starts, field="due_at"
    ).values_list("milestone_id", "created_at"):
        for pk, milestone, started, ended in episodes:
            if (
                milestone == milestone_id
                and started <= created_at
                and (ended is None or created_at <= ended)
            ):
                replans[pk] += 1
    latest: dict[int, tuple[datetime, str]] = {}
    for episode_id, promised_at, outcome in (
        Promise.objects.filter(episode_id__in=[row[0] for row in episodes])
        .order_by("created_at", "id")
        .values_list("episode_id", "promised_at", "outcome")
    ):
        latest[episode_id] = (promised_at, outcome)
    return {
        pk: EpisodeStory(
            started_at=started,
            replans=replans[pk],
            promised_at=latest.get(pk, (None, ""))[0],
            broken=latest.get(pk, (None, ""))[1] == PromiseOutcome.BROKEN,
        )
        for pk, _milestone, started, _ended in episodes
    }
