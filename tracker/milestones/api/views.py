"""Milestones over REST, with optimistic concurrency: GET gives an ETag built from `version`;
PATCH, PUT and DELETE must send it back in If-Match (428 without it, 412 when the node changed
since; nothing is written either way). Every write answers in one order,
401 → 403 → 404 → 428 → 412 → 409 → 400: the caller (permission class), the node (lookup),
the right to write it (the service's check), the precondition, then the body and the service."""

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tracker.core.api.filters import FilterBackend
from tracker.core.api.pagination import ValuesPage
from tracker.core.api.preconditions import IF_MATCH_PATTERN, etag_for, required_version
from tracker.core.api.views import ChecksWriteFirst
from tracker.core.permissions import read_scope
from tracker.milestones.api.filters import MilestoneFilter
from tracker.milestones.api.serializers import (
    AcknowledgeSerializer,
    DeviationReasonSerializer,
    EpisodeSerializer,
    MilestoneChangeSerializer,
    MilestoneListSerializer,
    MilestoneSerializer,
    MilestoneWriteSerializer,
    PromiseSerializer,
)
from tracker.milestones.episodes import (
    episode_acknowledge,
    episode_authorize_acknowledge,
    episode_open_or_conflict,
    episodes_of,
)
from tracker.milestones.models import DeviationReason, Milestone
from tracker.milestones.selectors import due_date_warnings, milestone_queryset
from tracker.milestones.services import (
    milestone_authorize_create_any,
    milestone_authorize_delete,
    milestone_authorize_edit,
    milestone_create,
    milestone_delete,
    milestone_update,
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": IF_MATCH_PATTERN},
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag of your last read (e.g. "3"). Without it: 428; when the node '
    "changed since: 412, with its current version.",
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The node\'s version as an entity tag ("3", or W/"3" when compressed): send it '
    "back in If-Match to change or delete the node.",
)


@extend_schema_view(
    retrieve=extend_schema(parameters=[ETAG]),
    partial_update=extend_schema(parameters=[IF_MATCH, ETAG], request=MilestoneWriteSerializer),
    update=extend_schema(parameters=[IF_MATCH, ETAG], request=MilestoneWriteSerializer),
    destroy=extend_schema(parameters=[IF_MATCH]),
    create=extend_schema(parameters=[ETAG], request=MilestoneWriteSerializer),
    list=extend_schema(responses=MilestoneSerializer(many=True)),  # what the lean rows are
)
class MilestoneViewSet(
    ChecksWriteFirst,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Nodes of every project (a list leaves archived projects' nodes out unless `project` or
    `archived=true` asks for them). Writes follow the permission rules: staff and the
    project's owner edit everything, a department lead edits the department's nodes, an
    assignee edits their own."""

    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    conflict_actions = {"destroy", "acknowledge"}  # deleting: its state; acknowledging: not late

    def get_serializer_class(self):
        return MilestoneListSerializer if self.action == "list" else MilestoneSerializer

    def _include_archived(self) -> bool:
        params = self.request.query_params
        return (
            self.action != "list"
            or bool(params.get("project"))
            or params.get("archived") in {"true", "1"}
        )

    def _queryset_at(self, at) -> QuerySet[Milestone]:
        # `is_overdue`/`is_at_risk` come from the queryset's rules; the `overdue` filter reads
        # the same column, so the flag and the filter always agree.
        listing = self.action == "list"
        return (
            (Milestone.objects.all() if listing else milestone_queryset())
            .visible_to(self.request.user, include_archived=self._include_archived())
            .with_flags(at)
            .order_by("due_at", "id")
        )

    def get_queryset(self):
        return self._queryset_at(timezone.now())

    def list(self, request, *args, **kwargs):
        """The list's rows are plain values of only what they show (MilestoneListSerializer);
        the count is of the filtered nodes alone (ValuesPage). A page that names no filter is
        one shape per reader's scope (`read_scope`'s `Q`, which says all a reader's list
        depends on besides `now`): its SQL is compiled once per process (`SqlTemplate`)."""
        filtered = any(
            backend is not FilterBackend
            or FilterBackend.names_a_filter(request, self.filterset_class)
            for backend in self.filter_backends
        )
        if filtered:
            queryset = self.filter_queryset(self.get_queryset())
            rows = ValuesPage(lambda _at: queryset, MilestoneListSerializer.ROW, at=None)
        else:
            scope = read_scope(
                request.user, include_archived=self._include_archived(), project="project__"
            )
            rows = ValuesPage(
                self._queryset_at,
                MilestoneListSerializer.ROW,
                at=timezone.now(),
                shape=None if scope is None else ("milestone-list", scope),
            )
        page = self.paginate_queryset(rows)
        if page is None:
            return Response(self.get_serializer(rows[:], many=True).data)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def check_create(self) -> None:
        milestone_authorize_create_any(actor=self.request.user)

    def check_write(self, obj: Milestone) -> None:
        if self.action == "destroy":
            milestone_authorize_delete(milestone=obj, actor=self.request.user)
        else:
            milestone_authorize_edit(milestone=obj, actor=self.request.user)

    def _respond(
        self, milestone: Milestone, status_code=status.HTTP_200_OK, *, due_set: bool = False
    ) -> Response:
        milestone = milestone_queryset().with_flags(timezone.now()).get(pk=milestone.pk)
        context = self.get_serializer_context()
        if due_set:
            context["warnings"] = due_date_warnings(
                due_at=milestone.due_at, project=milestone.project
            )
        response = Response(
            self.get_serializer_class()(milestone, context=context).data, status=status_code
        )
        response["ETag"] = etag_for(milestone.version)
        return response

    def retrieve(self, request, *args, **kwargs):
        return self._respond(self.get_object())

    def create(self, request, *args, **kwargs):
        self.check_create()
        serializer = MilestoneWriteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        project = data.pop("project")
        milestone = milestone_create(
            project=project,
            actor=request.user,
            reason=data.pop("change_reason", ""),
            reason_code=data.pop("reason_code", ""),
            **data,
        )
        return self._respond(milestone, status.HTTP_201_CREATED, due_set=True)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        milestone = self.get_object()  # 404, then 403 (check_write)
        version = required_version(request, current=milestone.version)
        serializer = MilestoneWriteSerializer(
            milestone, data=request.data, partial=partial, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("project", None)
        reason = data.pop("change_reason", "")
        reason_code = data.pop("reason_code", "")
        milestone = milestone_update(
            milestone_id=milestone.pk,
            actor=request.user,
            data=data,
            expected_version=version,
            change_reason=reason,
            reason_code=reason_code,
        )
        return self._respond(milestone, due_set="due_at" in data)

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        milestone = self.get_object()  # 404, then 403 (check_write)
        version = required_version(request, current=milestone.version)
        milestone_delete(milestone_id=milestone.pk, actor=request.user, expected_version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=MilestoneChangeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every change to the node: field, old and new value, who, when and why."""
        milestone = self.get_object()
        queryset = milestone.changes.select_related("actor").order_by("-created_at", "-id")
        page = self.paginator.paginate_queryset(queryset, request, view=self)
        return self.get_paginated_response(MilestoneChangeSerializer(page, many=True).data)

    @extend_schema(
        request=AcknowledgeSerializer,
        responses={201: PromiseSerializer},
        description="Acknowledge the node's lateness episode with a new promised time, a "
        "reason code and a note (the assignee or the department lead). Nudges pause and the "
        "escalation ladder holds until the promise; neither the due date nor the baseline "
        "changes. 409 when the node is not late. No If-Match: the node itself is not written.",
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        milestone = self.get_object()  # 404
        episode_authorize_acknowledge(milestone=milestone, actor=request.user)  # 403
        episode_open_or_conflict(milestone=milestone)  # 409
        serializer = AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)  # 400
        promise = episode_acknowledge(
            milestone_id=milestone.pk, actor=request.user, **serializer.validated_data
        )
        return Response(PromiseSerializer(promise).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=EpisodeSerializer(many=True))
    @action(detail=True, methods=["get"])
    def episodes(self, request, pk=None):
        """The node's lateness episodes, newest first: start, end, the rungs reached, the
        promises (with their outcome) and the snoozes."""
        milestone = self.get_object()
        page = self.paginator.paginate_queryset(
            episodes_of(milestone=milestone), request, view=self
        )
        return self.get_paginated_response(EpisodeSerializer(page, many=True).data)


class DeviationReasonViewSet(viewsets.ReadOnlyModelViewSet):
    """The deviation reasons (active ones), for the `reason_code` of writes that need one."""

    serializer_class = DeviationReasonSerializer
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    pagination_class = None

    def get_queryset(self):
        return DeviationReason.objects.active()
