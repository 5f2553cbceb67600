"""Wording of alert emails and chat messages, so both say the same thing in every language.

Call these inside `translation.override(language)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext, ngettext

from tracker.alerts.models import AlertKind
from tracker.notifications.texts import project_names


def alerts_title(count: int, projects: Iterable[str], *, digest: bool = False) -> str:
    """The subject of an alert email and the title of a chat message: how many, which projects."""
    values = {"count": count, "projects": project_names(projects)}
    if digest:
        return (
            ngettext(
                "Daily digest: %(count)d alert in %(projects)s",
                "Daily digest: %(count)d alerts in %(projects)s",
                count,
            )
            % values
        )
    return (
        ngettext(
            "%(count)d new alert in %(projects)s", "%(count)d new alerts in %(projects)s", count
        )
        % values
    )


def kind_count(kind: str, count: int) -> str:
    if kind == AlertKind.ESCALATION_CONTACT:
        return ngettext(
            "%(count)d escalation to the contact", "%(count)d escalations to the contact", count
        ) % {"count": count}
    if kind == AlertKind.ESCALATION_OWNER:
        return ngettext(
            "%(count)d escalation to the owner", "%(count)d escalations to the owner", count
        ) % {"count": count}
    if kind == AlertKind.NUDGE:
        return ngettext("%(count)d still overdue", "%(count)d still overdue", count) % {
            "count": count
        }
    if kind == AlertKind.ESCALATION:
        return ngettext("%(count)d escalation", "%(count)d escalations", count) % {"count": count}
    if kind == AlertKind.OVERDUE:
        return ngettext("%(count)d overdue", "%(count)d overdue", count) % {"count": count}
    if kind == AlertKind.DUE_SOON:
        return ngettext("%(count)d due soon", "%(count)d due soon", count) % {"count": count}
    if kind == AlertKind.FORECAST_SLIP:
        return ngettext("%(count)d forecast late", "%(count)d forecast late", count) % {
            "count": count
        }
    if kind == AlertKind.D_DAY_AT_RISK:
        return ngettext("%(count)d D-day at risk", "%(count)d D-days at risk", count) % {
            "count": count
        }
    return ngettext("%(count)d resolved", "%(count)d resolved", count) % {"count": count}


def alerts_summary(kinds: Iterable[str]) -> str:
    """'2 overdue, 1 escalation', most urgent first."""
    counts = Counter(kinds)
    return ", ".join(
        kind_count(kind, counts[kind])
        for kind in sorted(counts, key=AlertKind.urgency)
        if counts[kind]
    )


def forecast_when(kind: str, *, forecast_at: datetime | None, due_at: datetime) -> str:
    """What a forecast alert says of its node: when it is now forecast to finish."""
    values = {
        "forecast": timezone.localtime(forecast_at).strftime("%Y-%m-%d %H:%M")
        if forecast_at
        else "?",
        "due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M"),
    }
    if kind == AlertKind.D_DAY_AT_RISK:
        return gettext("threatens the D-day: forecast %(forecast)s (due %(due)s)") % values
    return gettext("forecast to finish %(forecast)s, after its due date %(due)s") % values


def episode_story(
    *, replans: int, due_at: datetime, promised_at: datetime | None, broken: bool
) -> str:
    """What a later alert of a lateness episode adds: "re-planned twice, now due Thu 12-03"
    and "promised Thu 18:00, not done" (empty when neither happened)."""
    parts = []
    due = timezone.localtime(due_at).strftime("%a %m-%d %H:%M")
    if replans:
        parts.append(
            ngettext(
                "re-planned once, now due %(due)s",
                "re-planned %(count)d times, now due %(due)s",
                replans,
            )
            % {"count": replans, "due": due}
        )
    if promised_at is not None:
        promised = timezone.localtime(promised_at).strftime("%a %m-%d %H:%M")
        if broken:
            parts.append(gettext("promised %(promised)s, not done") % {"promised": promised})
        else:
            parts.append(gettext("promised %(promised)s") % {"promised": promised})
    return "; ".join(parts)
