"""What `weekly_report` and `monthly_report` share: options, scope lookup, printing."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tracker.notifications.texts import percent
from tracker.reports.periods import Period, PeriodKind, parse_period, period_containing
from tracker.reports.selectors import report_scope
from tracker.reports.services import report_compute, report_publish


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _days(value) -> str:
    return "–" if value is None else f"{value:.2f}"


class ReportCommand(BaseCommand):
    kind: PeriodKind
    example = ""

    def parse_period(self, value: str) -> Period:
        return parse_period(self.kind, value)

    def default_period(self) -> Period:
        """The last complete period."""
        return period_containing(self.kind, timezone.now()).previous()

    def add_arguments(self, parser):
        parser.add_argument(
            f"--{self.kind}",
            dest="period",
            help=_("The period, e.g. %(example)s (default: the last complete one).")
            % {"example": self.example},
        )
        parser.add_argument("--project", help=_("Only this project (id)."))
        parser.add_argument("--department", help=_("Only this department (code)."))
        parser.add_argument(
            "--send",
            action="store_true",
            help=_("Store the snapshot and send it to owners, leads and channels."),
        )
        parser.add_argument(
            "--retake",
            metavar="REASON",
            help=_(
                "With --send: take a closed period's snapshot (its figure of record) again, "
                "for this reason; the earlier one is kept."
            ),
        )
        parser.add_argument("--json", action="store_true", help=_("Print the report as JSON."))

    def handle(self, *args, **options) -> None:
        try:
            period = self.parse_period(options["period"]) if options["period"] else None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        period = period or self.default_period()
        try:
            project, department = report_scope(
                project=options["project"], department=options["department"]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if project is not None and department is not None:
            raise CommandError(_("Give --project or --department, not both."))
        now = timezone.now()
        if options["retake"] is not None and not options["send"]:
            raise CommandError(_("--retake goes with --send."))
        if options["send"]:
            try:
                published = report_publish(
                    period=period,
                    as_of=now,
                    project=project,
                    department=department,
                    retake_reason=options["retake"],
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            report = published.snapshot.data
        else:
            report = report_compute(
                period=period,
                as_of=now,
                project_id=project.pk if project else None,
                department_id=department.pk if department else None,
            )
        if options["json"]:
            self.stdout.write(json.dumps(report, cls=DjangoJSONEncoder, ensure_ascii=False))
        else:
            self.print_report(report, project=project, department=department)
        if options["send"]:
            self.stdout.write(
                _("Snapshot %(label)s saved; messages queued: %(count)d")
                % {"label": published.snapshot.label, "count": published.messages}
            )

    # Printing -----------------------------------------------------------------------------

    def print_report(self, report: dict[str, Any], *, project, department) -> None:
        report = json.loads(json.dumps(report, cls=DjangoJSONEncoder))
        start, end, as_of = (parse_datetime(report[key]) for key in ("start", "end", "as_of"))
        scope = project.name if project else department.name if department else _("all projects")
        write = self.stdout.write
        write(f"{report['period']} ({scope})")
        write(_("Period: %(start)s – %(end)s") % {"start": _when(start), "end": _when(end)})
        write(_("As of: %(as_of)s") % {"as_of": _when(as_of)})
        write(
            _("Due: %(due)d  on time: %(on_time)d  late: %(late)d  open overdue: %(open)d")
            % {
                "due": report["due_count"],
                "on_time": report["on_time_count"],
                "late": report["late_count"],
                "open": report["open_overdue_count"],
            }
        )
        line = _("Deviation rate: %(rate)s (threshold %(threshold)s)") % {
            "rate": percent(report["deviation_rate"]),
            "threshold": percent(report["threshold"]),
        }
        if report["breached"]:
            line += "  " + _("ABOVE THRESHOLD")
        write(line)
        write(_("Mean slip: %(days)s days") % {"days": _days(report["mean_slip_days"])})
        header = [_("Due"), _("On time"), _("Late"), _("Open"), _("Rate"), _("Mean slip")]
        self._table(_("By department"), _("Department"), header, report["by_department"])
        self._table(_("By project"), _("Project"), header, report["by_project"])
        if "weekly_trend" in report:
            rows = [{**row, "name": row["week"]} for row in report["weekly_trend"]]
            self._table(_("Weekly trend"), _("Week"), header, rows)
        write("")
        write(_("Worst slips"))
        for row in report["worst_slips"]:
            write(
                f"  #{row['id']} {row['title']} · {row['project']} · {row['department']}: "
                + _("%(days)s days") % {"days": _days(row["slip_days"])}
            )
        if not report["worst_slips"]:
            write("  " + _("None."))
        if report.get("analysis"):
            self.print_analysis(report["analysis"])

    def print_analysis(self, analysis: dict[str, Any]) -> None:
        """The monthly analysis in brief: the comparisons, the top three reasons, the repeat
        offenders and the promise-kept rate (the page and the exports have the rest)."""
        write = self.stdout.write
        write("")
        write(_("Analysis"))
        for other in analysis["comparisons"].values():
            if other is not None:
                change = other["rate_change"]
                write(
                    "  "
                    + _("Against %(month)s (%(rate)s): %(change)s points")
                    % {
                        "month": other["month"],
                        "rate": percent(other["deviation_rate"]),
                        "change": "—" if change is None else f"{change * 100:+.1f}",
                    }
                )
        for row in analysis["pareto"][:3]:
            write(
                "  "
                + _("Reason %(name)s: %(count)d nodes, %(days)s working days (%(share)s)")
                % {
                    "name": row["name"],
                    "count": row["deviated_count"],
                    "days": f"{row['slip_days']:g}",
                    "share": percent(row["share"]),
                }
            )
        for row in analysis["repeat_offenders"]:
            write(
                "  "
                + _("Late again: %(title)s (%(department)s) in %(projects)s")
                % {
                    "title": row["title"],
                    "department": row["department_name"],
                    "projects": ", ".join(row["late_in"]),
                }
            )
        totals = analysis["churn"]["totals"]
        write(
            "  "
            + _("Promises kept: %(rate)s (%(kept)d of %(count)d)")
            % {
                "rate": percent(totals["promise_kept_rate"]),
                "kept": totals["promises_kept"],
                "count": totals["promises"],
            }
        )

    def _table(self, title: str, first: str, header: list[str], rows: list[dict]) -> None:
        lines = [[first, *header]] + [
            [
                str(row.get("name") or row.get("code")),
                str(row["due_count"]),
                str(row["on_time_count"]),
                str(row["late_count"]),
                str(row["open_overdue_count"]),
                percent(row["deviation_rate"]),
                _days(row["mean_slip_days"]),
            ]
            for row in rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        self.stdout.write("")
        self.stdout.write(title)
        for line in lines:
            cells = [line[0].ljust(widths[0])] + [
                cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
            ]
            self.stdout.write("  " + "  ".join(cells))
