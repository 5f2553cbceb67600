"""Export a project's nodes and report tables as CSV/XLSX (cells that a spreadsheet would run
as a formula are guarded; the importer undoes the guard, so an export imports again)."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from tracker.milestones.models import Milestone, MilestoneDependency
from tracker.projects.models import Project
from tracker.reports.analysis import DISTRIBUTION_KEYS
from tracker.reports.periods import PeriodKind, parse_period
from tracker.reports.selectors import report_of_record, weekly_trend

# A cell starting with one of these would run as a formula: exports prefix it with a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_text(value: Any) -> Any:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _local(moment: datetime | None) -> datetime | None:
    return timezone.localtime(moment).replace(tzinfo=None) if moment else None


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a BOM so Excel shows Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(
            [
                v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else _safe_text(v)
                for v in row
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode()


def write_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet")
    widths = [len(str(h)) for h in headers]

    def cells(values: Sequence[Any], bold: bool = False) -> list[WriteOnlyCell]:
        out = []
        for index, value in enumerate(values):
            item = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                item.data_type = "s"  # never a formula, whatever the text starts with
            elif isinstance(value, datetime):
                item.number_format = "yyyy-mm-dd hh:mm"
            if bold:
                item.font = Font(bold=True)
            if index < len(widths):
                widths[index] = max(widths[index], min(len(str(value or "")), 60))
            out.append(item)
        return out

    materialised = [cells(list(row)) for row in rows]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width + 2
    sheet.freeze_panes = "A2"
    sheet.append(cells(list(headers), bold=True))
    for row in materialised:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# The "depends on" column lists keys (the "key" column: a node's id in an export) joined by
# DEPENDENCY_JOIN, each optionally followed by LEAD_MARK and the link's declared minimum lead in
# working days ("stock-ready+2"). A key is KEY_PATTERN, so neither the separators nor the mark
# can occur inside one; titles, which may hold anything, are shown in their own column for
# people and never read back.
KEY_PATTERN = r"[A-Za-z0-9_.-]{1,40}"
DEPENDENCY_JOIN = " "
LEAD_MARK = "+"


def dependency_token(key: object, lead: int | None) -> str:
    """One entry of the "depends on" column: the key, and "+N" when a minimum lead is set."""
    return f"{key}{LEAD_MARK}{lead}" if lead is not None else str(key)


def project_nodes_table(*, project: Project) -> tuple[list[str], list[list[Any]]]:
    """A project's nodes as an importable table (three queries)."""
    nodes = list(
        Milestone.objects.filter(project=project)
        .select_related("department", "assignee")
        .order_by("due_at", "position", "id")
    )
    by_id = {node.pk: node for node in nodes}
    upstream: dict[int, dict[int, int | None]] = defaultdict(dict)
    for milestone_id, depends_on_id, lead in MilestoneDependency.objects.filter(
        milestone__project=project
    ).values_list("milestone_id", "depends_on_id", "min_lead_days"):
        upstream[milestone_id][depends_on_id] = lead

    headers = [
        "key",
        "title",
        "department",
        "assignee",
        "due",
        "depends on",
        "depends on (titles)",
        "status",
        "completed at",
        "baseline due",
        "description",
        "template key",
    ]
    rows = []
    for node in nodes:
        keys = [pk for pk in sorted(upstream[node.pk]) if pk in by_id]
        rows.append(
            [
                str(node.pk),
                node.title,
                node.department.code,
                node.assignee.username if node.assignee else "",
                _local(node.due_at),
                DEPENDENCY_JOIN.join(dependency_token(pk, upstream[node.pk][pk]) for pk in keys),
                "\n".join(by_id[pk].title for pk in keys),
                node.status,
                _local(node.completed_at),
                _local(node.baseline_due_at),
                node.description,
                node.template_key,
            ]
        )
    return headers, rows


def export_file(
    *, fmt: str, headers: Sequence[str], rows: list[list[Any]], title: str
) -> tuple[bytes, str]:
    """(content, content type) of a table in `fmt` (csv or xlsx)."""
    if fmt == "xlsx":
        return (
            write_xlsx(headers, rows, title=title),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if fmt == "csv":
        return write_csv(headers, rows), "text/csv; charset=utf-8"
    raise ValidationError(_("Choose csv or xlsx."))


# Report tables ----------------------------------------------------------------------------

REPORT_TABLES = ("departments", "projects", "slips", "trend", "restatements")
# The monthly report's analysis (tracker/reports/analysis.py), one table per section.
ANALYSIS_TABLES = (
    "comparisons",
    "attribution",
    "pareto",
    "distribution",
    "repeat_offenders",
    "churn",
    "months",
)
MONTH_COLUMNS = ["deviation_rate", "due_count", "late_count", "deviated_count"]
SLIP_COLUMNS = ["late_count", "own_days", "inherited_days", "caused_downstream_days"]
CHURN_COLUMNS = ["replanned_nodes", "replans", "promises", "promises_kept", "promise_kept_rate"]
FIGURE_COLUMNS = [
    "due_count",
    "on_time_count",
    "deviated_count",
    "late_count",
    "open_overdue_count",
    "deviation_rate",
    "mean_slip_days",
]
TREND_WEEKS = 12
SLIPS_LIMIT = 5000


def report_table(
    *,
    kind: str,
    label: str,
    table: str,
    project_id: int | None = None,
    department_id: int | None = None,
    now: datetime | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """One table of the weekly or monthly deviation report, as headers and rows.

    Raises ValidationError for an unreadable period label.
    """
    now = now or timezone.now()
    period = parse_period(kind, label)
    scope = {"project_id": project_id, "department_id": department_id}
    if table == "trend":
        # The same twelve weeks the report page charts, ending with the period's last week.
        trend = weekly_trend(
            weeks=TREND_WEEKS,
            as_of=min(now, period.end - timedelta(seconds=1)),
            project_id=project_id,
        )
        return ["week", "start", *FIGURE_COLUMNS], [
            [row["week"], _local(row["start"]), *(row[c] for c in FIGURE_COLUMNS)] for row in trend
        ]
    if table in ANALYSIS_TABLES and kind != PeriodKind.MONTH:
        raise ValidationError(_("The analysis tables are the monthly report's."))
    # A closed period's figure of record (its snapshot), as on the report page.
    report = report_of_record(period=period, as_of=now, worst_slips=SLIPS_LIMIT, **scope)
    if table in ANALYSIS_TABLES:
        return analysis_table(report["analysis"], table)
    if table == "departments":
        return ["code", "name", *FIGURE_COLUMNS], [
            [row["code"], row["name"], *(row[c] for c in FIGURE_COLUMNS)]
            for row in report["by_department"]
        ]
    if table == "projects":
        return ["id", "name", *FIGURE_COLUMNS, "threshold", "breached"], [
            [
                row["id"],
                row["name"],
                *(row[c] for c in FIGURE_COLUMNS),
                float(row["threshold"]),
                row["breached"],
            ]
            for row in report["by_project"]
        ]
    if table == "slips":
        # People read the department's and the assignee's names; the code and the username
        # follow at the end, for programs (a snapshot taken before the names were kept in it
        # names them by code and username in both).
        columns = ["id", "title", "project", "department", "assignee", "status", "slip_days"]
        return [
            *columns[:5],
            "planned_due",
            "completed_at",
            *columns[5:],
            "department_code",
            "assignee_username",
        ], [
            [
                row["id"],
                row["title"],
                row["project"],
                row.get("department_name") or row["department"],
                row.get("assignee_name") or row["assignee"] or "",
                _local(row["planned_due"]),
                _local(row["completed_at"]),
                row["status"],
                row["slip_days"],
                row["department"],
                row["assignee"] or "",
            ]
            for row in report["worst_slips"]
        ]
    if table == "restatements":
        # What changed since the figure of record was taken (empty while it stands); who did
        # it by name, the username last, for programs.
        columns = ["node_id", "node", "project_id", "field", "old_value", "new_value"]
        return [
            *columns,
            "actor",
            "at",
            "reason_code",
            "reason_name",
            "reason",
            "actor_username",
        ], [
            [
                *(row[c] if row[c] is not None else "" for c in columns),
                row.get("actor_name") or row["actor"] or "",
                _local(row["at"]),
                row["reason_code"],
                row["reason_name"],
                row["reason"],
                row["actor"] or "",
            ]
            for row in report["restatements"]
        ]
    raise ValidationError(
        _("Choose a table: %(tables)s.") % {"tables": ", ".join(REPORT_TABLES + ANALYSIS_TABLES)}
    )


def analysis_table(analysis: dict[str, Any], table: str) -> tuple[list[str], list[list[Any]]]:
    """One section of the monthly analysis as headers and rows (the keys of the API's object)."""
    if table == "comparisons":
        current = analysis["trend_12_months"][-1]
        rows = [["month", current["month"], *(current[c] for c in MONTH_COLUMNS), ""]]
        for name in ("previous_month", "same_month_last_year"):
            other = analysis["comparisons"][name]
            if other is not None:
                rows.append(
                    [name, other["month"], *(other[c] for c in MONTH_COLUMNS), other["rate_change"]]
                )
        return ["comparison", "month", *MONTH_COLUMNS, "rate_change"], rows
    if table == "attribution":
        return ["level", "id", "name", *SLIP_COLUMNS], [
            [level, row[f"{level}_id"], row["name"], *(row[c] for c in SLIP_COLUMNS)]
            for level, rows in (
                ("department", analysis["attribution"]["departments"]),
                ("project", analysis["attribution"]["projects"]),
            )
            for row in rows
        ]
    if table == "pareto":
        columns = ["reason_code", "name", "deviated_count", "slip_days", "share"]
        return [*columns, "cumulative_share"], [
            [*(row[c] for c in columns), row["cumulative_share"]] for row in analysis["pareto"]
        ]
    if table == "distribution":
        return ["department_id", "name", *DISTRIBUTION_KEYS], [
            [row["department_id"] or "", row["name"], *(row[c] for c in DISTRIBUTION_KEYS)]
            for row in analysis["distribution"]
        ]
    if table == "repeat_offenders":
        columns = ["template_id", "template_name", "template_key", "title", "department_id"]
        return [*columns, "department_name", "late_in", "of_campaigns"], [
            [
                *(row[c] for c in columns),
                row["department_name"],
                ", ".join(row["late_in"]),
                row["of_campaigns"],
            ]
            for row in analysis["repeat_offenders"]
        ]
    if table == "churn":
        churn = analysis["churn"]
        return ["department_id", "name", *CHURN_COLUMNS], [
            *(
                [row["department_id"], row["name"], *(row[c] for c in CHURN_COLUMNS)]
                for row in churn["departments"]
            ),
            ["", _("All departments"), *(churn["totals"][c] for c in CHURN_COLUMNS)],
        ]
    return ["month", *MONTH_COLUMNS], [
        [row["month"], *(row[c] for c in MONTH_COLUMNS)] for row in analysis["trend_12_months"]
    ]
