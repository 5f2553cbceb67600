"""Reads of alerts: the API list, and the open alerts of a node."""

from django.db.models import QuerySet

from tracker.alerts.models import Alert


def alert_list() -> QuerySet[Alert]:
    """Every alert, newest first; the API shows ids only, so no joins are needed."""
    return Alert.objects.order_by("-created_at", "-id")


def alert_open_for_milestone(*, milestone_id: int) -> QuerySet[Alert]:
    return Alert.objects.open().filter(milestone_id=milestone_id).order_by("-created_at")
