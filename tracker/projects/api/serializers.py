from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker.accounts.models import AuditEntry, User
from tracker.core.api.fields import AwareDateTimeField, CodeOrIdRelatedField, SlugRelatedField
from tracker.milestones.api.serializers import MilestoneSerializer
from tracker.projects.models import (
    Project,
    ProjectBaseline,
    ProjectKind,
    ProjectStatus,
    ProjectTemplate,
)
from tracker.projects.services import project_status_check


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "18:00"}
)
class TimeOfDayField(serializers.TimeField):
    """A time of day as "HH:MM" (the schema's `format: time` would demand seconds and a zone)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class TemplateNodeSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=60)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    department = serializers.SlugField(source="department_code", max_length=40)
    offset_days = serializers.IntegerField(min_value=-3650, max_value=3650)
    time = TimeOfDayField(source="time_of_day")
    depends_on = serializers.ListField(child=serializers.SlugField(), required=False, default=list)

    def validate(self, attrs):
        # A PATCH replaces the whole node list, so each node is complete even then (DRF would
        # let a partial request skip its missing fields).
        missing = {
            name: [field.error_messages["required"]]
            for name, field in self.fields.items()
            if field.required and not field.read_only and field.source not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class TemplateSerializer(serializers.ModelSerializer):
    nodes = TemplateNodeSerializer(many=True)

    class Meta:
        model = ProjectTemplate
        fields = ["id", "code", "name", "kind", "description", "offset_unit", "roll_rule", "nodes"]

    def validate_nodes(self, nodes):
        if not nodes:
            raise serializers.ValidationError("A template needs at least one node.")
        return nodes


class ProjectSerializer(serializers.ModelSerializer):
    owner = SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), required=False
    )
    d_day = AwareDateTimeField()
    template = CodeOrIdRelatedField(
        queryset=ProjectTemplate.objects.all(),
        required=False,
        allow_null=True,
        help_text="On create: a template id or code whose nodes are scheduled back from d_day.",
    )
    change_reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="Why the D-day moves (required when d_day changes).",
    )
    reason_code = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="A deviation reason code; required to move a baselined project's D-day.",
    )
    escalation_contact = SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="The ladder's last rung (a username); null: the organisation's.",
    )
    milestone_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "kind",
            "d_day",
            "owner",
            "status",
            "deviation_threshold",
            "baselined_at",
            "baseline_number",
            "due_soon_window",
            "escalate_after",
            "escalate_owner_after",
            "escalate_contact_after",
            "nudge_every",
            "escalation_contact",
            "working_hours",
            "war_room",
            "war_room_days_before",
            "war_room_days_after",
            "template",
            "change_reason",
            "reason_code",
            "milestone_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["baselined_at", "baseline_number", "created_at", "updated_at"]

    def validate_status(self, value: str) -> str:
        """A change of status follows `project_status_check` (a 400 naming the statuses the
        project may move to); a new project may start in any status."""
        if self.instance is not None:
            try:
                project_status_check(project=self.instance, new_status=value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.message_dict["status"]) from error
        return value

    def validate(self, attrs):
        if self.instance is not None and "template" in attrs:
            raise serializers.ValidationError(
                {"template": "A template applies only when the project is created."}
            )
        if self.instance is not None and "kind" in attrs and attrs["kind"] != self.instance.kind:
            raise serializers.ValidationError({"kind": "A project's kind cannot change."})
        return attrs


class RebaselineSerializer(serializers.Serializer):
    reason_code = serializers.CharField(max_length=40, allow_blank=True, required=False)
    change_reason = serializers.CharField(
        max_length=1000, allow_blank=True, required=False, help_text="Required with `other`."
    )


class BaselineSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = ProjectBaseline
        fields = [
            "number",
            "taken_at",
            "actor",
            "reason_code",
            "reason",
            "node_count",
            "in_force",
        ]

    def get_in_force(self, baseline) -> bool:
        return baseline.number == baseline.project.baseline_number


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "created_at",
            "actor",
            "subject",
            "field",
            "old_value",
            "new_value",
            "reason_code",
            "reason",
        ]


class BoardColumnsSerializer(serializers.Serializer):
    todo = MilestoneSerializer(many=True)
    in_progress = MilestoneSerializer(many=True)
    blocked = MilestoneSerializer(many=True)
    done = MilestoneSerializer(many=True)
    cancelled = MilestoneSerializer(many=True)


class BoardLaneSerializer(serializers.Serializer):
    department = serializers.SerializerMethodField()
    count = serializers.IntegerField()
    columns = BoardColumnsSerializer()

    def get_department(self, lane) -> dict:
        return {"code": lane.department.code, "name": lane.department.name}


class BoardSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    statuses = serializers.ListField(child=serializers.CharField())
    lanes = BoardLaneSerializer(many=True)


__all__ = [
    "BoardSerializer",
    "ProjectKind",
    "ProjectSerializer",
    "ProjectStatus",
    "TemplateSerializer",
]


class NodeForecastSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    forecast_at = AwareDateTimeField()
    float_days = serializers.IntegerField(help_text="Working days; negative pushes a due date.")
    days_late = serializers.IntegerField(help_text="Working days the forecast passes the due.")
    on_critical_path = serializers.BooleanField()


class ForecastSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    computed_at = AwareDateTimeField()
    d_day = AwareDateTimeField()
    d_day_float_days = serializers.IntegerField(allow_null=True)
    critical_path = serializers.ListField(
        child=serializers.IntegerField(), help_text="Node ids, upstream first."
    )
    nodes = NodeForecastSerializer(many=True)
