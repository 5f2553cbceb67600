from datetime import UTC, datetime, tzinfo

from django.db.models import F, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracker.accounts.models import Department, User
from tracker.core.api.fields import AwareDateTimeField, SlugRelatedField
from tracker.core.sqltemplate import IDS_SENTINELS, AnyOf, SqlTemplate
from tracker.milestones.models import (
    MAX_LEAD_DAYS,
    DeviationReason,
    LatenessEpisode,
    Milestone,
    MilestoneChange,
    MilestoneDependency,
    MilestoneStatus,
    Promise,
)


class DependencySerializer(serializers.Serializer):
    """One upstream link: the node it waits for and the declared minimum lead, in working
    days (null: the whole planned gap between the two counts as lead, docs/forecast.md)."""

    depends_on = serializers.IntegerField()
    min_lead_days = serializers.IntegerField(allow_null=True)


class DependencyWriteSerializer(serializers.Serializer):
    depends_on = serializers.PrimaryKeyRelatedField(queryset=Milestone.objects.all())
    min_lead_days = serializers.IntegerField(
        min_value=0, max_value=MAX_LEAD_DAYS, allow_null=True, required=False, default=None
    )


class MilestoneSerializer(serializers.ModelSerializer):
    """A node as read by clients; `is_overdue` and `is_at_risk` are columns of the queryset
    (`MilestoneQuerySet.with_flags`)."""

    department = serializers.SlugRelatedField(slug_field="code", read_only=True)
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The assignee's username; null when nobody is assigned.",
    )
    depends_on = serializers.SerializerMethodField()
    dependencies = serializers.SerializerMethodField()
    is_overdue = serializers.BooleanField(read_only=True, default=False)
    is_at_risk = serializers.BooleanField(read_only=True, default=False)
    warnings = serializers.SerializerMethodField(
        help_text="On a write: what to know about it, e.g. a due date on a non-working day."
    )

    class Meta:
        model = Milestone
        fields = [
            "id",
            "project",
            "title",
            "description",
            "department",
            "assignee",
            "due_at",
            "baseline_due_at",
            "status",
            "completed_at",
            "depends_on",
            "dependencies",
            "position",
            "added_after_baseline",
            "is_overdue",
            "is_at_risk",
            "forecast_at",
            "float_days",
            "on_critical_path",
            "warnings",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_warnings(self, milestone) -> list[str]:
        return self.context.get("warnings", [])

    def get_depends_on(self, milestone) -> list[int]:
        # Uses the prefetched links: no query per node.
        return sorted(link.depends_on_id for link in milestone.upstream_links.all())

    @extend_schema_field(DependencySerializer(many=True))
    def get_dependencies(self, milestone) -> list[dict]:
        links = sorted(milestone.upstream_links.all(), key=lambda link: link.depends_on_id)
        return [
            {"depends_on": link.depends_on_id, "min_lead_days": link.min_lead_days}
            for link in links
        ]


# Since 1973 every zone's offset is whole minutes, which is all JSON renderers write.
WHOLE_MINUTE_OFFSETS = datetime(1973, 1, 1, tzinfo=UTC)


def _iso(value: datetime, zone: tzinfo) -> str:
    """What DRF's DateTimeField writes for an aware datetime: ISO 8601 in the current zone,
    "Z" for UTC."""
    text = value.astimezone(zone).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _page_links(ids: list[int]) -> QuerySet:
    return (
        MilestoneDependency.objects.filter(AnyOf(F("milestone_id"), ids))
        .order_by("depends_on_id")
        .values_list("milestone_id", "depends_on_id", "min_lead_days")
    )


class MilestoneListRowsSerializer(serializers.ListSerializer):
    """A page of list rows: their dependency links in one query for the whole page, its SQL
    compiled once per process (`SqlTemplate`)."""

    def to_representation(self, data):
        rows = list(data)
        links: dict[int, list[tuple[int, int | None]]] = {row["id"]: [] for row in rows}
        ids = list(links)
        template = (
            SqlTemplate.get("milestone-list-links", _page_links, sentinels=IDS_SENTINELS)
            if ids
            else None
        )
        found = [] if not ids else _page_links(ids) if template is None else template.tuples(ids)
        for milestone_id, depends_on, lead in found:
            links[milestone_id].append((depends_on, lead))
        zone = timezone.get_current_timezone()
        return [self.child.row(row, links[row["id"]], zone) for row in rows]


class MilestoneListSerializer(MilestoneSerializer):
    """A node as the list shows it: the very fields and values of MilestoneSerializer (a test
    compares them), written straight from the list queryset's plain rows (`ROW`: no model
    instances, no project row, no user's password hash) rather than through a field object
    per value. Its datetimes are left to the renderer, in the current time zone, as DRF's
    DateTimeField leaves them with `DATETIME_FORMAT = None`: every JSON renderer writes them as
    the field would (ISO 8601, "Z" for UTC); orjson's, in C. The detail and the writes' answers
    keep MilestoneSerializer."""

    ROW = (
        *("id", "project_id", "title", "description", "due_at", "baseline_due_at", "status"),
        *("completed_at", "position", "added_after_baseline", "version", "created_at"),
        *("updated_at", "forecast_at", "float_days", "on_critical_path"),
        *("department__code", "assignee__username", "is_overdue", "is_at_risk"),
    )

    class Meta(MilestoneSerializer.Meta):
        list_serializer_class = MilestoneListRowsSerializer

    DATETIMES = ("due_at", "baseline_due_at", "completed_at", "forecast_at")
    DATETIMES += ("created_at", "updated_at")

    @classmethod
    def row(cls, row: dict, links: list[tuple[int, int | None]], zone: tzinfo) -> dict:
        """One list row; `links` are its (depends_on, min_lead_days) sorted by depends_on."""
        answer = {
            "id": row["id"],
            "project": row["project_id"],
            "title": row["title"],
            "description": row["description"],
            "department": row["department__code"],
            "assignee": row["assignee__username"],
            "due_at": row["due_at"],
            "baseline_due_at": row["baseline_due_at"],
            "status": row["status"],
            "completed_at": row["completed_at"],
            "depends_on": [depends_on for depends_on, _lead in links],
            "dependencies": [{"depends_on": d, "min_lead_days": lead} for d, lead in links],
            "position": row["position"],
            "added_after_baseline": row["added_after_baseline"],
            "is_overdue": bool(row["is_overdue"]),
            "is_at_risk": bool(row["is_at_risk"]),
            "forecast_at": row["forecast_at"],
            "float_days": row["float_days"],
            "on_critical_path": row["on_critical_path"],
            "warnings": [],
            "version": row["version"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        for name in cls.DATETIMES:
            value = answer[name]
            if value is not None:
                # A local mean time's offset has seconds, which renderers may round: the text.
                answer[name] = (
                    value.astimezone(zone) if value >= WHOLE_MINUTE_OFFSETS else _iso(value, zone)
                )
        return answer


class MilestoneWriteSerializer(serializers.Serializer):
    """What a client may send; the service applies the rules."""

    # The project model through the foreign key: `projects` sits above `milestones`.
    project = serializers.PrimaryKeyRelatedField(
        queryset=Milestone.project.field.related_model.objects.all()
    )
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    department = SlugRelatedField(slug_field="code", queryset=Department.objects.all())
    assignee = SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    due_at = AwareDateTimeField()
    status = serializers.ChoiceField(choices=MilestoneStatus.choices, required=False)
    completed_at = AwareDateTimeField(required=False, allow_null=True)
    depends_on = serializers.PrimaryKeyRelatedField(
        queryset=Milestone.objects.all(), many=True, required=False
    )
    dependencies = DependencyWriteSerializer(
        many=True,
        required=False,
        help_text="Upstream nodes with their declared minimum lead (instead of depends_on).",
    )
    position = serializers.IntegerField(required=False, min_value=0)
    change_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Why, in words; required with reason code `other`.",
    )
    reason_code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text=(
            "A deviation reason code (GET /api/v1/deviation-reasons/). Required on a "
            "baselined project's node to move its due date, cancel it, or record a completion "
            "later than its planned due or more than 24 hours back."
        ),
    )

    def validate_dependencies(self, value):
        return [(item["depends_on"], item.get("min_lead_days")) for item in value]

    def validate(self, attrs):
        if "depends_on" in attrs and "dependencies" in attrs:
            raise serializers.ValidationError(
                {"dependencies": "Send depends_on or dependencies, not both."}
            )
        moved = "project" in attrs and attrs["project"].pk != getattr(
            self.instance, "project_id", None
        )
        if self.instance is not None and moved:
            raise serializers.ValidationError({"project": "A node cannot move to another project."})
        return attrs


class MilestoneChangeSerializer(serializers.ModelSerializer):
    """One history row; `created_at` is when it was entered (for a completion, `new_value` is
    the completion time claimed)."""

    actor = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who made the change; null when Milepost made it itself (e.g. an operator's "
        "command) or the account was deleted.",
    )

    class Meta:
        model = MilestoneChange
        fields = [
            "id",
            "node_id",
            "node_title",
            "field",
            "old_value",
            "new_value",
            "actor",
            "reason_code",
            "reason",
            "created_at",
        ]


class DeviationReasonSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text="In the request's language.")

    class Meta:
        model = DeviationReason
        fields = ["code", "name", "name_en", "name_zh_hans", "requires_text"]


class AcknowledgeSerializer(serializers.Serializer):
    """`POST /milestones/{id}/acknowledge/`: a new promised time, why, and a note."""

    promised_at = AwareDateTimeField()
    reason_code = serializers.CharField(max_length=40)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PromiseSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = Promise
        fields = [
            "id",
            "actor",
            "promised_at",
            "reason_code",
            "note",
            "created_at",
            "outcome",
            "broken_at",
        ]
        read_only_fields = fields


class SnoozeSerializer(serializers.Serializer):
    user = serializers.CharField(source="user.username")
    until = serializers.DateTimeField()
    via = serializers.CharField()
    created_at = serializers.DateTimeField()


class RungSerializer(serializers.Serializer):
    kind = serializers.CharField()
    reached_at = serializers.DateTimeField(source="created_at")


class EpisodeSerializer(serializers.ModelSerializer):
    """One lateness episode: when it started and ended, the rungs it reached, its promises and
    snoozes (read from what the view prefetched)."""

    rungs = serializers.SerializerMethodField()
    promises = PromiseSerializer(many=True, read_only=True)
    snoozes = SnoozeSerializer(many=True, read_only=True)

    class Meta:
        model = LatenessEpisode
        fields = [
            "id",
            "started_at",
            "started_due_at",
            "ended_at",
            "rung",
            "promised_at",
            "snoozed_until",
            "rungs",
            "promises",
            "snoozes",
        ]
        read_only_fields = fields

    @extend_schema_field(RungSerializer(many=True))
    def get_rungs(self, episode: LatenessEpisode) -> list[dict]:
        # An episode's alerts of slot 0 are its rungs (its repeat nudges count from 1).
        return RungSerializer(
            [alert for alert in episode.alerts.all() if alert.sequence == 0], many=True
        ).data
