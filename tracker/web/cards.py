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
from html import escape

from django.template.loader import get_template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext

from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.web.templatetags.milepost import relative, signed_days, slip_days

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
            *(bool(getattr(self, name)) for name in HOLES),
        )


# The values a fragment leaves open: every text but the status, which it branches on. Ids,
# versions, URLs and formatted dates are digits and punctuation this module wrote; the rest is
# escaped (stdlib `html.escape`, what Django's `escape` calls, minus its lazy-string wrapper).
HOLES = tuple(f.name for f in fields(Card) if f.type == "str" and f.name != "status")
ESCAPED = frozenset(
    {"title", "assignee", "due_relative", "slip_text", "deps_text", "forecast_text"}
)


def _iso_and_text(moment) -> tuple[str, str]:
    """A moment as the `datetime` attribute (ISO 8601) and the text ("2026-11-11 18:00") of a
    card's <time>, in local time, converted once."""
    if moment is None:
        return "", ""
    local = timezone.localtime(moment)
    return local.isoformat(), local.strftime("%Y-%m-%d %H:%M")


def card_for(node: Milestone, *, can_edit: bool, url: str, move_choices: list) -> Card:
    """A node (with `is_overdue`, `is_at_risk`, `forecast_days_late` and
    `dependency_count`) as a card's plain values, each formatted once."""
    deps = node.dependency_count
    late = getattr(node, "forecast_days_late", 0)
    done = node.status == MilestoneStatus.DONE
    due_iso, due_text = ("", "") if done else _iso_and_text(node.due_at)
    completed_iso, completed_text = _iso_and_text(node.completed_at) if done else ("", "")
    return Card(
        pk=str(node.pk),
        status=node.status,
        version=str(node.version),
        title=node.title,
        url=url,
        assignee=str(node.assignee) if node.assignee_id else "",
        due_iso=due_iso,
        due_relative="" if done else relative(node.due_at),
        due_text=due_text,
        completed_iso=completed_iso,
        completed_text=completed_text,
        slip_text=signed_days(slip_days(node)),
        deps_text=ngettext("%(counter)s dependency", "%(counter)s dependencies", deps)
        % {"counter": deps}
        if deps
        else "",
        forecast_text=ngettext(
            "at risk: forecast %(counter)s day late",
            "at risk: forecast %(counter)s days late",
            late,
        )
        % {"counter": late}
        if late
        else "",
        is_overdue=bool(node.is_overdue),
        is_at_risk=bool(node.is_at_risk),
        can_edit=can_edit,
        move_choices=move_choices,
    )


_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: never escaped, never in a label
_PLACEHOLDER = re.compile(f"{_OPEN}(\\w+){_CLOSE}")
_FRAGMENTS: dict[tuple, list[str]] = {}  # (language, shape) -> literal, name, literal, …


def _fragment(card: Card, labels: dict[str, str]) -> list[str]:
    key = (get_language(), card.shape())
    parts = _FRAGMENTS.get(key)
    if parts is None:
        holes = {name: f"{_OPEN}{name}{_CLOSE}" for name in HOLES if getattr(card, name)}
        shaped = Card(**{**card.__dict__, **holes})
        html = get_template(CARD_TEMPLATE).render(
            {"card": shaped, "labels": labels, "csrf_token": f"{_OPEN}csrf_token{_CLOSE}"}
        )
        parts = _FRAGMENTS[key] = _PLACEHOLDER.split(html)
    return parts


def render_cards(cards: list[Card], *, labels: dict[str, str], csrf_token: str) -> SafeString:
    """The cards of one board column as HTML: for each, exactly what `web/board.html#card`
    renders."""
    rendered = []
    token = escape(csrf_token)
    for card in cards:
        parts = _fragment(card, labels)
        values = card.__dict__
        html = [parts[0]]
        for index in range(1, len(parts), 2):
            name = parts[index]
            if name == "csrf_token":
                html.append(token)
            elif name in ESCAPED:
                html.append(escape(values[name]))
            else:
                html.append(values[name])
            html.append(parts[index + 1])
        rendered.append("".join(html))
    # The literal parts come from the template, every value in ESCAPED is escaped above.
    return mark_safe("".join(rendered))
