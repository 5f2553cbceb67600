"""The projects list, creating a project from a template (with a preview), and the baseline."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.accounts.models import Department
from tracker.core.forms import add_service_errors
from tracker.core.permissions import authorize, can_create_project, can_manage_project
from tracker.projects.models import PastNodeAction, Project
from tracker.projects.services import (
    past_node_keys,
    project_baseline,
    project_create,
    project_update,
    reanchor_preview,
    template_schedule,
)
from tracker.web.forms import ProjectCreateForm, ProjectFilterForm, ProjectSettingsForm
from tracker.web.selectors import project_rows
from tracker.web.views.common import get_project


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    filters = ProjectFilterForm(request.GET)
    filters.is_valid()  # every field is optional; invalid choices are simply ignored
    projects = filters.filter(
        Project.objects.visible_to(request.user, include_archived=filters.asks_for_archived)
    )
    rows = project_rows(projects=projects, now=timezone.now())
    health = filters.cleaned_data.get("health")
    if health:
        rows = [row for row in rows if row.health == health]
    return render(
        request,
        "web/projects/list.html",
        {
            "rows": rows,
            "filters": filters,
            "filtered": any(filters.cleaned_data.values()),
            "can_create": can_create_project(request.user),
        },
    )


PAST_ALL = "past-all"
# The "Apply" button beside the "for all" choice: it sets every past node to that choice
# (each row's own select is posted too, and would otherwise win).
APPLY_ALL = "apply-all"


def _past_choices(request: HttpRequest) -> dict[str, str]:
    """The wizard's choice for each past node (`past-<key>`), the "all" choice filling gaps."""
    return {
        name.removeprefix("past-"): value
        for name, value in request.POST.items()
        if name.startswith("past-") and name != PAST_ALL and value
    }


def _preview(form: ProjectCreateForm, request: HttpRequest, now: datetime) -> dict:
    """The nodes the template would schedule, with the departments that are still missing and
    the nodes whose dates are already past (each with the choice made for it)."""
    template = form.cleaned_data.get("template")
    if template is None:
        return {"nodes": [], "missing": [], "past": 0}
    nodes = template_schedule(
        template=template, d_day=form.cleaned_data["d_day"], war_room=form.war_room_window
    )
    codes = {node.department_code for node in nodes}
    departments = {d.code: d for d in Department.objects.filter(code__in=codes)}
    chosen = {} if APPLY_ALL in request.POST else _past_choices(request)
    past_keys = past_node_keys(nodes, now=now)
    default = request.POST.get(PAST_ALL) or PastNodeAction.RESCHEDULE
    rows = [
        {
            "node": node,
            "department": departments.get(node.department_code),
            "past": node.key in past_keys,
            "choice": chosen.get(node.key) or default,
        }
        for node in nodes
    ]
    past = sum(row["past"] for row in rows)
    first = min((node.due_at for node in nodes), default=None)
    return {
        "nodes": rows,
        "missing": sorted(codes - set(departments)),
        "moved": sum(node.moved_from is not None for node in nodes),
        "past": past,
        "span_days": (form.cleaned_data["d_day"] - first).days if first else 0,
        "days_left": (form.cleaned_data["d_day"] - now).days,
        "past_actions": PastNodeAction.choices,
        "past_all": default,
    }


@login_required
def project_create_view(request: HttpRequest) -> HttpResponse:
    authorize(request.user, can_create_project)  # the form and its preview, too
    if request.method != "POST":
        return render(request, "web/projects/create.html", {"form": ProjectCreateForm()})
    now = timezone.now()
    form = ProjectCreateForm(request.POST)
    if not form.is_valid():
        return render(request, "web/projects/create.html", {"form": form}, status=422)
    preview = _preview(form, request, now)
    if "create" not in request.POST:
        return render(request, "web/projects/create.html", {"form": form, "preview": preview})
    if preview["past"] and PAST_ALL not in request.POST:
        # Created straight from the form: show which nodes are past and ask, create nothing.
        form.add_error(
            None,
            _("%(count)d nodes would already be past: choose below what to do with them.")
            % {"count": preview["past"]},
        )
        return render(
            request, "web/projects/create.html", {"form": form, "preview": preview}, status=422
        )
    data = form.cleaned_data
    past_nodes = {row["node"].key: row["choice"] for row in preview["nodes"] if row["past"]}
    try:
        project = project_create(
            actor=request.user,
            name=data["name"],
            kind=data["kind"],
            d_day=data["d_day"],
            owner=request.user,
            template=data["template"],
            deviation_threshold=form.threshold,
            war_room=data["war_room"],
            war_room_days_before=data["war_room_days_before"],
            war_room_days_after=data["war_room_days_after"],
            past_nodes=past_nodes,
            now=now,
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return render(
            request, "web/projects/create.html", {"form": form, "preview": preview}, status=422
        )
    messages.success(
        request,
        _("Project “%(name)s” is created with %(count)d nodes.")
        % {"name": project.name, "count": project.milestones.count()},
    )
    return redirect("web:board", project_id=project.pk)


@login_required
def project_settings_view(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's settings (owner and staff), all through `project_update`: its checks and
    audit. "Preview" shows where a new D-day would put the nodes and saves nothing."""
    project = get_project(request.user, project_id)
    authorize(request.user, can_manage_project, project)  # the form, too
    page = "web/projects/settings.html"
    if request.method != "POST":
        form = ProjectSettingsForm(
            initial=ProjectSettingsForm.initial_for(project), project=project
        )
        return render(request, page, {"project": project, "form": form})
    form = ProjectSettingsForm(request.POST, project=project)
    if not form.is_valid():
        return render(request, page, {"project": project, "form": form}, status=422)
    context = {"project": project, "form": form}
    if form.new_d_day is not None:
        context["preview"] = reanchor_preview(project=project, new_d_day=form.new_d_day)
    if "preview" in request.POST:
        return render(request, page, context)
    try:
        project_update(
            project=project,
            actor=request.user,
            data=form.project_data(),
            change_reason=form.cleaned_data["change_reason"],
            reason_code=form.cleaned_data["reason_code"],
        )
    except ValidationError as error:
        project.refresh_from_db()
        add_service_errors(form, error)
        return render(request, page, context, status=422)
    messages.success(request, _("The project's settings are saved."))
    return redirect("web:board", project_id=project.pk)


@login_required
def project_baseline_view(request: HttpRequest, project_id: int) -> HttpResponse:
    """GET asks for confirmation; POST locks the plan."""
    project = get_project(request.user, project_id)
    authorize(request.user, can_manage_project, project)  # the confirmation, too
    if request.method != "POST":
        return render(
            request,
            "web/projects/baseline.html",
            {"project": project, "node_count": project.milestones.count()},
        )
    try:
        project_baseline(project=project, actor=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("web:board", project_id=project.pk)
    messages.success(
        request,
        _("The plan of “%(name)s” is baselined: moving a due date now needs a reason.")
        % {"name": project.name},
    )
    return redirect("web:board", project_id=project.pk)
