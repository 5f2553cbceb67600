"""What every chat platform shares: the message read from an outbox payload, the request a
platform builds from it, and the base class each platform module fills in.

A platform renders the payload into its native body, signs the request at send time, and reads
its answer (several answer HTTP 200 with an error code in the body).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tracker.core.delivery import PermanentDeliveryError, TransientDeliveryError

MAX_ITEMS = 30  # beyond this a message only says how many more there are
URGENCY = (
    "escalation_contact",
    "escalation_owner",
    "escalation",
    "overdue",
    "nudge",
    "due_soon",
    "resolved",
)
# The ladder's escalation rungs (docs/escalation.md): their messages name the people.
ESCALATIONS = ("escalation", "escalation_owner", "escalation_contact")


@dataclass(frozen=True)
class RateWindow:
    """At most `limit` messages per `seconds` to one endpoint."""

    limit: int
    seconds: int


@dataclass(frozen=True)
class Person:
    """Someone a message names: the name shown, and the platform's ids for them when a linked
    chat identity maps them (empty when not: they are named in plain text)."""

    name: str
    external_id: str = ""
    mobile: str = ""

    @property
    def mapped(self) -> bool:
        return bool(self.external_id or self.mobile)


@dataclass
class Item:
    kind: str
    kind_label: str
    milestone_id: int | None
    title: str
    project: str
    department: str
    assignee: str
    due_at: datetime | None
    url: str
    # The people responsible for the node (its assignee; a department's lead for an
    # escalation), set at send time from the platform's chat identities; see `Message.people`.
    people: list[Person] = field(default_factory=list)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Item:
        due = data.get("due_at")
        due_at = parse_datetime(due) if isinstance(due, str) else None
        return cls(
            kind=str(data.get("kind") or ""),
            kind_label=str(data.get("kind_label") or data.get("kind") or ""),
            milestone_id=data.get("milestone_id"),
            title=one_line(data.get("title")),
            project=one_line(data.get("project")),
            department=one_line(data.get("department")),
            # The display name; a payload queued before it was added names the username.
            assignee=one_line(data.get("assignee_name") or data.get("assignee")),
            due_at=due_at,
            url=str(data.get("url") or ""),
        )


@dataclass
class Message:
    """An outbox chat payload (see tracker.core.delivery), read defensively."""

    event: str
    title: str
    summary: str
    url: str
    items: list[Item] = field(default_factory=list)
    report: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Message:
        return cls(
            event=str(payload.get("event") or "alerts"),
            title=one_line(payload.get("title")) or "Milepost",
            summary=str(payload.get("summary") or "").strip(),
            url=str(payload.get("url") or ""),
            items=[Item.from_payload(i) for i in payload.get("items") or [] if isinstance(i, dict)],
            report=payload.get("report") if isinstance(payload.get("report"), dict) else None,
            raw=payload,
        )

    def attach_people(self, people: dict[int, list[Person]]) -> None:
        """Name the responsible people of each item (milestone id → people)."""
        for item in self.items:
            if item.milestone_id in people:
                item.people = people[item.milestone_id]

    @property
    def people(self) -> list[Person]:
        """Everyone the shown items name once, mapped or not, in order of appearance."""
        seen: dict[str, Person] = {}
        for item in self.items:
            for person in item.people:
                seen.setdefault(person.external_id or person.mobile or person.name, person)
        return list(seen.values())

    @property
    def urgency(self) -> str:
        """The most urgent item kind, or the event for reports and tests."""
        kinds = {item.kind for item in self.items}
        return next((kind for kind in URGENCY if kind in kinds), self.event)


@dataclass
class OutgoingRequest:
    url: str
    body: bytes
    headers: dict[str, str]


# Bidirectional embedding/override/isolate controls: in a title they would reorder the rest of
# the message (right-to-left text itself is kept as it is).
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
# Ids Milepost puts into mention markup: anything else is not mapped (named in plain text).
MENTION_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
# What DingTalk's and WeCom's markdown reads as markup (<font>, links, emphasis, headings,
# lists, quotes, code) and @, which reads as a mention: escaped with `fullwidth`.
CHINA_MARKDOWN_MARKUP = "<>[]*_~`@\\"


def mention_target(person: Person) -> tuple[str, str]:
    """How DingTalk and WeCom can @-mention `person`: ("id", their platform user id) when the
    linked identity holds a usable one, else ("mobile", their number) when one is stored, else
    ("", "") (named in plain text)."""
    if MENTION_ID.match(person.external_id):
        return "id", person.external_id
    mobile = person.mobile.lstrip("+")
    if mobile.isdigit() and 5 <= len(mobile) <= 20:
        return "mobile", person.mobile
    return "", ""


def one_line(value: Any) -> str:
    return " ".join(str(value or "").translate(BIDI_CONTROLS).split())


def format_due(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def item_facts(
    item: Item,
    escape: Callable[[str], str] = str,
    mention: Callable[[Person], str] | None = None,
) -> str:
    """'Double 11 · Merchandising · lena · due 2026-11-02 18:00' (empty parts left out).

    The untrusted parts (project, department, names) pass through the platform's `escape`;
    the responsible people are written by its `mention` when it can mention them."""
    parts = [escape(item.project), escape(item.department)]
    people = item.people or ([Person(item.assignee)] if item.assignee else [])
    parts.extend(
        mention(person) if mention and person.mapped else escape(person.name) for person in people
    )
    if item.due_at:
        parts.append(_("due %(when)s") % {"when": format_due(item.due_at)})
    return " · ".join(part for part in parts if part)


def percent(value: Any) -> str:
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "-"


def report_lines(report: dict[str, Any], escape: Callable[[str], str] = str) -> list[str]:
    """The headline of a deviation report as plain lines; department names pass through the
    platform's `escape`."""
    lines = [
        _("Deviation rate: %(rate)s (threshold %(threshold)s)")
        % {
            "rate": percent(report.get("deviation_rate")),
            "threshold": percent(report.get("threshold")),
        },
        _("Due: %(due)s · on time: %(on_time)s · deviated: %(deviated)s")
        % {
            "due": report.get("due_count", 0),
            "on_time": report.get("on_time_count", 0),
            "deviated": report.get("deviated_count", 0),
        },
    ]
    live = report.get("live") if isinstance(report.get("live"), dict) else None
    if report.get("of_record"):
        lines.append(_("Figure of record (snapshot of the closed period)."))
        if report.get("restated") and live:
            lines.append(
                _("Restated: %(rate)s (%(count)s recorded changes since the snapshot)")
                % {
                    "rate": percent(live.get("deviation_rate")),
                    "count": len(report.get("restatements") or []),
                }
            )
    if report.get("small_sample"):
        lines.append(_("Small sample: fewer nodes than a rate can be judged on."))
    elif report.get("breached"):
        lines.append(_("Above the threshold."))
    if report.get("left_out_count"):
        lines.append(
            _("Left out: %(count)s nodes of projects without a baseline.")
            % {"count": report["left_out_count"]}
        )
    if report.get("backlog_count"):
        lines.append(
            _(
                "Backlog: %(count)s nodes still open from earlier periods "
                "(oldest %(days)s days late)."
            )
            % {"count": report["backlog_count"], "days": report.get("backlog_oldest_slip_days")}
        )
    departments = [d for d in report.get("by_department") or [] if isinstance(d, dict)]
    departments.sort(key=lambda d: -(float(d.get("deviation_rate") or 0)))
    for department in departments[:3]:
        lines.append(
            _("%(name)s: %(rate)s of %(due)s")
            % {
                "name": escape(one_line(department.get("name") or department.get("code"))),
                "rate": percent(department.get("deviation_rate")),
                "due": department.get("due_count", 0),
            }
        )
    return lines


def more_line(hidden: int) -> str:
    return _("…and %(count)s more") % {"count": hidden}


# Markup a line starts with: a heading, a list item, a quote.
LINE_START = re.compile(r"^(?:#{1,6}\s|[-+*]\s|>|\d+[.)]\s)")


def fullwidth(text: str, characters: str) -> str:
    """`characters` of `text`, and the first character of markup a line would start with, as
    their full-width forms (＜ for <, ［ for [, ＠ for @): they read the same to a person but no
    markup parser sees them. For platforms that document no escape."""
    if LINE_START.match(text):
        text = chr(ord(text[0]) + 0xFEE0) + text[1:]
    return text.translate({ord(c): ord(c) + 0xFEE0 for c in characters})


class Platform:
    """One chat platform: its native body, its signature and how it answers."""

    kind: ClassVar[str]
    rate_limits: ClassVar[tuple[RateWindow, ...]] = ()
    max_bytes: ClassVar[int] = 20_000
    # Body error codes that mean "slow down": code → seconds to wait.
    slow_down_codes: ClassVar[dict[int, float]] = {}
    secret_used: ClassVar[bool] = False

    # Rendering -----------------------------------------------------------------------------
    def escape(self, text: str) -> str:
        """Untrusted text (titles, names) as plain text in this platform's markup."""
        return text

    def mention(self, person: Person) -> str:
        """How a mapped person is @-mentioned inside the text; plain name by default."""
        return self.escape(person.name)

    def render(self, message: Message, items: list[Item], hidden: int) -> dict[str, Any]:
        raise NotImplementedError

    def measure(self, body: dict[str, Any]) -> int:
        return len(encode(body))

    def build_body(self, message: Message) -> dict[str, Any]:
        """The native body, dropping items from the end until it fits the platform's size."""
        count = min(len(message.items), MAX_ITEMS)
        while True:
            shown = message.items[:count]
            body = self.render(message, shown, len(message.items) - count)
            if count == 0 or self.measure(body) <= self.max_bytes:
                return body
            count = count - max(1, count // 4)

    # Signing -------------------------------------------------------------------------------
    def prepare(
        self, *, url: str, body: dict[str, Any], secret: str, idempotency_key: str, now: float
    ) -> OutgoingRequest:
        return OutgoingRequest(url=url, body=encode(body), headers=json_headers())

    def validate_secret(self, secret: str) -> None:
        """Raise ValidationError when `secret` cannot be used with this platform."""
        if secret and not self.secret_used:
            raise ValidationError(
                _("This platform does not sign messages: leave the secret empty (the URL is it).")
            )

    # Answers -------------------------------------------------------------------------------
    def body_code(self, text: str) -> tuple[int | None, str]:
        """(error code, message) from a JSON answer, or (None, '') when there is none."""
        return None, ""

    def check_answer(self, status: int, text: str) -> None:
        """Raise for an error code in a 2xx (or 4xx) body; the HTTP status is handled elsewhere."""
        code, detail = self.body_code(text)
        if code in (None, 0):
            return
        description = _("%(platform)s answered error %(code)s: %(detail)s") % {
            "platform": self.kind,
            "code": code,
            "detail": detail or "-",
        }
        if code in self.slow_down_codes:
            raise TransientDeliveryError(description, retry_after=self.slow_down_codes[code])
        raise PermanentDeliveryError(description)


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8"}


def json_code(text: str, *names: str) -> tuple[int | None, str]:
    """Read the first present integer code among `names` and its message from a JSON answer."""
    try:
        data = json.loads(text)
    except ValueError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    for name in names:
        if name in data:
            try:
                code = int(data[name])
            except (TypeError, ValueError):
                return None, ""
            message = data.get("msg") or data.get("errmsg") or data.get("StatusMessage") or ""
            return code, str(message)
    return None, ""
