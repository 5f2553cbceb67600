"""The timeline: one row per node, drawn as SVG on the server."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tracker.core.permissions import can_manage_project
from tracker.milestones.selectors import annotate_flags, milestone_queryset
from tracker.web.charts import timeline_chart
from tracker.web.views.common import get_project


@login_required
def timeline(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project(request.user, project_id)
    now = timezone.now()
    nodes = annotate_flags(
        list(milestone_queryset().filter(project=project).order_by("due_at", "position", "id")),
        now=now,
    )
    return render(
        request,
        "web/timeline.html",
        {
            "project": project,
            "chart": timeline_chart(
                nodes=nodes, d_day=project.d_day, now=now, war_room=project.war_room_window
            ),
            "nodes": nodes,
            "now": now,
            "can_manage": can_manage_project(request.user, project),
            "tab": "timeline",
        },
    )
