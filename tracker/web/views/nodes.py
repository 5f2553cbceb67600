"""Node detail: description, dependencies both ways, alerts sent and the full history."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tracker.core.permissions import can_edit_milestone
from tracker.milestones.models import Milestone
from tracker.web.selectors import node_detail


@login_required
def node_detail_view(request: HttpRequest, node_id: int) -> HttpResponse:
    now = timezone.now()
    try:
        node = node_detail(milestone_id=node_id, user=request.user, now=now)
    except Milestone.DoesNotExist as exc:
        raise Http404 from exc
    return render(
        request,
        "web/node_detail.html",
        {
            "node": node,
            "project": node.project,
            "can_edit": can_edit_milestone(request.user, node),
            "now": now,
        },
    )
