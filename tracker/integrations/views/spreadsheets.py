"""Import a project's nodes from a spreadsheet; export nodes and report tables."""

from __future__ import annotations

import math
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from tracker.accounts.authentication import ApiTokenAuthentication
from tracker.core.forms import add_service_errors
from tracker.core.permissions import authorize, can_import_milestones
from tracker.integrations.forms import HistoricalImportForm, ImportForm
from tracker.integrations.spreadsheets.exporting import (
    export_file,
    project_nodes_table,
    report_table,
)
from tracker.integrations.spreadsheets.historical import (
    history_authorize,
    project_import_historical,
)
from tracker.integrations.spreadsheets.importing import (
    COLUMNS,
    HISTORY_COLUMNS,
    IMPORTERS_ONLY,
    SpreadsheetError,
    milestones_import,
)
from tracker.projects.models import Project
from tracker.reports.periods import PeriodKind
from tracker.reports.selectors import report_scope


def login_or_token_required(view):
    """Downloads for people (session) and for scripts (`Authorization: Token <key>`)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated and request.headers.get("Authorization"):
            try:
                found = ApiTokenAuthentication().authenticate(Request(request))
            except AuthenticationFailed as error:
                return HttpResponse(str(error.detail), status=401, content_type="text/plain")
            except Throttled as error:
                response = HttpResponse(str(error.detail), status=429, content_type="text/plain")
                response["Retry-After"] = str(math.ceil(error.wait))
                return response
            if found is not None:
                request.user = found[0]
        return login_required(view)(request, *args, **kwargs)

    return wrapped


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_or_token_required
def project_export_view(request: HttpRequest, project_id: int, fmt: str) -> HttpResponse:
    project = get_object_or_404(
        Project.objects.visible_to(request.user, include_archived=True), pk=project_id
    )
    headers, rows = project_nodes_table(project=project)
    content, content_type = export_file(fmt=fmt, headers=headers, rows=rows, title=project.name)
    stamp = timezone.localtime().strftime("%Y%m%d")
    return _download(content, content_type, f"milepost-project-{project.pk}-{stamp}.{fmt}")


@login_required
def project_import_view(request: HttpRequest, project_id: int) -> HttpResponse:
    """Upload a CSV/XLSX: every row is created, or none, with the problems listed by cell."""
    project = get_object_or_404(
        Project.objects.visible_to(request.user, include_archived=True), pk=project_id
    )
    authorize(request.user, can_import_milestones, project, message=IMPORTERS_ONLY)  # the form
    posted = request.method == "POST"
    form = ImportForm(request.POST if posted else None, request.FILES if posted else None)
    errors = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            created = milestones_import(
                project=project, actor=request.user, filename=upload.name, content=upload.read()
            )
        except SpreadsheetError as error:
            errors = error.errors
        else:
            messages.success(
                request,
                _("Imported %(count)s nodes into %(project)s.")
                % {"count": len(created), "project": project.name},
            )
            try:
                return redirect(reverse("web:board", args=[project.pk]))
            except NoReverseMatch:
                return redirect("integrations:project_import", project_id=project.pk)
    status = 400 if request.method == "POST" else 200
    context = {
        "project": project,
        "form": form,
        "errors": errors,
        "columns": [aliases[0] for aliases in COLUMNS.values()],
    }
    return render(request, "integrations/project_import.html", context, status=status)


@login_required
def history_import_view(request: HttpRequest) -> HttpResponse:
    """Staff load a past project from an export: closed, baselined, its completions kept, no
    alerts. The whole file is checked first; a refused file changes nothing."""
    history_authorize(actor=request.user)
    posted = request.method == "POST"
    form = HistoricalImportForm(request.POST if posted else None, request.FILES if posted else None)
    errors = []
    if posted and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        try:
            project = project_import_historical(
                actor=request.user,
                filename=upload.name,
                content=upload.read(),
                name=data["name"],
                kind=data["kind"],
                d_day=data["d_day"],
                owner=data["owner"],
                template=data["template"],
                deviation_threshold=data["deviation_threshold"],
            )
        except SpreadsheetError as error:
            errors = error.errors
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Imported the past project %(project)s: closed and baselined.")
                % {"project": project.name},
            )
            try:
                return redirect(reverse("web:board", args=[project.pk]))
            except NoReverseMatch:
                return redirect("integrations:history_import")
    context = {
        "form": form,
        "errors": errors,
        "columns": [aliases[0] for aliases in (COLUMNS | HISTORY_COLUMNS).values()],
    }
    return render(
        request, "integrations/history_import.html", context, status=400 if posted else 200
    )


@login_or_token_required
def report_export_view(
    request: HttpRequest, kind: str, label: str, table: str, fmt: str
) -> HttpResponse:
    """One report table as a file; `project` (id) and `department` (code) narrow it."""
    try:
        project, department = report_scope(
            user=request.user,
            project=request.GET.get("project"),
            department=request.GET.get("department"),
        )
    except ValidationError as error:
        return HttpResponseBadRequest(" ".join(error.messages))
    try:
        headers, rows = report_table(
            kind=PeriodKind.from_adjective(kind),
            label=label,
            table=table,
            project_id=project.pk if project else None,
            department_id=department.pk if department else None,
        )
    except ValidationError as error:
        return HttpResponseBadRequest(" ".join(error.messages))
    content, content_type = export_file(
        fmt=fmt, headers=headers, rows=rows, title=f"{label} {table}"
    )
    return _download(content, content_type, f"milepost-{kind}-{label}-{table}.{fmt}")
