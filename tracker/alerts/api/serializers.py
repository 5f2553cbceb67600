from rest_framework import serializers

from tracker.alerts.models import Alert


class AlertSerializer(serializers.ModelSerializer):
    """`due_at` is the due date the alert was raised for, not necessarily the node's current
    one; `resolved_at` is empty while the alert is open."""

    class Meta:
        model = Alert
        fields = ["id", "milestone", "project", "kind", "due_at", "created_at", "resolved_at"]
        read_only_fields = fields
