"""The timeline: one row per node, drawn as SVG on the server, zoomed to fit, a month or a
week; dragging a node's due diamond re-plans it (through `milestone_update`)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tracker.core.errors import ConflictError, PermissionDeniedError
from tracker.core.forms import add_service_errors
from tracker.core.permissions import can_edit_milestone, can_manage_project
from tracker.milestones.models import Milestone
from tracker.milestones.selectors import annotate_flags, milestone_queryset
from tracker.milestones.services import milestone_update
from tracker.projects.selectors import project_audit_log, project_baselines
from tracker.web.charts import timeline_chart
from tracker.web.forms import ReplanForm
from tracker.web.views.common import get_project

# Zoom levels: how many drawing units a day gets (None: the whole span fits the frame).
ZOOMS = {
    "fit": (gettext_lazy("Fit"), None),
    "month": (gettext_lazy("Month"), 12.0),
    "week": (gettext_lazy("Week"), 40.0),
}


def _timeline(
    request: HttpRequest, project_id: int, *, replan=None, replanned=None, status: int = 200
) -> HttpResponse:
    project = get_project(request.user, project_id)
    zoom = request.GET.get("zoom") or "fit"
    if zoom not in ZOOMS:
        messages.error(
            request, _("Unknown zoom “%(zoom)s”: showing the whole plan.") % {"zoom": zoom}
        )
        zoom, status = "fit", 400
    now = timezone.now()
    nodes = annotate_flags(
        list(milestone_queryset().filter(project=project).order_by("due_at", "position", "id")),
        now=now,
    )
    for node in nodes:
        node.can_replan = can_edit_milestone(request.user, node)
    return render(
        request,
        "web/timeline.html",
        {
            "project": project,
            "chart": timeline_chart(
                nodes=nodes,
                d_day=project.d_day,
                now=now,
                war_room=project.war_room_window,
                units_per_day=ZOOMS[zoom][1],
            ),
            "nodes": nodes,
            "now": now,
            "zoom": zoom,
            "zooms": [(key, label) for key, (label, _units) in ZOOMS.items()],
            "replan": replan or ReplanForm(),
            "replanned": replanned,
            "can_manage": can_manage_project(request.user, project),
            "tab": "timeline",
        },
        status=status,
    )


@login_required
def timeline(request: HttpRequest, project_id: int) -> HttpResponse:
    return _timeline(request, project_id)


@require_POST
@login_required
def node_replan(request: HttpRequest, node_id: int) -> HttpResponse:
    """A new due date for one node, from the timeline's drag (or its dialog): the service asks
    for a reason when the project is baselined, and refuses a stale version."""
    node = get_object_or_404(Milestone.objects.visible_to(request.user), pk=node_id)
    form = ReplanForm(request.POST)
    back = reverse("web:timeline", args=[node.project_id])
    zoom = request.POST.get("zoom")
    if zoom in ZOOMS:
        back += f"?zoom={zoom}"
    status = 400
    if form.is_valid():
        try:
            milestone_update(
                milestone_id=node.pk,
                actor=request.user,
                data={"due_at": form.cleaned_data["due_at"]},
                expected_version=form.cleaned_data["version"],
                change_reason=form.cleaned_data["change_reason"],
                reason_code=form.cleaned_data.get("reason_code", ""),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except ConflictError:
            form.add_error(
                None, _("Someone else changed this node meanwhile: check and save again.")
            )
            status = 409
        except PermissionDeniedError as error:
            form.add_error(None, str(error))
            status = 403
        else:
            messages.success(request, _("“%(title)s” re-planned.") % {"title": node.title})
            return redirect(back)
    request.GET = request.GET.copy()
    if zoom in ZOOMS:
        request.GET["zoom"] = zoom
    return _timeline(request, node.project_id, replan=form, replanned=node, status=status)


@login_required
def audit(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's Audit tab: its baselines and its audit log (threshold, D-day, owner,
    status, baselines, node deletions), each with who, when, old → new and the reason."""
    project = get_project(request.user, project_id)
    return render(
        request,
        "web/audit.html",
        {
            "project": project,
            "entries": project_audit_log(project=project)[:500],
            "baselines": project_baselines(project=project),
            "can_manage": can_manage_project(request.user, project),
            "tab": "audit",
        },
    )
