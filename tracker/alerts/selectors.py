"""Reads of alerts: the API list."""

from django.db.models import QuerySet

from tracker.alerts.models import Alert


def alert_list() -> QuerySet[Alert]:
    """Every alert, newest first; the API shows ids only, so no joins are needed."""
    return Alert.objects.order_by("-created_at", "-id")
