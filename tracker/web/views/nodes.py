"""Node detail: description, dependencies both ways (editable), comments, alerts sent and the
full history; as a page, or as the side panel a card, the timeline or My work opens in place."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracker.core.errors import ConflictError, PermissionDeniedError
from tracker.core.permissions import can_comment, can_edit_milestone
from tracker.milestones.models import Comment, Milestone
from tracker.milestones.services import milestone_update
from tracker.notifications.comments import comment_delete, comment_post
from tracker.notifications.inbox import inbox_mark_read
from tracker.web.episodes import node_episodes
from tracker.web.selectors import dependency_choices, node_detail

PAGE = "web/node_detail.html"
PANEL = "web/_node_panel.html"
BODY = "web/_node_body.html"
COMMENTS = "web/_node_comments.html"


def _context(request: HttpRequest, node_id: int, **extra) -> dict:
    now = timezone.now()
    try:
        node = node_detail(milestone_id=node_id, user=request.user, now=now)
    except Milestone.DoesNotExist as exc:
        raise Http404 from exc
    can_edit = can_edit_milestone(request.user, node)
    context = {
        "node": node,
        "project": node.project,
        "can_edit": can_edit,
        "can_comment": can_comment(request.user, node),
        "now": now,
    }
    context.update(node_episodes(node=node, user=request.user))
    if can_edit:
        context["dependency_choices"] = dependency_choices(milestone=node)
        context["upstream_ids"] = {dep.pk for dep in node.depends_on.all()}
        context["leads"] = {
            dep.pk: dep.min_lead_days
            for dep in node.depends_on.all()
            if dep.min_lead_days is not None
        }
    return {**context, **extra}


@login_required
def node_detail_view(request: HttpRequest, node_id: int) -> HttpResponse:
    """The node; opened from an inbox item (`?inbox=ID`), that item is marked read, and the
    panel brings the bell's new count along (an out-of-band swap)."""
    template = PANEL if request.htmx else PAGE
    context = _context(request, node_id)
    item = request.GET.get("inbox", "")
    if item.isdigit() and inbox_mark_read(user=request.user, item_ids=[int(item)]):
        context["inbox_read"] = True
    return render(request, template, context)


LEAD_MAX = 365  # working days, as the API takes them


def _lead(request: HttpRequest, upstream: Milestone) -> int | None:
    """The minimum lead typed for the link to `upstream` (`lead-<id>`): blank is none, else a
    whole number of working days from 0 to LEAD_MAX (ValidationError naming the node)."""
    value = request.POST.get(f"lead-{upstream.pk}", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) > LEAD_MAX:
        raise ValidationError(
            {
                "depends_on": [
                    _(
                        "The minimum lead after “%(title)s” must be a whole number of working "
                        "days from 0 to %(max)d, or blank for none."
                    )
                    % {"title": upstream.title, "max": LEAD_MAX}
                ]
            }
        )
    return int(value)


@require_POST
@login_required
def node_dependencies_view(request: HttpRequest, node_id: int) -> HttpResponse:
    """Replace the nodes this one waits on, each with its optional minimum lead (working
    days), through `milestone_update` (its permission, version and cycle checks); a refusal
    says why and changes nothing."""
    context = _context(request, node_id)
    node = context["node"]
    ids = request.POST.getlist("depends_on")
    error: list[str] = []
    status = 200
    try:
        if not all(value.isdigit() for value in ids):
            raise ValidationError({"depends_on": [_("Choose nodes from the list.")]})
        upstream = list(Milestone.objects.filter(pk__in=[int(v) for v in ids]))
        if len(upstream) != len(set(ids)):
            raise ValidationError({"depends_on": [_("Some chosen nodes no longer exist.")]})
        version = request.POST.get("version", "")
        milestone_update(
            milestone_id=node.pk,
            actor=request.user,
            data={"dependencies": [(up, _lead(request, up)) for up in upstream]},
            expected_version=int(version) if version.isdigit() else None,
        )
    except ValidationError as exc:
        error = [m for messages in exc.message_dict.values() for m in messages]
        status = 400
    except ConflictError:
        error = [_("Someone else changed this node meanwhile: check and save again.")]
        status = 409
    except PermissionDeniedError as exc:
        error = [str(exc)]
        status = 403
    if not error and not request.htmx:
        return redirect("web:node_detail", node_id=node.pk)
    fresh = _context(request, node_id, dependency_error=error)
    if error:
        # Keep the person's choice (and the leads typed) on screen to correct it.
        fresh["upstream_ids"] = {int(v) for v in ids if v.isdigit()}
        fresh["leads"] = {
            int(name.removeprefix("lead-")): value
            for name, value in request.POST.items()
            if name.startswith("lead-") and name.removeprefix("lead-").isdigit()
        }
    return render(request, BODY if request.htmx else PAGE, fresh, status=status)


def _comments(request: HttpRequest, node_id: int, *, status: int = 200, **extra) -> HttpResponse:
    """The node's thread, as the panel shows it (htmx), or back to the node's page."""
    if not request.htmx and status == 200:
        return redirect("web:node_detail", node_id=node_id)
    context = _context(request, node_id, **extra)
    return render(request, COMMENTS if request.htmx else PAGE, context, status=status)


@require_POST
@login_required
def node_comment_post(request: HttpRequest, node_id: int) -> HttpResponse:
    """Post a comment through `comment_post` (it tells whom the comment names); a refusal
    keeps the text on screen with the reason."""
    body = request.POST.get("body", "")
    try:
        comment_post(actor=request.user, milestone_id=node_id, body=body)
    except Milestone.DoesNotExist as exc:
        raise Http404 from exc
    except ValidationError as exc:
        errors = [m for messages in exc.message_dict.values() for m in messages]
        return _comments(request, node_id, status=400, comment_error=errors, comment_body=body)
    except PermissionDeniedError as exc:
        return _comments(request, node_id, status=403, comment_error=[str(exc)], comment_body=body)
    return _comments(request, node_id)


@require_POST
@login_required
def node_comment_delete(request: HttpRequest, comment_id: int) -> HttpResponse:
    try:
        comment = comment_delete(actor=request.user, comment_id=comment_id)
    except Comment.DoesNotExist as exc:
        raise Http404 from exc
    return _comments(request, comment.milestone_id)
