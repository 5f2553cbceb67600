"""Snoozing a lateness episode's alerts: from the web, a signed one-click link in the email, and
the chat command `snooze 42 1d` (docs/escalation.md). A snooze pauses the episode's repeat
nudges until it ends; only a promise (an acknowledgement) holds the ladder.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.alerts.models import Alert, AlertSnooze, SnoozeVia
from tracker.core.errors import PermissionDeniedError
from tracker.core.permissions import can_acknowledge_lateness
from tracker.milestones.models import LatenessEpisode, Milestone

SNOOZE_SALT = "milepost.alerts.snooze"
SNOOZE_LINK_MAX_AGE = 14 * 24 * 3600  # an email's links work for two weeks
MAX_SNOOZE = timedelta(days=30)
MORNING = time(9, 0)
# The choices a link or a form offers; a chat command or the API may also say "3h", "2d" or a
# date.
CHOICES = ("1h", "tomorrow")
_DURATION = re.compile(r"^(\d{1,3})\s*([hd])$")


def snooze_until(choice: str, *, now: datetime) -> datetime:
    """When a snooze said as `choice` ends: "1h"/"3h" (hours), "1d"/"2d" (until that many
    days later, 09:00 local), "tomorrow" (tomorrow 09:00 local) or a date "2026-12-10" (09:00
    local that day). ValidationError for anything else, a moment not in the future, or more
    than 30 days ahead."""
    text = (choice or "").strip().lower()
    local = timezone.localtime(now)
    match = _DURATION.match(text)
    if text == "tomorrow":
        text, match = "1d", _DURATION.match("1d")
    if match and match[2] == "h":
        until = now + timedelta(hours=int(match[1]))
    elif match:
        day = local.date() + timedelta(days=int(match[1]))
        until = timezone.make_aware(datetime.combine(day, MORNING))
    else:
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise ValidationError(
                _("Snooze for 1h, 3h, 1d, tomorrow or until a date (2026-12-10).")
            ) from exc
        until = timezone.make_aware(datetime.combine(day, MORNING))
    if until <= now:
        raise ValidationError(_("A snooze must end in the future."))
    if until > now + MAX_SNOOZE:
        raise ValidationError(_("A snooze lasts at most 30 days."))
    return until


def can_snooze(user: User, milestone: Milestone) -> bool:
    """The people the ladder names: the assignee, the lead, the project's owner, its
    escalation contact, and staff."""
    return bool(
        user.is_active
        and (
            user.is_staff
            or can_acknowledge_lateness(user, milestone)
            or milestone.project.owner_id == user.pk
            or milestone.project.escalation_contact_id == user.pk
        )
    )


def alert_snooze(
    *,
    actor: User,
    until: datetime,
    via: str,
    alert_id: int | None = None,
    milestone_id: int | None = None,
    now: datetime | None = None,
) -> AlertSnooze:
    """Snooze an alert (or, given a node, its open lateness episode's latest alert) until
    `until`: the episode's nudges pause until then. PermissionDeniedError for someone the
    ladder does not name; ValidationError when there is nothing to snooze."""
    now = now or timezone.now()
    if until <= now:
        raise ValidationError({"until": _("A snooze must end in the future.")})
    with transaction.atomic():
        alerts = Alert.objects.select_related("milestone__project")
        if alert_id is not None:
            alert = alerts.filter(pk=alert_id).first()
        else:
            alert = (
                alerts.filter(milestone_id=milestone_id, episode__ended_at__isnull=True)
                .exclude(episode=None)
                .order_by("-created_at", "-id")
                .first()
            )
        if alert is None:
            raise ValidationError(_("There is no open alert of that node to snooze."))
        if not can_snooze(actor, alert.milestone):
            raise PermissionDeniedError(_("You are not among the people this alert is for."))
        snooze = AlertSnooze.objects.create(
            alert=alert,
            episode_id=alert.episode_id,
            user=actor,
            until=until,
            via=via,
            created_at=now,
        )
        if alert.episode_id:
            LatenessEpisode.objects.filter(pk=alert.episode_id).update(snoozed_until=until)
    return snooze


# The signed one-click link ---------------------------------------------------------------


def snooze_token(*, user: User, alert_id: int, choice: str) -> str:
    """A token naming the person, the alert and the choice; only this server can make one."""
    if choice not in CHOICES:
        raise ValueError(choice)
    return signing.dumps({"u": user.pk, "a": alert_id, "c": choice}, salt=SNOOZE_SALT)


def snooze_read(token: str) -> tuple[User, int, str]:
    """The person, alert and choice of a token; ValidationError for a forged, broken or
    stale one."""
    try:
        data = signing.loads(token, salt=SNOOZE_SALT, max_age=SNOOZE_LINK_MAX_AGE)
        user = User.objects.get(pk=int(data["u"]), is_active=True)
        alert_id, choice = int(data["a"]), str(data["c"])
    except (signing.BadSignature, User.DoesNotExist, KeyError, TypeError, ValueError) as exc:
        raise ValidationError(_("This snooze link is not valid.")) from exc
    if choice not in CHOICES:
        raise ValidationError(_("This snooze link is not valid."))
    return user, alert_id, choice


def snooze_by_link(*, token: str, now: datetime | None = None) -> AlertSnooze:
    """The email's one-click snooze (POST, like List-Unsubscribe's)."""
    now = now or timezone.now()
    user, alert_id, choice = snooze_read(token)
    return alert_snooze(
        actor=user,
        alert_id=alert_id,
        until=snooze_until(choice, now=now),
        via=SnoozeVia.EMAIL,
        now=now,
    )
