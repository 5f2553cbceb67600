"""Wording shared by emails and chat messages, so both say the same thing in every language.

Call these inside `translation.override(language)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tracker.alerts.models import AlertKind

PROJECTS_NAMED = 3


def project_names(names: Iterable[str]) -> str:
    """'Double 11', 'Double 11, 618' or 'Double 11, 618, Launch X and 2 more'."""
    unique = list(dict.fromkeys(names))
    shown = ", ".join(unique[:PROJECTS_NAMED])
    hidden = len(unique) - PROJECTS_NAMED
    if hidden > 0:
        return ngettext(
            "%(names)s and %(count)d more project",
            "%(names)s and %(count)d more projects",
            hidden,
        ) % {"names": shown, "count": hidden}
    return shown


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
    if kind == AlertKind.ESCALATION:
        return ngettext("%(count)d escalation", "%(count)d escalations", count) % {"count": count}
    if kind == AlertKind.OVERDUE:
        return ngettext("%(count)d overdue", "%(count)d overdue", count) % {"count": count}
    if kind == AlertKind.DUE_SOON:
        return ngettext("%(count)d due soon", "%(count)d due soon", count) % {"count": count}
    return ngettext("%(count)d resolved", "%(count)d resolved", count) % {"count": count}


def alerts_summary(kinds: Iterable[str]) -> str:
    """'2 overdue, 1 escalation', most urgent first."""
    counts = Counter(kinds)
    return ", ".join(
        kind_count(kind, counts[kind])
        for kind in sorted(counts, key=AlertKind.urgency)
        if counts[kind]
    )


def report_title(kind: str, label: str, rate: float | None, breached: bool) -> str:
    values = {"label": label, "rate": percent(rate)}
    if kind == "week":
        title = _("Weekly report %(label)s: %(rate)s of nodes deviated") % values
    else:
        title = _("Monthly report %(label)s: %(rate)s of nodes deviated") % values
    if breached:
        title = _("%(title)s (above threshold)") % {"title": title}
    return title


def report_summary(report: dict) -> str:
    """'40 due: 34 on time, 4 late, 2 still open (threshold 10.0%)'."""
    return _(
        "%(due)s due: %(on_time)s on time, %(late)s late, %(open)s still open "
        "(threshold %(threshold)s)"
    ) % {
        "due": report.get("due_count", 0),
        "on_time": report.get("on_time_count", 0),
        "late": report.get("late_count", 0),
        "open": report.get("open_overdue_count", 0),
        "threshold": percent(report.get("threshold")),
    }


def percent(value) -> str:
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.1f}%"
