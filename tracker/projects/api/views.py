from django.db.models import Count
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tracker.core.api.views import ChecksWriteFirst
from tracker.milestones.forecast import project_schedule
from tracker.milestones.models import MilestoneStatus
from tracker.milestones.selectors import project_board
from tracker.projects.api.serializers import (
    AuditEntrySerializer,
    BaselineSerializer,
    BoardSerializer,
    ForecastSerializer,
    ProjectSerializer,
    RebaselineSerializer,
    TemplateSerializer,
)
from tracker.projects.models import Project, ProjectStatus, ProjectTemplate
from tracker.projects.selectors import project_audit_log, project_baselines
from tracker.projects.services import (
    project_authorize_manage,
    project_baseline,
    project_create,
    project_delete,
    project_rebaseline,
    project_update,
    template_authorize_write,
    template_delete,
    template_save,
)


class TemplateViewSet(ChecksWriteFirst, viewsets.ModelViewSet):
    """Campaign and launch templates: nodes scheduled back from the D-day. Staff edit them."""

    queryset = ProjectTemplate.objects.prefetch_related("nodes").order_by("name")
    serializer_class = TemplateSerializer
    filterset_fields = ["kind", "code"]

    def check_create(self) -> None:
        template_authorize_write(actor=self.request.user)

    def check_write(self, obj: ProjectTemplate) -> None:
        template_authorize_write(actor=self.request.user)

    def _save(self, serializer, template=None):
        data = serializer.validated_data
        nodes = data.get("nodes")
        serializer.instance = template_save(
            actor=self.request.user,
            template=template,
            code=data.get("code", template.code if template else ""),
            name=data.get("name", template.name if template else ""),
            kind=data.get("kind", template.kind if template else ""),
            description=data.get("description", template.description if template else ""),
            offset_unit=data.get("offset_unit"),
            roll_rule=data.get("roll_rule"),
            nodes=None
            if nodes is None
            else [
                {
                    **node,
                    "department": node["department_code"],
                    "time": node["time_of_day"].isoformat(timespec="minutes"),
                }
                for node in nodes
            ],
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, template=serializer.instance)

    def perform_destroy(self, instance):
        template_delete(template=instance, actor=self.request.user)


class ProjectViewSet(ChecksWriteFirst, viewsets.ModelViewSet):
    """Campaigns and launches. Any signed-in user creates one (and owns it); the owner and
    staff change it. A new `d_day` (with `change_reason`) re-anchors every open node. The
    list leaves archived projects out unless `status=archived` or `archived=true` asks."""

    serializer_class = ProjectSerializer
    filterset_fields = ["kind", "status", "owner__username"]

    # Anyone signed in creates a project (whether for another owner depends on the body).
    def check_write(self, obj: Project) -> None:
        project_authorize_manage(project=obj, actor=self.request.user)

    def get_queryset(self):
        return (
            Project.objects.visible_to(
                self.request.user,
                # A list leaves archived projects out unless asked for; naming one is asking.
                include_archived=self.action != "list"
                or self.request.query_params.get("status") == ProjectStatus.ARCHIVED
                or self.request.query_params.get("archived") in {"true", "1"},
            )
            .select_related("owner", "template")
            .annotate(milestone_count=Count("milestones"))
            .order_by("d_day", "name")
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("change_reason", None)
        data.pop("reason_code", None)
        owner = data.pop("owner", None) or self.request.user
        project = project_create(actor=self.request.user, owner=owner, **data)
        serializer.instance = self.get_queryset().get(pk=project.pk)  # with milestone_count

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        reason_code = data.pop("reason_code", "")
        project = project_update(
            project=serializer.instance,
            actor=self.request.user,
            data=data,
            change_reason=reason,
            reason_code=reason_code,
        )
        serializer.instance = self.get_queryset().get(pk=project.pk)  # with milestone_count

    def perform_destroy(self, instance):
        project_delete(project=instance, actor=self.request.user)

    @extend_schema(request=None, responses=ProjectSerializer)
    @action(detail=True, methods=["post"])
    def baseline(self, request, pk=None):
        """Lock the plan: copy every node's due date into its baseline (once)."""
        project = self.get_object()
        project_baseline(project=project, actor=request.user)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=project.pk)).data,
            status=status.HTTP_200_OK,
        )

    @extend_schema(request=RebaselineSerializer, responses=BaselineSerializer)
    @action(detail=True, methods=["post"])
    def rebaseline(self, request, pk=None):
        """Take a new baseline (owner or staff, with a reason code); earlier ones are kept."""
        project = self.get_object()
        body = RebaselineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        baseline = project_rebaseline(
            project=project,
            actor=request.user,
            reason_code=body.validated_data.get("reason_code", ""),
            change_reason=body.validated_data.get("change_reason", ""),
        )
        return Response(BaselineSerializer(baseline).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=BaselineSerializer(many=True))
    @action(detail=True, methods=["get"])
    def baselines(self, request, pk=None):
        """Every baseline of the project, the first one first; `in_force` marks the current."""
        project = self.get_object()
        baselines = project_baselines(project=project)
        return Response(BaselineSerializer(baselines, many=True).data)

    @extend_schema(responses=AuditEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The project's audit log, newest first: threshold, D-day, owner, status, baselines,
        node deletions (who, when, old → new, reason)."""
        project = self.get_object()
        queryset = project_audit_log(project=project)
        page = self.paginator.paginate_queryset(queryset, request, view=self)
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)

    @extend_schema(responses=BoardSerializer)
    @action(detail=True, methods=["get"])
    def board(self, request, pk=None):
        """The board: nodes grouped by department (lanes) and status (columns)."""
        project = self.get_object()
        lanes = project_board(
            project=project,
            department_codes=request.query_params.getlist("department"),
            assignee_username=request.query_params.get("assignee") or None,
            overdue_only=request.query_params.get("overdue") in {"true", "1"},
            at_risk_only=request.query_params.get("at_risk") in {"true", "1"},
        )
        data = {"project": project.pk, "statuses": MilestoneStatus.values, "lanes": lanes}
        return Response(BoardSerializer(data, context={"request": request}).data)

    @extend_schema(responses=ForecastSerializer)
    @action(detail=True, methods=["get"])
    def forecast(self, request, pk=None):
        """Each node's forecast, float and the critical path, computed now (docs/forecast.md).
        Cancelled nodes have no forecast and are left out."""
        project = self.get_object()
        now = timezone.now()
        schedule = project_schedule(project=project, now=now)
        data = {
            "project": project.pk,
            "computed_at": now,
            "d_day": project.d_day,
            "d_day_float_days": schedule.d_day_float_days,
            "critical_path": schedule.critical_path,
            "nodes": [{"id": pk, **vars(node)} for pk, node in sorted(schedule.nodes.items())],
        }
        return Response(ForecastSerializer(data).data)
