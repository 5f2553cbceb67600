"""Writes to the working calendar: organisation overrides and a year's official schedule."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.core import permissions
from tracker.core.errors import AlreadyExistsError
from tracker.workcal.models import CalendarOverride, DayKind, OfficialDay, OfficialYear

if TYPE_CHECKING:
    from tracker.accounts.models import User


def calendar_authorize_edit(*, actor: User | None) -> None:
    """Refuse anyone but staff any change to the calendar (the API asks before it reads a body)."""
    permissions.authorize(
        actor,
        permissions.can_edit_calendar,
        message=_("Only staff can change the working calendar."),
    )


def calendar_override_create(
    *, actor: User | None, day: date, kind: str, name: str
) -> CalendarOverride:
    """Add an organisation holiday or make-up workday; one override per date."""
    calendar_authorize_edit(actor=actor)
    override = CalendarOverride(date=day, kind=kind, name=(name or "").strip(), created_by=actor)
    override.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            override.save()
    except IntegrityError as exc:
        raise AlreadyExistsError(
            _("%(date)s already has an override; delete it first.") % {"date": day.isoformat()}
        ) from exc
    return override


def calendar_override_delete(*, actor: User | None, override: CalendarOverride) -> None:
    calendar_authorize_edit(actor=actor)
    override.delete()


@dataclass(frozen=True)
class ScheduleLine:
    line: int
    date: date
    kind: str
    name: str


def _json_items(text: str) -> list[tuple[int, Any]]:
    """The items of a top-level JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    position = len(text) - len(text.lstrip())
    if not text[position : position + 1] == "[":
        raise ValidationError(_("line 1: a JSON calendar is a list of {date, kind, name}."))
    position += 1
    items = []
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            raise ValidationError(_("The JSON list is not closed."))
        if text[position] == "]":
            return items
        line = text.count("\n", 0, position) + 1
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _("line %(line)d: %(error)s") % {"line": exc.lineno, "error": exc.msg}
            ) from exc
        items.append((line, item))


def _csv_items(text: str) -> list[tuple[int, Any]]:
    rows = csv.reader(io.StringIO(text))
    items = []
    header: list[str] | None = None
    for row in rows:
        line = rows.line_num
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in row]
        if header is None and cells[0].lower() == "date":
            header = [c.lower() for c in cells]
            continue
        keys = header or ["date", "kind", "name"]
        items.append((line, dict(zip(keys, cells, strict=False))))
    return items


def calendar_file_parse(*, text: str, filename: str = "") -> list[ScheduleLine]:
    """Check a whole calendar file (CSV `date,kind,name` or a JSON list of {date, kind, name});
    every error names its line, and one error refuses the whole file."""
    is_json = filename.lower().endswith(".json") or text.lstrip().startswith("[")
    items = _json_items(text) if is_json else _csv_items(text)
    errors: list[str] = []
    lines: list[ScheduleLine] = []
    seen: dict[date, int] = {}
    for line, item in items:
        if not isinstance(item, dict):
            errors.append(_("line %(line)d: expected date, kind, name.") % {"line": line})
            continue
        raw_date, kind = str(item.get("date", "")).strip(), str(item.get("kind", "")).strip()
        try:
            day = date.fromisoformat(raw_date)
            if len(raw_date) != 10:
                raise ValueError(raw_date)
        except ValueError:
            errors.append(
                _("line %(line)d: “%(value)s” is not a date (YYYY-MM-DD).")
                % {"line": line, "value": raw_date}
            )
            continue
        if kind not in DayKind.values:
            errors.append(
                _("line %(line)d: unknown kind “%(kind)s” (holiday or workday).")
                % {"line": line, "kind": kind}
            )
            continue
        if kind == DayKind.WORKDAY and day.weekday() < 5:
            errors.append(
                _(
                    "line %(line)d: %(date)s is a weekday; "
                    "a make-up workday is a Saturday or Sunday."
                )
                % {"line": line, "date": raw_date}
            )
            continue
        if day in seen:
            errors.append(
                _("line %(line)d: %(date)s is already on line %(first)d.")
                % {"line": line, "date": raw_date, "first": seen[day]}
            )
            continue
        seen[day] = line
        lines.append(ScheduleLine(line, day, kind, str(item.get("name", "")).strip()[:100]))
    if not errors and not lines:
        errors.append(_("The file lists no days."))
    years = sorted({entry.date.year for entry in lines})
    if not errors and len(years) > 1:
        strays = [e for e in lines if e.date.year != lines[0].date.year]
        errors.append(
            _("line %(line)d: %(date)s is not in %(year)d; load one year per file.")
            % {"line": strays[0].line, "date": strays[0].date.isoformat(), "year": years[0]}
        )
    if errors:
        raise ValidationError(errors)
    return lines


@transaction.atomic
def calendar_year_load(
    *, lines: list[ScheduleLine], source: str = "", now: datetime | None = None
) -> OfficialYear:
    """Make `lines` the official schedule of their year, replacing what was loaded before and,
    for that year, the library's days. Overrides stay on top."""
    year = lines[0].date.year
    official, _created = OfficialYear.objects.update_or_create(
        year=year, defaults={"loaded_at": now or timezone.now(), "loaded_from": source[:255]}
    )
    official.days.all().delete()
    OfficialDay.objects.bulk_create(
        OfficialDay(year=official, date=line.date, kind=line.kind, name=line.name) for line in lines
    )
    return official
