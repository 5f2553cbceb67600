"""Import a project's nodes from CSV/XLSX.

An import is validated as a whole before anything is written: every broken cell is reported
with its row and column, and then either every row is created (in one transaction, through
`milestone_create`, in dependency order) or none is.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zipfile import BadZipFile

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from tracker.accounts.models import Department, User
from tracker.core.permissions import authorize, can_create_milestone, can_import_milestones
from tracker.integrations.spreadsheets.exporting import FORMULA_START, KEY_PATTERN
from tracker.milestones.models import MAX_LEAD_DAYS, Milestone, MilestoneStatus
from tracker.milestones.services import milestone_create
from tracker.projects.models import Project

MAX_ROWS = 2000
MAX_BYTES = 5 * 1024 * 1024
IMPORTERS_ONLY = gettext_lazy(
    "Only the project's owner, staff or a department lead can import nodes."
)
DEFAULT_DUE_TIME = time(18, 0)  # a due date without a time means the end of the working day
# Between two keys of the "depends on" column: spaces, commas, semicolons (also full-width)
# and newlines; none can occur in a key (KEY_PATTERN).
DEPENDENCY_SEPARATORS = re.compile(r"[\s,;，；、]+")

# Accepted headers (case and spacing ignored) for each column the importer reads.
COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("key", "id", "键", "编号"),
    "title": ("title", "node", "标题", "节点"),
    "department": ("department", "dept", "部门"),
    "assignee": ("assignee", "owner", "负责人"),
    "due": ("due", "due at", "due_at", "deadline", "截止时间", "截止"),
    "depends_on": ("depends on", "depends_on", "dependencies", "依赖"),
    "description": ("description", "notes", "描述", "说明"),
}
# The columns of our own export that only a historical import reads (`historical`): a past
# project's outcome and plan of record. An import into a running project skips them.
HISTORY_COLUMNS: dict[str, tuple[str, ...]] = {
    "status": ("status", "状态"),
    "completed_at": ("completed at", "completed_at", "完成时间"),
    "baseline_due": ("baseline due", "baseline_due_at", "基线截止时间"),
    "template_key": ("template key", "template_key", "模板键"),
}
REQUIRED = ("title", "department", "due")
# Columns of our own export that are never read back, so an export can be imported again.
EXPORT_ONLY = ("depends on (titles)",)
# "key+2" in the "depends on" column: the key, the mark (also full-width) and a whole number
# of working days; spaces around the mark are forgiven.
LEAD_SUFFIX = re.compile(r"([^+＋]*)(?:[+＋](.*))?")
AROUND_LEAD_MARK = re.compile(r"\s*([+＋])\s*")


@dataclass
class CellError:
    row: int  # spreadsheet row number (the header is row 1)
    column: str  # the header as written, or "" for the whole file
    message: str

    def __str__(self) -> str:
        if self.row and self.column:
            return _("Row %(row)s, %(column)s: %(message)s") % {
                "row": self.row,
                "column": self.column,
                "message": self.message,
            }
        if self.row:
            return _("Row %(row)s: %(message)s") % {"row": self.row, "message": self.message}
        return self.message


class SpreadsheetError(Exception):
    """The file cannot be imported; `errors` lists every problem found."""

    def __init__(self, errors: list[CellError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


@dataclass
class ParsedRow:
    number: int
    title: str
    key: str = ""
    department: Department | None = None
    assignee: User | None = None
    due_at: datetime | None = None
    description: str = ""
    # Upstream rows of the file (row number → declared minimum lead in working days, or None)
    # and upstream nodes already in the project (id → (node, lead)).
    upstream_rows: dict[int, int | None] = field(default_factory=dict)
    upstream_nodes: dict[int, tuple[Milestone, int | None]] = field(default_factory=dict)
    # Read by a historical import only.
    status: str = MilestoneStatus.TODO
    completed_at: datetime | None = None
    planned_due_at: datetime | None = None
    template_key: str = ""


def _norm_header(value: Any) -> str:
    return " ".join(str(value or "").replace("_", " ").split()).casefold()


def _cell_text(value: Any) -> str:
    """A cell as text: integral floats lose their '.0'; our own formula guard is undone."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.startswith("'") and text[1:2] in FORMULA_START:
        text = text[1:]
    return text


def _xlsx_value(cell: Any) -> Any:
    """A cell's value; a date-formatted cell (no hours in its format) is a date, not midnight."""
    value = getattr(cell, "value", None)
    if (
        isinstance(value, datetime)
        and "h" not in (getattr(cell, "number_format", "") or "").lower()
    ):
        return value.date()
    return value


def read_table(*, filename: str, content: bytes) -> list[list[Any]]:
    """The rows of the first sheet of an .xlsx or of a .csv (UTF-8, or GB18030 from Excel)."""
    if len(content) > MAX_BYTES:
        raise SpreadsheetError([CellError(0, "", _("The file is larger than 5 MB."))])
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
            raise SpreadsheetError(
                [CellError(0, "", _("This is not a readable .xlsx file."))]
            ) from exc
        try:
            sheet = workbook.worksheets[0]
            rows = [
                [_xlsx_value(cell) for cell in row]
                for _n, row in zip(range(MAX_ROWS + 2), sheet.iter_rows(), strict=False)
            ]
        finally:
            workbook.close()
        return rows
    if name.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise SpreadsheetError([CellError(0, "", _("Save the CSV file as UTF-8."))])
        # The delimiter is the one the header line uses most: the rows below may hold any of
        # them inside quoted titles, which would mislead a sniffer reading them.
        header_line = text.split("\n", 1)[0]
        delimiter = max(",;\t", key=header_line.count)
        try:
            return list(csv.reader(io.StringIO(text), csv.excel, delimiter=delimiter))[
                : MAX_ROWS + 2
            ]
        except csv.Error as exc:
            raise SpreadsheetError(
                [CellError(0, "", _("This CSV file cannot be read: %(error)s") % {"error": exc})]
            ) from exc
    raise SpreadsheetError([CellError(0, "", _("Upload a .csv or .xlsx file."))])


def _parse_due(value: Any) -> datetime | None:
    zone = timezone.get_current_timezone()
    if isinstance(value, datetime):
        return timezone.make_aware(value, zone) if timezone.is_naive(value) else value
    if isinstance(value, date):
        return datetime.combine(value, DEFAULT_DUE_TIME, tzinfo=zone)
    text = _cell_text(value).replace("/", "-")
    if not text:
        return None
    try:
        day = parse_date(text)
        moment = datetime.combine(day, DEFAULT_DUE_TIME) if day else parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(text)
    return timezone.make_aware(moment, zone) if timezone.is_naive(moment) else moment


def _header_map(
    header: Sequence[Any], *, historical: bool = False
) -> tuple[dict[str, int], dict[str, str], list[CellError]]:
    """column key → index and → header text as written, plus header errors. The history
    columns are read by a historical import and skipped by the others."""
    columns = {**COLUMNS, **HISTORY_COLUMNS} if historical else COLUMNS
    lookup = {alias: key for key, aliases in columns.items() for alias in aliases}
    skipped = {_norm_header(h) for h in EXPORT_ONLY}
    if not historical:
        skipped |= {_norm_header(h) for aliases in HISTORY_COLUMNS.values() for h in aliases}
    indexes: dict[str, int] = {}
    names: dict[str, str] = {}
    errors: list[CellError] = []
    for index, raw in enumerate(header):
        name = _norm_header(raw)
        if not name or name in skipped:
            continue
        key = lookup.get(name)
        if key is None:
            errors.append(
                CellError(
                    1,
                    str(raw),
                    _("Unknown column. Use: %(columns)s.")
                    % {"columns": ", ".join(aliases[0] for aliases in columns.values())},
                )
            )
        elif key in indexes:
            errors.append(CellError(1, str(raw), _("This column appears twice.")))
        else:
            indexes[key] = index
            names[key] = str(raw).strip()
    for key in REQUIRED:
        if key not in indexes:
            errors.append(
                CellError(1, "", _("The column “%(column)s” is missing.") % {"column": key})
            )
    return indexes, names, errors


def dependency_order(rows: list[ParsedRow]) -> tuple[list[ParsedRow], list[int]]:
    """Rows with their in-file upstream rows first; the row numbers caught in a cycle."""
    by_number = {row.number: row for row in rows}
    waiting = {row.number: len(row.upstream_rows) for row in rows}
    downstream: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        for upstream in row.upstream_rows:
            downstream[upstream].append(row.number)
    queue = deque(number for number, count in waiting.items() if count == 0)
    ordered = []
    while queue:
        number = queue.popleft()
        ordered.append(by_number[number])
        for nxt in downstream[number]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                queue.append(nxt)
    stuck = sorted(number for number, count in waiting.items() if count > 0)
    return ordered, stuck


def _status_values() -> dict[str, str]:
    """A status cell's accepted spellings (its code, its English and its translated label)."""
    spellings: dict[str, str] = {}
    for value, label in MilestoneStatus.choices:
        with translation.override("en"):
            spellings[str(label).casefold()] = value
        spellings[str(label).casefold()] = value
        spellings[value] = value
        spellings[value.replace("_", " ")] = value
    return spellings


def validate_rows(
    *,
    project: Project | None,
    actor: User,
    table: list[list[Any]],
    historical: bool = False,
    now: datetime | None = None,
) -> list[ParsedRow]:
    """Check every cell; return the parsed rows or raise SpreadsheetError with all problems.

    `historical` (a past project, `project` None) also reads each node's status, completion
    time, baseline due and template key; a node can then depend on rows of the file only."""
    now = now or timezone.now()
    if not table or not any(_cell_text(v) for v in table[0]):
        raise SpreadsheetError([CellError(0, "", _("The file is empty."))])
    indexes, names, errors = _header_map(table[0], historical=historical)
    if errors:
        raise SpreadsheetError(errors)
    body = [
        (number, row)
        for number, row in enumerate(table[1:], start=2)
        if any(_cell_text(v) for v in row)
    ]
    if not body:
        raise SpreadsheetError([CellError(0, "", _("The file has no rows below its header."))])
    if len(body) > MAX_ROWS:
        raise SpreadsheetError(
            [CellError(0, "", _("At most %(max)s rows per import.") % {"max": MAX_ROWS})]
        )

    def cell(row: list[Any], key: str) -> Any:
        index = indexes.get(key)
        return row[index] if index is not None and index < len(row) else None

    # Everything the rows refer to, loaded at once.
    departments = list(Department.objects.all())
    department_by = {d.code.casefold(): d for d in departments}
    for d in departments:
        department_by.setdefault(d.name.casefold(), d)
    wanted = {_cell_text(cell(row, "assignee")).casefold() for _n, row in body} - {""}
    users = list(
        User.objects.annotate(username_ci=Lower("username"), email_ci=Lower("email"))
        .filter(Q(username_ci__in=wanted) | Q(email_ci__in=wanted), is_active=True)
        .order_by("id")
        if wanted
        else []
    )
    user_by = {u.username.casefold(): u for u in users}
    user_by.update({u.email.casefold(): u for u in users if u.email})
    existing = (
        list(Milestone.objects.filter(project=project).only("id", "project_id"))
        if project is not None
        else []
    )
    existing_by_id = {m.pk: m for m in existing}
    statuses = _status_values() if historical else {}
    # Each row's key (the "key" column), checked first: dependencies refer to them.
    keys_of: dict[int, str] = {}
    key_errors: dict[int, str] = {}
    rows_by_key: dict[str, int] = {}
    for number, row in body:
        key = _cell_text(cell(row, "key"))
        if not key:
            continue
        if not re.fullmatch(KEY_PATTERN, key):
            key_errors[number] = _(
                "A key is 1 to 40 letters, digits, dots, dashes or underscores (no spaces)."
            )
        elif key in rows_by_key:
            key_errors[number] = _("The key “%(value)s” is also on row %(row)s.") % {
                "value": key,
                "row": rows_by_key[key],
            }
        else:
            keys_of[number] = key
            rows_by_key[key] = number

    def moment(row: list[Any], key: str, err: Callable[[str, str], None]) -> datetime | None:
        try:
            return _parse_due(cell(row, key))
        except ValueError:
            err(
                key,
                _("“%(value)s” is not a date: write 2026-11-02 or 2026-11-02 18:00.")
                % {"value": _cell_text(cell(row, key))},
            )
            return None

    parsed: list[ParsedRow] = []
    for number, row in body:

        def err(key: str, message: str, number: int = number) -> None:
            errors.append(CellError(number, names.get(key, key), message))

        # Kept as written (inner line breaks and tabs too), so an export imports identically.
        title = _cell_text(cell(row, "title"))
        item = ParsedRow(number=number, title=title, key=keys_of.get(number, ""))
        if number in key_errors:
            err("key", key_errors[number])
        if not title:
            err("title", _("A node needs a title."))
        elif len(title) > 200:
            err("title", _("At most 200 characters."))

        department_text = _cell_text(cell(row, "department"))
        item.department = department_by.get(department_text.casefold())
        if not department_text:
            err("department", _("Give the department's code."))
        elif item.department is None:
            err("department", _("No department “%(value)s”.") % {"value": department_text})
        elif project is not None and not can_create_milestone(actor, project, item.department.pk):
            err(
                "department",
                _("You cannot add nodes to %(department)s in this project.")
                % {"department": item.department.name},
            )

        assignee_text = _cell_text(cell(row, "assignee"))
        if assignee_text:
            item.assignee = user_by.get(assignee_text.casefold())
            if item.assignee is None:
                err("assignee", _("No active user “%(value)s”.") % {"value": assignee_text})

        due_given = bool(_cell_text(cell(row, "due")))
        item.due_at = moment(row, "due", err)
        if not due_given:
            err("due", _("A node needs a due date."))

        item.description = _cell_text(cell(row, "description"))

        text = AROUND_LEAD_MARK.sub(r"\1", _cell_text(cell(row, "depends_on")))
        for token in DEPENDENCY_SEPARATORS.split(text):
            if not token:
                continue
            reference, lead_text = LEAD_SUFFIX.fullmatch(token).groups()
            lead = None
            if lead_text is not None:
                if not re.fullmatch(r"\d{1,3}", lead_text) or int(lead_text) > MAX_LEAD_DAYS:
                    err(
                        "depends_on",
                        _(
                            "“%(value)s”: after “+” comes the minimum lead in whole working "
                            "days, 0 to %(max)s (e.g. stock-ready+2)."
                        )
                        % {"value": token, "max": MAX_LEAD_DAYS},
                    )
                    continue
                lead = int(lead_text)
            id_match = re.fullmatch(r"#(\d+)", reference)
            if id_match is None and reference in rows_by_key:
                upstream_row = rows_by_key[reference]
                if upstream_row == number:
                    err("depends_on", _("A node cannot depend on itself."))
                elif item.upstream_rows.get(upstream_row, lead) != lead:
                    err(
                        "depends_on",
                        _("“%(value)s” is listed twice with different leads.")
                        % {"value": reference},
                    )
                else:
                    item.upstream_rows[upstream_row] = lead
                continue
            id_match = id_match or re.fullmatch(r"(\d+)", reference)
            if id_match and int(id_match[1]) in existing_by_id:
                node = existing_by_id[int(id_match[1])]
                if item.upstream_nodes.get(node.pk, (node, lead))[1] != lead:
                    err(
                        "depends_on",
                        _("“%(value)s” is listed twice with different leads.")
                        % {"value": reference},
                    )
                else:
                    item.upstream_nodes[node.pk] = (node, lead)
            else:
                err(
                    "depends_on",
                    _(
                        "“%(value)s” is neither the key of a row of this file nor #id of a node "
                        "of this project (list keys, not titles)."
                    )
                    % {"value": reference or token},
                )
        if historical:
            _read_history(item, row=row, cell=cell, moment=moment, err=err, statuses=statuses)
            if item.completed_at is not None and item.completed_at > now:
                err("completed_at", _("Completion cannot be in the future."))
        parsed.append(item)

    _ordered, stuck = dependency_order(parsed)
    if stuck:
        errors.append(
            CellError(
                0,
                "",
                _("The dependencies of rows %(rows)s make a cycle.")
                % {"rows": ", ".join(map(str, stuck))},
            )
        )
    if errors:
        raise SpreadsheetError(sorted(errors, key=lambda e: e.row))
    return parsed


def _read_history(
    item: ParsedRow,
    *,
    row: list[Any],
    cell: Callable[[list[Any], str], Any],
    moment: Callable[..., datetime | None],
    err: Callable[[str, str], None],
    statuses: dict[str, str],
) -> None:
    """A historical row's outcome: status (done when a completion time is given, else to do),
    completion time (a done node needs one, only a done node has one), baseline due (the
    plan of record; empty: the due date) and template key."""
    status_text = _cell_text(cell(row, "status"))
    item.completed_at = moment(row, "completed_at", err)
    completion_given = bool(_cell_text(cell(row, "completed_at")))
    if not status_text:
        item.status = MilestoneStatus.DONE if completion_given else MilestoneStatus.TODO
    elif status_text.casefold().replace("_", " ") in statuses:
        item.status = statuses[status_text.casefold().replace("_", " ")]
    else:
        err(
            "status",
            _("No status “%(value)s”. Use: %(statuses)s.")
            % {"value": status_text, "statuses": ", ".join(MilestoneStatus.values)},
        )
        item.status = ""
    if item.status == MilestoneStatus.DONE and not completion_given:
        err("completed_at", _("A done node needs its completion time."))
    elif item.status and item.status != MilestoneStatus.DONE and completion_given:
        err("completed_at", _("Only a node with status done has a completion time."))
    item.planned_due_at = moment(row, "baseline_due", err) or item.due_at
    item.template_key = _cell_text(cell(row, "template_key"))
    if item.template_key and not re.fullmatch(r"[-a-zA-Z0-9_]{1,60}", item.template_key):
        err(
            "template_key",
            _("A template key is 1 to 60 letters, digits, dashes or underscores."),
        )


def milestones_import(
    *, project: Project, actor: User, filename: str, content: bytes
) -> list[Milestone]:
    """Create every node of the file, or none (SpreadsheetError lists all the problems)."""
    authorize(actor, can_import_milestones, project, message=IMPORTERS_ONLY)
    parsed = validate_rows(
        project=project, actor=actor, table=read_table(filename=filename, content=content)
    )
    ordered, _stuck = dependency_order(parsed)
    created: dict[int, Milestone] = {}
    reason = _("Imported from %(file)s") % {"file": filename}
    with transaction.atomic():
        for row in ordered:
            created[row.number] = milestone_create(
                project=project,
                actor=actor,
                title=row.title,
                department=row.department,
                due_at=row.due_at,
                description=row.description,
                assignee=row.assignee,
                dependencies=upstream_links(row, created),
                reason=reason,
            )
    return [created[row.number] for row in parsed]


def upstream_links(
    row: ParsedRow, created: dict[int, Milestone]
) -> list[tuple[Milestone, int | None]]:
    """A row's upstream nodes with their declared leads: nodes already in the project, and
    the nodes created for its upstream rows (`created`, by row number)."""
    return [
        *row.upstream_nodes.values(),
        *((created[number], lead) for number, lead in row.upstream_rows.items()),
    ]
