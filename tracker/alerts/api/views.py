from rest_framework import viewsets

from tracker.alerts.api.filters import AlertFilter
from tracker.alerts.api.serializers import AlertSerializer
from tracker.alerts.selectors import alert_list


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts the deadline scan raised (read-only): due soon, overdue, escalation, resolved.
    Filter by `project`, `milestone`, `kind` (repeatable) and `open=true|false`."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilter

    def get_queryset(self):
        return alert_list()
