"""The board: departments as lanes, statuses as columns, cards edited in place with htmx.

Every edit goes through `milestone_update` with the version the user saw, so a card changed by
someone else is never overwritten silently: the answer is 409 with the current values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tracker.accounts.models import Department
from tracker.accounts.services import lane_collapse_set
from tracker.core.errors import ConflictError, PermissionDeniedError
from tracker.core.forms import add_service_errors
from tracker.core.permissions import (
    authorize,
    can_create_milestone,
    can_edit_milestone,
    can_manage_project,
)
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.milestones.selectors import (
    annotate_flags,
    board_stamp,
    due_date_warnings,
    forecast_days_late,
    milestone_queryset,
    project_nodes,
)
from tracker.milestones.services import (
    milestone_bulk_update,
    milestone_create,
    milestone_update,
)
from tracker.web.cards import CARD_TEMPLATE, Card, card_for, render_cards
from tracker.web.forms import (
    DATETIME_FORMAT,
    BoardFilterForm,
    BulkEditForm,
    MilestoneCreateForm,
    MilestoneEditForm,
    MoveForm,
    NodeListFilterForm,
)
from tracker.web.selectors import (
    CardNode,
    assignee_choices,
    bulk_assignee_choices,
    project_assignees,
)
from tracker.web.selectors import board as board_lanes
from tracker.web.templatetags.milepost import status_symbol
from tracker.web.views.common import get_project, request_person

BOARD = "web/board.html"


def _columns() -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in MilestoneStatus.choices]


def _card_labels() -> dict[str, str]:
    """The words every card repeats, translated once per page rather than once per card."""
    return {
        "conflict": _("Conflict"),
        "overdue": _("Overdue"),
        "at_risk": _("At risk"),
        "at_risk_help": _("Forecast to finish after its due date"),
        "slip_help": _("Current due date against the baseline"),
        "vs_baseline": _("vs baseline"),
        "deps_help": _("Nodes this one depends on"),
        "assignee": _("Assignee"),
        "unassigned": _("Unassigned"),
        "due": _("Due"),
        "done": _("Done"),
        "edit": _("Edit"),
        "move": _("Move"),
    }


def _lane_url(name: str, project_id: int) -> Callable[[int], str]:
    """A lane's URL (`name` takes the project and the department) for any department, from
    one `reverse()` per board rather than one per lane."""
    head, _sep, tail = reverse(name, args=[project_id, 1]).rpartition("/1/")
    return lambda department_id: f"{head}/{department_id}/{tail}"


class CardDecorator:
    """A node as its card (`Card`), with what it shows beyond the node itself: whether the
    user may edit it, its URL and its Move choices. URLs are built from one reversed prefix,
    not reversed per card."""

    def __init__(self, user: Any, *, now: datetime | None = None) -> None:
        self.user = user
        self.now = now or timezone.now()
        self.zone = timezone.get_current_timezone()
        self.language = get_language()
        self.prefix = reverse("web:node_detail", args=[0]).removesuffix("0/")
        columns = _columns()
        self.choices = {
            status: [
                (value, f"{status_symbol(value)} {label}")
                for value, label in columns
                if value != status
            ]
            for status, _label in columns
        }

    def __call__(self, node: CardNode | Milestone) -> Card:
        return card_for(
            node,
            can_edit=can_edit_milestone(self.user, node),
            url=f"{self.prefix}{node.pk}/",
            move_choices=self.choices[node.status],
            now=self.now,
            zone=self.zone,
            language=self.language,
        )


@require_POST
@login_required
def lane_collapse(request: HttpRequest, project_id: int, department_id: int) -> HttpResponse:
    """Fold (`collapsed=1`) or unfold a lane, for this person on every board; the board's
    script posts it in the background (204), a plain form gets the board back."""
    project = get_project(request.user, project_id)
    department = get_object_or_404(Department, pk=department_id)
    lane_collapse_set(
        user=request.user,
        department_id=department.pk,
        collapsed=request.POST.get("collapsed") == "1",
    )
    if request.headers.get("X-Requested-With") == "fetch":
        return HttpResponse(status=204)
    return redirect(reverse("web:board", args=[project.pk]) + f"#lane-{department.pk}")


@require_GET
@login_required
def board_stamp_view(request: HttpRequest, project_id: int) -> JsonResponse:
    """The board's version stamp, polled every few seconds by an open board (a cheap
    aggregate; the cards are fetched only when it changes)."""
    project = get_project(request.user, project_id)
    response = JsonResponse({"stamp": board_stamp(project_id=project.pk)})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def node_bulk_edit(request: HttpRequest, project_id: int) -> HttpResponse:
    """One change for the nodes ticked in the list, node by node through the services; all
    or nothing, and a refusal names the node it stopped at."""
    project = get_project(request.user, project_id)
    form = BulkEditForm(
        request.POST,
        nodes=Milestone.objects.filter(project=project).only("id", "title"),
        assignees=bulk_assignee_choices(project=project),
    )
    back = reverse("web:node_list", args=[project.pk])
    if form.is_valid():
        try:
            changed = milestone_bulk_update(
                project_id=project.pk,
                milestone_ids=form.cleaned_data["ids"],
                actor=request.user,
                change_reason=form.cleaned_data["change_reason"],
                reason_code=form.cleaned_data.get("reason_code", ""),
                **form.change(),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDeniedError as error:
            form.add_error(None, str(error))
            return node_list(request, project_id, bulk=form, status=403)
        else:
            messages.success(
                request,
                ngettext("%(count)d node changed.", "%(count)d nodes changed.", len(changed))
                % {"count": len(changed)},
            )
            return redirect(back + "?" + request.GET.urlencode() if request.GET else back)
    return node_list(request, project_id, bulk=form, status=400)


@login_required
def node_list(
    request: HttpRequest,
    project_id: int,
    bulk: BulkEditForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The board's nodes as one sortable table, under the same filters, with a bulk change
    for the ticked ones."""
    project = get_project(request.user, project_id)
    filters = NodeListFilterForm(
        request.GET or None,
        departments=Department.objects.order_by("name"),
        assignees=project_assignees(project=project),
    )
    context = {
        "project": project,
        "filters": filters,
        "tab": "list",
        "can_manage": can_manage_project(request.user, project),
    }
    if filters.is_bound and not filters.is_valid():
        return render(request, "web/node_list.html", context, status=400)
    options = filters.cleaned_data if filters.is_bound else {}
    order = options.get("sort") or "due_at"
    nodes = list(
        project_nodes(
            project=project,
            department_codes=[options.get("department") or ""],
            assignee_username=options.get("assignee") or None,
            overdue_only=bool(options.get("overdue")),
            at_risk_only=bool(options.get("at_risk")),
            order=order,
        )
    )
    query = request.GET.copy()
    query.pop("sort", None)
    if bulk is None:
        bulk = BulkEditForm(nodes=nodes, assignees=bulk_assignee_choices(project=project))
    context.update(
        {
            "nodes": nodes,
            "bulk": bulk,
            "ticked": set(request.POST.getlist("ids")),
            "order": order,
            "sort_columns": [
                (key, label, f"-{key}" if order == key else key)
                for key, label in NodeListFilterForm.SORT_COLUMNS
            ],
            "filter_query": query.urlencode(),
            "filtered": any(v for k, v in options.items() if k != "sort"),
        }
    )
    return render(request, "web/node_list.html", context, status=status)


@login_required
def board(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project(request.user, project_id)
    now = timezone.now()
    departments = list(Department.objects.order_by("name"))
    filters = BoardFilterForm(
        request.GET or None,
        departments=departments,
        assignees=project_assignees(project=project),
    )
    options = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    lanes = board_lanes(
        project=project,
        department_codes=[options.get("department") or ""],
        assignee_username=options.get("assignee") or None,
        overdue_only=bool(options.get("overdue")),
        at_risk_only=bool(options.get("at_risk")),
        now=now,
        departments=departments,
    )
    user = request_person(request)
    columns = _columns()
    decorate = CardDecorator(user, now=now)
    labels = _card_labels()
    csrf_token = get_token(request)
    card_count = 0
    collapsed = set(user.collapsed_lanes.values_list("id", flat=True))
    collapse_url = _lane_url("web:lane_collapse", project.pk)
    add_url = _lane_url("web:node_add", project.pk)
    fold, unfold = _("Fold this lane"), _("Unfold this lane")
    for lane in lanes:
        department_id = lane.department.pk
        lane.can_add = can_create_milestone(user, project, department_id)
        lane.collapsed = department_id in collapsed
        lane.collapse_url = collapse_url(department_id)
        lane.add_url = add_url(department_id)
        lane.toggle_title = unfold if lane.collapsed else fold
        lane.count_text = ngettext("%(counter)s node", "%(counter)s nodes", lane.count) % {
            "counter": lane.count
        }
        lane.column_list = [
            (
                value,
                label,
                len(lane.columns[value]),
                render_cards(
                    [decorate(node) for node in lane.columns[value]],
                    labels=labels,
                    csrf_token=csrf_token,
                ),
            )
            for value, label in columns
        ]
        card_count += lane.count
    return render(
        request,
        BOARD,
        {
            "project": project,
            "lanes": lanes,
            "labels": labels,
            "filters": filters,
            "filtered": bool(options and any(options.values())),
            "card_count": card_count,
            "columns": columns,
            "stamp": board_stamp(project_id=project.pk),
            "can_manage": can_manage_project(user, project),
            "now": now,
            "tab": "board",
        },
    )


def _card_node(node_id: int, *, user: Any, now: datetime | None = None) -> Milestone:
    """One node with the flags the board would have given it."""
    node = get_object_or_404(
        milestone_queryset().visible_to(user, include_archived=True), pk=node_id
    )
    annotate_flags([node], now=now)
    forecast_days_late([node])
    node.dependency_count = len(node.upstream_links.all())
    node.assignee_name = str(node.assignee) if node.assignee_id else ""
    return node


def _card(
    request: HttpRequest, node: Milestone, *, status: int = 200, **extra: Any
) -> HttpResponse:
    card = CardDecorator(request.user)(node)
    context = {"card": card, "labels": _card_labels(), **extra}
    return render(request, CARD_TEMPLATE, context, status=status)


def _not_htmx(request: HttpRequest, node: Milestone, message: str, *, ok: bool) -> HttpResponse:
    """Without JavaScript the forms post normally; answer with the board and a message."""
    (messages.success if ok else messages.error)(request, message)
    return redirect("web:board", project_id=node.project_id)


@login_required
@require_GET
def card(request: HttpRequest, node_id: int) -> HttpResponse:
    """The card as the board shows it (used by Cancel in the inline editor)."""
    return _card(request, _card_node(node_id, user=request.user))


@login_required
@require_POST
def card_move(request: HttpRequest, node_id: int) -> HttpResponse:
    """Drag and drop, or the card's Move menu: change the status only."""
    node = _card_node(node_id, user=request.user)
    form = MoveForm(request.POST)
    if not form.is_valid():
        message = _("Choose one of the board's columns.")
        if not request.htmx:
            return _not_htmx(request, node, message, ok=False)
        return _card(request, node, status=422, error=message)
    status = form.cleaned_data["status"]
    try:
        milestone_update(
            milestone_id=node.pk,
            actor=request.user,
            data={"status": status},
            expected_version=form.cleaned_data["version"],
        )
    except ConflictError:
        node = _card_node(node_id, user=request.user)
        message = _(
            "Not moved: someone else changed this node since you loaded the board. "
            "The card now shows the current values."
        )
        if not request.htmx:
            return _not_htmx(request, node, message, ok=False)
        return _card(request, node, status=409, conflict=message)
    except ValidationError as error:
        message = " ".join(error.messages)
        if not request.htmx:
            return _not_htmx(request, node, message, ok=False)
        return _card(request, node, status=422, error=message)
    node = _card_node(node_id, user=request.user)
    if not request.htmx:
        return _not_htmx(
            request,
            node,
            _("“%(title)s” moved to %(status)s.")
            % {"title": node.title, "status": node.get_status_display()},
            ok=True,
        )
    return _card(request, node, moved=True)


def _edit_form(node: Milestone, data: Any = None) -> MilestoneEditForm:
    return MilestoneEditForm(
        data,
        initial=MilestoneEditForm.initial_for(node),
        assignees=assignee_choices(milestone=node, department=node.department),
        baselined=node.project.baselined_at is not None,
    )


def _as_data(value: Any) -> str:
    """A value as the edit form posts it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime(DATETIME_FORMAT)
    if isinstance(value, Model):
        return str(value.pk)
    return str(value)


def _display(node: Milestone, name: str, value: Any) -> str:
    """A value as a person reads it in the conflict box."""
    if value is None or value == "":
        return "—"
    if name == "status":
        return str(MilestoneStatus(value).label)
    if name == "assignee":
        return str(value) if isinstance(value, Model) else str(node.assignee or "—")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def _conflict(posted: MilestoneEditForm, current: Milestone) -> tuple[MilestoneEditForm, list]:
    """Re-open the editor on the current version: the user's changes stay in the fields, every
    other field shows the current value, and a table compares the two."""
    mine = posted.changes()
    now_values = {
        "title": current.title,
        "assignee": current.assignee,
        "due_at": current.due_at,
        "status": current.status,
        "completed_at": current.completed_at,
    }
    data = {
        "change_reason": posted.cleaned_data.get("change_reason", ""),
        "reason_code": posted.cleaned_data.get("reason_code", ""),
        "version": str(current.version),
    }
    rows = []
    for name in MilestoneEditForm.EDITABLE:
        data[name] = _as_data(mine[name] if name in mine else now_values[name])
        data[f"initial-{name}"] = _as_data(now_values[name])
        rows.append(
            {
                "label": posted.fields[name].label,
                "current": _display(current, name, now_values[name]),
                "yours": _display(current, name, mine[name]) if name in mine else None,
                "differs": name in mine and _as_data(mine[name]) != _as_data(now_values[name]),
            }
        )
    return _edit_form(current, data), rows


@login_required
def card_edit(request: HttpRequest, node_id: int) -> HttpResponse:
    node = _card_node(node_id, user=request.user)
    authorize(request.user, can_edit_milestone, node)  # the editor is offered only to editors
    template = f"{BOARD}#card-edit"
    if request.method != "POST":
        loaded = request.GET.get("version", "")
        stale = loaded.isdigit() and int(loaded) != node.version
        return render(request, template, {"node": node, "form": _edit_form(node), "stale": stale})

    form = _edit_form(node, request.POST)
    if not form.is_valid():
        return render(request, template, {"node": node, "form": form}, status=422)
    changes = form.changes()
    if changes:
        try:
            milestone_update(
                milestone_id=node.pk,
                actor=request.user,
                data=changes,
                expected_version=form.cleaned_data["version"],
                change_reason=form.cleaned_data["change_reason"],
                reason_code=form.cleaned_data.get("reason_code", ""),
            )
        except ConflictError:
            current = _card_node(node_id, user=request.user)
            if not request.htmx:
                return _not_htmx(
                    request, current, _("Not saved: someone else changed this node."), ok=False
                )
            conflict_form, rows = _conflict(form, current)
            return render(
                request,
                template,
                {"node": current, "form": conflict_form, "conflict_rows": rows},
                status=409,
            )
        except ValidationError as error:
            add_service_errors(form, error)
            return render(request, template, {"node": node, "form": form}, status=422)
    node = _card_node(node_id, user=request.user)
    warnings = (
        due_date_warnings(due_at=node.due_at, project=node.project) if "due_at" in changes else []
    )
    if not request.htmx:
        for warning in warnings:
            messages.warning(request, warning)
        return _not_htmx(request, node, _("“%(title)s” is saved.") % {"title": node.title}, ok=True)
    return _card(request, node, saved=bool(changes), warnings=warnings)


@login_required
def node_add(request: HttpRequest, project_id: int, department_id: int) -> HttpResponse:
    """Add a node in a lane: GET opens the form in the lane's To do column, POST creates it."""
    project = get_project(request.user, project_id)
    department = get_object_or_404(Department, pk=department_id)
    authorize(request.user, can_create_milestone, project, department.pk)  # the form, too
    template = f"{BOARD}#node-add"
    lane = {
        "department": department,
        "can_add": True,
        "add_url": reverse("web:node_add", args=[project.pk, department.pk]),
    }
    context = {"project": project, "lane": lane, "labels": _card_labels()}
    assignees = assignee_choices(milestone=None, department=department)
    if request.method != "POST":
        if request.GET.get("cancel"):
            return render(request, template, context)
        return render(
            request,
            template,
            {**context, "form": MilestoneCreateForm(assignees=assignees)},
        )
    form = MilestoneCreateForm(request.POST, assignees=assignees)
    if not form.is_valid():
        return render(request, template, {**context, "form": form}, status=422)
    data = form.cleaned_data
    try:
        node = milestone_create(
            project=project,
            actor=request.user,
            title=data["title"],
            department=department,
            due_at=data["due_at"],
            description=data["description"],
            assignee=data["assignee"],
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return render(request, template, {**context, "form": form}, status=422)
    node = _card_node(node.pk, user=request.user)
    if not request.htmx:
        return _not_htmx(request, node, _("“%(title)s” is added.") % {"title": node.title}, ok=True)
    return render(request, template, {**context, "created": CardDecorator(request.user)(node)})
