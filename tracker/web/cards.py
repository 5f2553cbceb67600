"""Board cards: a node as plain values, formatted once, and its HTML from a compiled fragment.

A board of 300 cards rendered through the template engine costs about 17,000 template nodes
and 3,000 number and date formatting calls. Instead, the one card template
(`web/board.html#card`) is written against plain values (`Card`), and for the board it is
rendered once per *shape* (status, flags, which badges show, whether the user may edit) with
placeholders where the values go; each card is then the fragment's literal parts joined with its
own escaped values. The single-card answers (Cancel, Move, Save) render the same partial with
real values, so there is one card template, whichever way it is filled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, tzinfo
from functools import lru_cache
from html import escape
from operator import attrgetter

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.loader import get_template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext

from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.web.selectors import CardNode
from tracker.web.templatetags.milepost import relative_local, signed_days_in, slip_days

CARD_TEMPLATE = "web/board.html#card"


@dataclass
class Card:
    """What a card shows, every value already a string or a flag."""

    pk: str
    status: str
    version: str
    title: str
    url: str
    assignee: str
    due_iso: str
    due_relative: str
    due_text: str
    completed_iso: str
    completed_text: str
    slip_text: str
    deps_text: str
    forecast_text: str
    is_overdue: bool
    is_at_risk: bool
    can_edit: bool
    move_choices: list[tuple[str, str]]

    def shape(self) -> tuple:
        """What the template can branch on: the status (its Move choices too), the flags and
        which texts are empty. Cards of one shape share one compiled fragment."""
        return (
            self.status,
            self.is_overdue,
            self.is_at_risk,
            self.can_edit,
            *map(bool, _holes(self)),
        )


# The values a fragment leaves open: every text but the status, which it branches on. Ids,
# versions, URLs and formatted dates are digits and punctuation this module wrote; the rest is
# escaped (stdlib `html.escape`, what Django's `escape` calls, minus its lazy-string wrapper).
HOLES = tuple(f.name for f in fields(Card) if f.type == "str" and f.name != "status")
ESCAPED = frozenset(
    {"title", "assignee", "due_relative", "slip_text", "deps_text", "forecast_text"}
)
_holes = attrgetter(*HOLES)


def _iso_and_text(local: datetime | None) -> tuple[str, str]:
    """A moment already in local time as the `datetime` attribute (ISO 8601) and the text
    ("2026-11-11 18:00") of a card's <time>."""
    if local is None:
        return "", ""
    return local.isoformat(), local.strftime("%Y-%m-%d %H:%M")


def card_for(
    node: CardNode | Milestone,
    *,
    can_edit: bool,
    url: str,
    move_choices: list,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    language: str | None = None,
) -> Card:
    """A node (a board's `CardNode`, or a `Milestone` with `is_overdue`, `is_at_risk`,
    `forecast_days_late`, `dependency_count` and `assignee_name`) as a card's plain values,
    each formatted once. A board passes its one `now`, time zone and (active) language for
    all its cards."""
    zone = zone or timezone.get_current_timezone()
    language = language or get_language()
    deps = node.dependency_count
    late = node.forecast_days_late
    done = node.status == MilestoneStatus.DONE
    due = None if done else node.due_at.astimezone(zone)
    completed = node.completed_at.astimezone(zone) if done and node.completed_at else None
    slip = slip_days(node)
    due_iso, due_text = _iso_and_text(due)
    completed_iso, completed_text = _iso_and_text(completed)
    return Card(
        pk=str(node.pk),
        status=node.status,
        version=str(node.version),
        title=node.title,
        url=url,
        assignee=node.assignee_name,
        due_iso=due_iso,
        due_relative=""
        if done
        else relative_local(due, (now or timezone.now()).astimezone(zone), language),
        due_text=due_text,
        completed_iso=completed_iso,
        completed_text=completed_text,
        slip_text="" if slip is None else signed_days_in(language, slip),
        deps_text=_dependencies_text(language, deps) if deps else "",
        forecast_text=_forecast_text(language, late) if late else "",
        is_overdue=bool(node.is_overdue),
        is_at_risk=bool(node.is_at_risk),
        can_edit=can_edit,
        move_choices=move_choices,
    )


@lru_cache(maxsize=1024)
def _dependencies_text(language: str, count: int) -> str:
    """ "3 dependencies" in `language` (the active one; the cache's key)."""
    return ngettext("%(counter)s dependency", "%(counter)s dependencies", count) % {
        "counter": count
    }


@lru_cache(maxsize=1024)
def _forecast_text(language: str, days: int) -> str:
    """ "at risk: forecast 3 days late" in `language` (the active one; the cache's key)."""
    return ngettext(
        "at risk: forecast %(counter)s day late",
        "at risk: forecast %(counter)s days late",
        days,
    ) % {"counter": days}


@receiver(setting_changed)
def _forget_translated_texts(*, setting: str, **kwargs) -> None:
    """Tests that change the languages or the catalogues' folders get fresh texts and
    fragments."""
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "TEMPLATES"}:
        _dependencies_text.cache_clear()
        _forecast_text.cache_clear()
        _FRAGMENTS.clear()


_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: never escaped, never in a label
_PLACEHOLDER = re.compile(f"{_OPEN}(\\w+){_CLOSE}")
# (language, shape) -> the fragment as a `str.format` template ("{title}" where a value goes,
# the template's own braces doubled) and the names it fills with an escaped value.
_FRAGMENTS: dict[tuple, tuple[str, tuple[str, ...]]] = {}


def _fragment(card: Card, labels: dict[str, str], language: str) -> tuple[str, tuple[str, ...]]:
    key = (language, card.shape())
    fragment = _FRAGMENTS.get(key)
    if fragment is None:
        holes = {name: f"{_OPEN}{name}{_CLOSE}" for name in HOLES if getattr(card, name)}
        shaped = Card(**{**card.__dict__, **holes})
        html = get_template(CARD_TEMPLATE).render(
            {"card": shaped, "labels": labels, "csrf_token": f"{_OPEN}csrf_token{_CLOSE}"}
        )
        parts = _PLACEHOLDER.split(html)
        template = "".join(
            part.replace("{", "{{").replace("}", "}}") if index % 2 == 0 else f"{{{part}}}"
            for index, part in enumerate(parts)
        )
        escaped = tuple(sorted({name for name in parts[1::2] if name in ESCAPED}))
        fragment = _FRAGMENTS[key] = (template, escaped)
    return fragment


# Texts that repeat from card to card (a person's name, "in 3 days", "2 dependencies") are
# escaped once per process; titles, nearly all distinct, each time.
_escape_repeated = lru_cache(maxsize=4096)(escape)


def render_cards(cards: list[Card], *, labels: dict[str, str], csrf_token: str) -> SafeString:
    """The cards of one board column as HTML: for each, exactly what `web/board.html#card`
    renders."""
    rendered = []
    token = escape(csrf_token)
    language = get_language()
    for card in cards:
        template, escaped = _fragment(card, labels, language)
        values = dict(card.__dict__, csrf_token=token)
        for name in escaped:
            values[name] = (escape if name == "title" else _escape_repeated)(values[name])
        rendered.append(template.format_map(values))
    # The literal parts come from the template, every value in ESCAPED is escaped above.
    return mark_safe("".join(rendered))
