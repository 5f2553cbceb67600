"""Wording every message shares, whatever sends it: call these inside
`translation.override(language)`. Each domain's own wording (alert titles, report titles) is
in its app, beside the renderers that use it."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import ngettext, pgettext

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


def percent(value) -> str:
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.1f}%"


def label_list(labels: Iterable[str]) -> str:
    """'Escalation, Overdue' / '升级、已逾期': labels joined the way the language lists them."""
    return pgettext("between the items of a list", ", ").join(str(label) for label in labels)
