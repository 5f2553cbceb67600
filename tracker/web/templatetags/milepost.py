"""Template helpers: relative times, percentages, slips, status symbols and permission checks.

Every label is translated here, and every state has a symbol or a word next to its colour.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache

import markdown as markdown_lib
import nh3
from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from tracker.core import permissions
from tracker.core.permissions import can_manage_any_channel, can_manage_templates
from tracker.milestones.models import MilestoneStatus
from tracker.web.selectors import request_inbox_unread

register = template.Library()

STATUS_SYMBOLS = {
    MilestoneStatus.TODO: "○",
    MilestoneStatus.IN_PROGRESS: "◐",
    MilestoneStatus.BLOCKED: "■",
    MilestoneStatus.DONE: "✓",
    MilestoneStatus.CANCELLED: "✕",
}
HEALTH_SYMBOLS = {"on_track": "●", "at_risk": "▲", "off_track": "✖"}


@register.filter
def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """“in 3 days”, “5 hours ago”, “today”: how far a moment is from now, in words."""
    if moment is None:
        return ""
    return relative_local(timezone.localtime(moment), timezone.localtime(now or timezone.now()))


def relative_local(moment: datetime, now: datetime, language: str | None = None) -> str:
    """`relative` of two moments already in local time (a board converts each card's once),
    in the active language (`language`: the caller has read it already)."""
    seconds = (moment - now).total_seconds()
    days = (moment.date() - now.date()).days
    language = language or get_language()
    if abs(seconds) < 3600:
        return _relative_words(language, "minute", seconds >= 0, max(1, round(abs(seconds) / 60)))
    if days == 0 or abs(seconds) < 12 * 3600:
        return _relative_words(language, "hour", seconds >= 0, max(1, round(abs(seconds) / 3600)))
    return _relative_words(language, "day", days > 0, abs(days))


@lru_cache(maxsize=4096)
def _relative_words(language: str, unit: str, ahead: bool, count: int) -> str:
    """The words of one (unit, direction, count) in `language` (the active one, which is
    what ngettext reads; it is the cache's key): a board's 300 cards have a few dozen."""
    if unit == "minute":
        if ahead:
            return ngettext("in %(count)d minute", "in %(count)d minutes", count) % {"count": count}
        return ngettext("%(count)d minute ago", "%(count)d minutes ago", count) % {"count": count}
    if unit == "hour":
        if ahead:
            return ngettext("in %(count)d hour", "in %(count)d hours", count) % {"count": count}
        return ngettext("%(count)d hour ago", "%(count)d hours ago", count) % {"count": count}
    if ahead:
        if count == 1:
            return _("tomorrow")
        return ngettext("in %(count)d day", "in %(count)d days", count) % {"count": count}
    if count == 1:
        return _("yesterday")
    return ngettext("%(count)d day ago", "%(count)d days ago", count) % {"count": count}


@register.filter
def countdown(days: int) -> str:
    """D-day countdown in the words teams use: “D-12”, “D-day”, “D+3”."""
    if days > 0:
        return _("D-%(days)d") % {"days": days}
    if days == 0:
        return _("D-day")
    return _("D+%(days)d") % {"days": -days}


@register.filter
def percent(value: float | Decimal | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


@register.filter
def points(value: float | None, digits: int = 1) -> str:
    """A change of rate in percentage points, signed: 0.0583 → "+5.8"."""
    if value is None:
        return "—"
    return f"{float(value) * 100:+.{digits}f}"


@register.filter
def slip_days(node) -> float | None:
    """Days the current due date lies after (positive) or before the baseline."""
    if node.baseline_due_at is None:
        return None
    days = round((node.due_at - node.baseline_due_at).total_seconds() / 86400, 1)
    return days or None


@register.filter
def signed_days(days: float | None) -> str:
    if days is None:
        return ""
    return signed_days_in(get_language(), days)


@lru_cache(maxsize=4096)
def signed_days_in(language: str, days: float) -> str:
    """`signed_days` in `language` (the active one, which ngettext reads; the cache's key)."""
    text = f"{days:+g}"
    plural_count = 1 if abs(days) == 1 else 2
    return ngettext("%(days)s day", "%(days)s days", plural_count) % {"days": text}


@receiver(setting_changed)
def _forget_translated_words(*, setting: str, **kwargs) -> None:
    """Tests that change the languages or the catalogues' folders get fresh words."""
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "TEMPLATES", "FORM_RENDERER"}:
        _WIDGETS.clear()
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS"}:
        _relative_words.cache_clear()
        signed_days_in.cache_clear()


@register.filter
def status_symbol(status: str) -> str:
    return STATUS_SYMBOLS.get(status, "")


@register.filter
def health_symbol(health: str) -> str:
    return HEALTH_SYMBOLS.get(health, "")


@register.filter
def status_label(status: str) -> str:
    try:
        return str(MilestoneStatus(status).label)
    except ValueError:
        return status


@register.filter
def can_edit(user, node) -> bool:
    return permissions.can_edit_milestone(user, node)


@register.filter
def can_manage(user, project) -> bool:
    return permissions.can_manage_project(user, project)


@register.filter
def can_delete_comment(user, comment) -> bool:
    return permissions.can_delete_comment(user, comment)


@register.simple_tag
def shows_channels(user) -> bool:
    """The channels page is for staff and for people who own a project."""
    return can_manage_any_channel(user)


# What a description's Markdown may become: text formatting, lists, code, quotes, tables and
# links (opened with rel="noopener noreferrer"); no images, scripts, styles or raw HTML.
MARKDOWN_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip


@register.filter
def markdown(text: str) -> SafeString:
    """A node's description: Markdown to HTML, cleaned by nh3 so no markup of the author's
    (script, style, event handler, javascript: link, image) reaches the page."""
    html = markdown_lib.markdown(text or "", extensions=["sane_lists", "tables"])
    cleaned = nh3.clean(
        html,
        tags=MARKDOWN_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(cleaned)  # nh3 has just cleaned it


@register.simple_tag
def shows_templates(user) -> bool:
    """The template editor is for the people who may change templates."""
    return can_manage_templates(user)


@register.filter
def dependency_count(node) -> int:
    """Upstream nodes, from the prefetched links (no query per card)."""
    return len(node.upstream_links.all())


HISTORY_FIELDS = {
    "created": _lazy("Created"),
    "title": _lazy("Title"),
    "description": _lazy("Description"),
    "department": _lazy("Department"),
    "assignee": _lazy("Assignee"),
    "due_at": _lazy("Due"),
    "baseline_due_at": _lazy("Baseline due"),
    "status": _lazy("Status"),
    "completed_at": _lazy("Completed at"),
    "position": _lazy("Position"),
    "depends_on": _lazy("Depends on"),
}
DATETIME_FIELDS = {"due_at", "baseline_due_at", "completed_at"}


@register.filter
def history_field(name: str) -> str:
    return str(HISTORY_FIELDS.get(name, name))


@register.filter
def history_value(value: str, field: str) -> str:
    """A history value as people read it: local times, status labels, node numbers."""
    if not value:
        return "—"
    if field in DATETIME_FIELDS:
        moment = parse_datetime(value)
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else value
    if field == "status":
        return status_label(value)
    if field == "depends_on":
        return ", ".join(f"#{pk}" for pk in value.split(","))
    return value


@register.simple_tag(takes_context=True)
def inbox_unread(context) -> int:
    """The bell's unread count (one query per request, however often a page asks)."""
    request = context.get("request")
    return request_inbox_unread(request) if request is not None else 0


@register.filter
def get_item(mapping, key):
    """`mapping[key]` in a template (None when absent or no mapping)."""
    return mapping.get(key) if mapping else None


# A filter form's widgets, rendered through Django's form templates option by option, are a
# tenth of a board; the same widget with the same inputs is the same HTML. Kept per process,
# keyed by everything that rendering reads (so a renamed person or a new department is a new
# key, never a stale one), for fields whose widget reads nothing else (the board's filters).
_WIDGETS: dict[tuple, str] = {}
_WIDGETS_MAX = 2048


@register.filter
def cached_widget(field) -> SafeString:
    """`{{ field }}` (the bound field's widget), rendered once per language, name, id, value,
    choices, required/disabled and error state."""
    form_field = field.field
    key = (
        get_language(),
        type(form_field.widget),
        repr(form_field.widget.attrs),
        field.html_name,
        field.auto_id,
        repr(field.value()),
        tuple((str(value), str(label)) for value, label in getattr(form_field, "choices", ())),
        form_field.required,
        form_field.disabled,
        bool(field.errors),
        str(field.help_text),
    )
    html = _WIDGETS.get(key)
    if html is None:
        if len(_WIDGETS) >= _WIDGETS_MAX:
            _WIDGETS.clear()
        html = _WIDGETS[key] = str(field)
    return mark_safe(html)
