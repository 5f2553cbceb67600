"""What the node panel and My work show of lateness episodes: since when a node is late, the
rung reached, its promises (kept or not), snoozes, and the rungs reached in time order (the
episode's part of the node's history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.alerts.models import Alert, AlertKind, AlertSnooze
from tracker.alerts.snoozing import can_snooze
from tracker.core.permissions import can_acknowledge_lateness
from tracker.milestones.models import (
    DeviationReason,
    LatenessEpisode,
    Milestone,
    Promise,
    PromiseOutcome,
)


@dataclass(frozen=True)
class EpisodeEvent:
    at: datetime
    text: str


def rung_label(rung: int) -> str:
    return str(AlertKind(AlertKind.rungs()[rung - 1]).label)


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def promise_text(promise: Promise) -> str:
    values = {
        "who": promise.actor or _("Someone"),
        "promised": _local(promise.promised_at),
        "reason": promise.reason_code,
        "outcome": promise.get_outcome_display(),
    }
    text = _("%(who)s acknowledged: promised %(promised)s (%(reason)s) · %(outcome)s") % values
    return f"{text} · {promise.note}" if promise.note else text


def _events(episode: LatenessEpisode) -> list[EpisodeEvent]:
    events = [EpisodeEvent(episode.started_at, _("became overdue"))]
    for alert in episode.alerts.all():
        if alert.kind in AlertKind.rungs():
            events.append(
                EpisodeEvent(
                    alert.created_at,
                    _("rung reached: %(rung)s") % {"rung": alert.get_kind_display()},
                )
            )
        elif alert.kind == AlertKind.NUDGE:
            events.append(EpisodeEvent(alert.created_at, _("assignee nudged again")))
    for promise in episode.promises.all():
        events.append(EpisodeEvent(promise.created_at, promise_text(promise)))
        if promise.outcome == PromiseOutcome.BROKEN and promise.broken_at:
            events.append(
                EpisodeEvent(
                    promise.broken_at,
                    _("promised %(promised)s, not done")
                    % {"promised": _local(promise.promised_at)},
                )
            )
    for snooze in episode.snoozes.all():
        events.append(
            EpisodeEvent(
                snooze.created_at,
                _("%(who)s snoozed until %(until)s (%(via)s)")
                % {
                    "who": snooze.user,
                    "until": _local(snooze.until),
                    "via": snooze.get_via_display(),
                },
            )
        )
    if episode.ended_at:
        events.append(EpisodeEvent(episode.ended_at, _("lateness ended")))
    return sorted(events, key=lambda event: event.at)


def node_episodes(*, node: Milestone, user: User) -> dict:
    """The node panel's episode context, in four queries however many episodes."""
    episodes = list(
        LatenessEpisode.objects.filter(milestone=node).prefetch_related(
            Prefetch("promises", queryset=Promise.objects.select_related("actor")),
            Prefetch("snoozes", queryset=AlertSnooze.objects.select_related("user")),
            Prefetch("alerts", queryset=Alert.objects.order_by("created_at", "id")),
        )
    )
    for episode in episodes:
        episode.events = _events(episode)
        episode.rung_label = rung_label(episode.rung)
    open_one = bool(episodes) and episodes[0].is_open
    return {
        "episodes": episodes,
        "can_acknowledge": open_one and can_acknowledge_lateness(user, node),
        "can_snooze": open_one and can_snooze(user, node),
        "reasons": DeviationReason.objects.active() if open_one else [],
    }


def work_episodes(nodes) -> None:
    """Give each listed node its open `episode` (or None), with its latest promise as
    `episode.promise` and the rung's label: My work's lists, in two queries."""
    nodes = list(nodes)
    episodes = {
        episode.milestone_id: episode
        for episode in LatenessEpisode.objects.filter(
            milestone_id__in=[n.pk for n in nodes], ended_at__isnull=True
        ).prefetch_related(
            Prefetch("promises", queryset=Promise.objects.order_by("-created_at", "-id"))
        )
    }
    for node in nodes:
        episode = episodes.get(node.pk)
        if episode is not None:
            episode.rung_label = rung_label(episode.rung)
            episode.promise = next(iter(episode.promises.all()), None)
        node.episode = episode
