"""Wording of alert emails and chat messages, so both say the same thing in every language.

Call these inside `translation.override(language)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.utils.translation import ngettext

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
