"""Weekly and monthly deviation reports: the 12-week trend chart, the tables and exports."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import Department
from tracker.reports.analysis import DISTRIBUTION_KEYS, DISTRIBUTION_LABELS
from tracker.reports.periods import PeriodKind, default_period, period_containing
from tracker.reports.selectors import report_of_record, weekly_trend
from tracker.web.charts import distribution_chart, pareto_chart, trend_chart
from tracker.web.forms import ReportFilterForm

TREND_WEEKS = 12


def _report_page(request: HttpRequest, kind: PeriodKind) -> HttpResponse:
    now = timezone.now()
    departments = list(Department.objects.order_by("name"))
    current = period_containing(kind, now)
    data = request.GET.copy()
    # ?week= / ?month= (the API's and the emails' names) mean the same as the picker's ?period=.
    if not data.get("period"):
        data["period"] = data.get(kind.value) or default_period(kind, now).label
    form = ReportFilterForm(data, kind=kind, departments=departments, user=request.user)
    context = {
        "form": form,
        "kind": kind,
        "kinds": PeriodKind,
        "report_kind": kind.adjective,
        "tab": kind,
    }
    if not form.is_valid():
        return render(request, "web/reports/report.html", context, status=400)
    period = form.cleaned_data["period"]
    project = form.cleaned_data["project"]
    department_id = form.cleaned_data["department"]
    scope = {
        "project_id": project.pk if project else None,
        "department_id": department_id,
    }
    report = report_of_record(period=period, as_of=now, **scope)
    following = period_containing(kind, period.end)
    trend_as_of = min(now, period.end - timedelta(seconds=1))
    trend = weekly_trend(weeks=TREND_WEEKS, as_of=trend_as_of, project_id=scope["project_id"])
    query = {
        key: value
        for key, value in (("project", project and project.pk), ("department", department_id))
        if value
    }
    context.update(
        {
            "period": period,
            "report": report,
            "trend": trend,
            "chart": trend_chart(
                weeks=trend,
                threshold=report["threshold"],
                highlight=period.label if kind == PeriodKind.WEEK else None,
            ),
            "previous": period.previous().label,
            "next": following.label if following.start <= now else None,
            "is_current": period.label == current.label,
            "scope_query": urlencode(query),
            "project": project,
            "department": next((d for d in departments if d.pk == department_id), None),
        }
    )
    analysis = report.get("analysis") if kind == PeriodKind.MONTH else None
    if analysis:
        context.update(_analysis_charts(analysis, threshold=report["threshold"]))
    return render(request, "web/reports/report.html", context)


def _analysis_charts(analysis: dict, *, threshold) -> dict:
    """The monthly analysis's charts: the reason Pareto, the lateness distribution and the
    12-month trend (the same object the API, the exports and the emails carry)."""
    return {
        "analysis": analysis,
        "distribution_labels": [(key, DISTRIBUTION_LABELS[key]) for key in DISTRIBUTION_KEYS],
        "distribution_rows": [
            (row, [row[key] for key in DISTRIBUTION_KEYS]) for row in analysis["distribution"]
        ],
        "analysis_attribution_tables": [
            (_("Department"), analysis["attribution"]["departments"]),
            (_("Project"), analysis["attribution"]["projects"]),
        ],
        "pareto_chart": pareto_chart(rows=analysis["pareto"]),
        "distribution_chart": distribution_chart(
            rows=analysis["distribution"], keys=DISTRIBUTION_KEYS
        ),
        "month_chart": trend_chart(
            weeks=analysis["trend_12_months"],
            threshold=threshold,
            highlight=analysis["month"],
            label_key="month",
        ),
    }


@login_required
def weekly(request: HttpRequest) -> HttpResponse:
    return _report_page(request, PeriodKind.WEEK)


@login_required
def monthly(request: HttpRequest) -> HttpResponse:
    return _report_page(request, PeriodKind.MONTH)
