import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from tracker.alerts.models import Alert, AlertKind


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class AlertFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project_id")
    milestone = IdFilter(field_name="milestone_id")
    kind = django_filters.MultipleChoiceFilter(choices=AlertKind.choices)
    open = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_open",
        help_text=_("true: alerts not resolved yet; false: resolved ones."),
    )

    class Meta:
        model = Alert
        fields = ["project", "milestone", "kind"]

    def filter_open(self, queryset, name, value):
        return queryset.filter(resolved_at__isnull=value == "true")
