"""Lateness episodes as people act on and read them: acknowledging one with a promise, and
the episodes of a node with their rungs, promises and snoozes (docs/escalation.md).

The deadline scan starts, climbs and ends episodes (`tracker.alerts.ladder`); this module is
the domain's side, which `tracker.reports` may read too (the promise-kept rate).
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.core.errors import PermissionDeniedError
from tracker.core.permissions import can_acknowledge_lateness
from tracker.milestones.models import (
    LatenessEpisode,
    Milestone,
    MilestoneChange,
    Promise,
    PromiseOutcome,
)
from tracker.milestones.services import reason_resolve


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

    Raises PermissionDeniedError for anyone else and ValidationError for a node that is not
    late, a promised time not in the future, or a bad reason; nothing is written then."""
    now = now or timezone.now()
    with transaction.atomic():
        milestone = Milestone.objects.select_for_update(of=("self",)).get(pk=milestone_id)
        if not can_acknowledge_lateness(actor, milestone):
            raise PermissionDeniedError(
                _("Only the node's assignee or its department's lead can acknowledge it.")
            )
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
        episode = (
            LatenessEpisode.objects.select_for_update().filter(
                milestone=milestone, ended_at__isnull=True
            )
        ).first()
        if episode is None:
            errors["promised_at"] = _("This node is not late: there is nothing to acknowledge.")
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
