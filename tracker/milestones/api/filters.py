import django_filters

from tracker.core.api.fields import AwareIsoDateTimeFilter
from tracker.milestones.models import Milestone, MilestoneStatus


class MilestoneFilter(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    department = django_filters.CharFilter(field_name="department__code")
    assignee = django_filters.CharFilter(field_name="assignee__username")
    status = django_filters.MultipleChoiceFilter(choices=MilestoneStatus.choices)
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_overdue"
    )
    due_before = AwareIsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    due_after = AwareIsoDateTimeFilter(field_name="due_at", lookup_expr="gte")

    class Meta:
        model = Milestone
        fields = ["project", "department", "assignee", "status"]

    def filter_overdue(self, queryset, name, value):
        """By the `is_overdue` column the view annotates (`MilestoneQuerySet.with_flags`)."""
        return queryset.filter(is_overdue=value == "true")
