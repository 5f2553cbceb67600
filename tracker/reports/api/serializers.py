"""Shapes of the report answers (for the OpenAPI schema and for rendering)."""

from django.core.exceptions import ValidationError
from rest_framework import serializers

from tracker.reports.selectors import report_scope


class FiguresSerializer(serializers.Serializer):
    due_count = serializers.IntegerField()
    on_time_count = serializers.IntegerField()
    deviated_count = serializers.IntegerField()
    late_count = serializers.IntegerField(help_text="Done after the planned due.")
    open_overdue_count = serializers.IntegerField(help_text="Not done, planned due passed.")
    deviation_rate = serializers.FloatField(
        allow_null=True, help_text="deviated / due; null if none due."
    )
    mean_slip_days = serializers.FloatField(allow_null=True)


class DepartmentFiguresSerializer(FiguresSerializer):
    code = serializers.CharField()
    name = serializers.CharField()


class ProjectFiguresSerializer(FiguresSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    threshold = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False)
    breached = serializers.BooleanField()


class SlipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    project_id = serializers.IntegerField()
    project = serializers.CharField()
    department = serializers.CharField(help_text="The department's code.")
    department_name = serializers.CharField(required=False)
    assignee = serializers.CharField(allow_null=True, help_text="The assignee's username.")
    assignee_name = serializers.CharField(
        allow_null=True, required=False, help_text="The assignee's display name."
    )
    planned_due = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField()
    slip_days = serializers.FloatField()
    slip_working_days = serializers.IntegerField(
        help_text="Working days from the planned due day to the completion day (or as_of)."
    )


class WeekFiguresSerializer(FiguresSerializer):
    week = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class RestatementSerializer(serializers.Serializer):
    node_id = serializers.IntegerField(allow_null=True)
    node = serializers.CharField()
    project_id = serializers.IntegerField(allow_null=True)
    field = serializers.CharField()
    old_value = serializers.CharField(allow_blank=True)
    new_value = serializers.CharField(allow_blank=True)
    actor = serializers.CharField(allow_null=True)
    actor_name = serializers.CharField(
        allow_null=True, required=False, help_text="Who, by display name."
    )
    at = serializers.DateTimeField()
    reason_code = serializers.CharField(allow_blank=True)
    reason_name = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)


class LiveFiguresSerializer(FiguresSerializer):
    breached = serializers.BooleanField()


class WeeklyReportSerializer(FiguresSerializer):
    period = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    as_of = serializers.DateTimeField()
    mean_slip_working_days = serializers.FloatField(
        allow_null=True, help_text="mean_slip_days counted in working days (whole days)."
    )
    threshold = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False)
    breached = serializers.BooleanField()
    small_sample = serializers.BooleanField(
        default=False, help_text="Fewer nodes than DEVIATION_SMALL_SAMPLE: read with care."
    )
    left_out_count = serializers.IntegerField(
        default=0, help_text="Nodes of the period left out: their project has no baseline."
    )
    backlog_count = serializers.IntegerField(
        default=0, help_text="Nodes still open from earlier periods."
    )
    backlog_oldest_slip_days = serializers.FloatField(allow_null=True, default=None)
    by_department = DepartmentFiguresSerializer(many=True)
    by_project = ProjectFiguresSerializer(many=True)
    worst_slips = SlipSerializer(many=True)
    of_record = serializers.BooleanField(
        help_text="These are the figures of record: the snapshot of a closed period."
    )
    snapshot_at = serializers.DateTimeField(allow_null=True)
    live = LiveFiguresSerializer(help_text="Today's recomputation of the headline figures.")
    restated = serializers.BooleanField(help_text="The live rate differs from the record.")
    restatements = RestatementSerializer(many=True)


class MonthFiguresSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM.")
    deviation_rate = serializers.FloatField(
        allow_null=True, help_text="The month's figure of record; null if none due."
    )
    due_count = serializers.IntegerField()
    late_count = serializers.IntegerField(help_text="Done after the planned due.")
    deviated_count = serializers.IntegerField(help_text="Done late or still open.")


class ComparisonSerializer(MonthFiguresSerializer):
    rate_change = serializers.FloatField(
        allow_null=True, help_text="This month's rate minus that month's; null if either is."
    )


class ComparisonsSerializer(serializers.Serializer):
    previous_month = ComparisonSerializer()
    same_month_last_year = ComparisonSerializer(
        allow_null=True, help_text="Null when that month has no data."
    )


class SlipTotalsSerializer(serializers.Serializer):
    name = serializers.CharField()
    late_count = serializers.IntegerField(help_text="Nodes with a slip of a working day or more.")
    own_days = serializers.FloatField(help_text="Working days of their own delay.")
    inherited_days = serializers.FloatField(help_text="Working days inherited from upstream.")
    caused_downstream_days = serializers.FloatField(
        help_text="Working days their delay caused in other departments' nodes downstream."
    )


class DepartmentSlipSerializer(SlipTotalsSerializer):
    department_id = serializers.IntegerField()


class ProjectSlipSerializer(SlipTotalsSerializer):
    project_id = serializers.IntegerField()


class AttributionSerializer(serializers.Serializer):
    departments = DepartmentSlipSerializer(many=True)
    projects = ProjectSlipSerializer(many=True)


class ParetoSerializer(serializers.Serializer):
    reason_code = serializers.CharField(help_text='"unspecified" for nodes without a reason.')
    name = serializers.CharField()
    deviated_count = serializers.IntegerField()
    slip_days = serializers.FloatField(help_text="Working days.")
    share = serializers.FloatField(help_text="Of the deviated nodes.")
    cumulative_share = serializers.FloatField()


class DistributionSerializer(serializers.Serializer):
    department_id = serializers.IntegerField(allow_null=True, help_text="Null on the totals row.")
    name = serializers.CharField()
    totals = serializers.BooleanField(help_text="The row of all departments.")
    on_time = serializers.IntegerField()
    up_to_1 = serializers.IntegerField(help_text="Done late by at most one working day.")
    from_1_to_3 = serializers.IntegerField(help_text="Done late by 2 or 3 working days.")
    from_3_to_7 = serializers.IntegerField(help_text="Done late by 4 to 7 working days.")
    over_7 = serializers.IntegerField(help_text="Done late by more than 7 working days.")
    open = serializers.IntegerField(help_text="Planned due passed, still open.")


class RepeatOffenderSerializer(serializers.Serializer):
    template_id = serializers.IntegerField()
    template_name = serializers.CharField()
    template_key = serializers.CharField()
    title = serializers.CharField()
    department_id = serializers.IntegerField()
    department_name = serializers.CharField()
    late_in = serializers.ListField(child=serializers.CharField(), help_text="Project names.")
    of_campaigns = serializers.IntegerField(help_text="The template's last campaigns looked at.")


class ChurnTotalsSerializer(serializers.Serializer):
    replanned_nodes = serializers.IntegerField()
    replans = serializers.IntegerField()
    promises = serializers.IntegerField(help_text="Promised dates judged by as_of.")
    promises_kept = serializers.IntegerField()
    promise_kept_rate = serializers.FloatField(allow_null=True)


class DepartmentChurnSerializer(ChurnTotalsSerializer):
    department_id = serializers.IntegerField()
    name = serializers.CharField()


class ChurnSerializer(serializers.Serializer):
    departments = DepartmentChurnSerializer(many=True)
    totals = ChurnTotalsSerializer()


class AnalysisSerializer(serializers.Serializer):
    """The monthly deep analysis (docs/monthly-analysis.md)."""

    month = serializers.CharField()
    comparisons = ComparisonsSerializer()
    attribution = AttributionSerializer()
    pareto = ParetoSerializer(many=True)
    distribution = DistributionSerializer(many=True)
    repeat_offenders = RepeatOffenderSerializer(many=True)
    churn = ChurnSerializer()
    trend_12_months = MonthFiguresSerializer(many=True)


class MonthlyReportSerializer(WeeklyReportSerializer):
    weekly_trend = WeekFiguresSerializer(many=True)
    departments_ranked = DepartmentFiguresSerializer(many=True)
    analysis = AnalysisSerializer()


class ReportQuerySerializer(serializers.Serializer):
    project = serializers.CharField(required=False, allow_blank=True)
    department = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        """Resolved by `report_scope`, as for the exports and the commands."""
        try:
            project, department = report_scope(
                user=self.context["request"].user,
                project=attrs.get("project"),
                department=attrs.get("department"),
            )
        except ValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return {
            "project": project.pk if project else None,
            "department": department.pk if department else None,
        }
