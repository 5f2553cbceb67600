"""Reads of a project's record: its audit log and its baselines (the API and the Audit tab)."""

from __future__ import annotations

from django.db.models import QuerySet

from tracker.accounts.models import AuditEntry
from tracker.projects.models import Project, ProjectBaseline


def project_audit_log(*, project: Project) -> QuerySet[AuditEntry]:
    """The project's audit entries, newest first, with their actors (one query)."""
    return (
        AuditEntry.objects.filter(project_ref=project.pk)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


def project_baselines(*, project: Project) -> QuerySet[ProjectBaseline]:
    """Every baseline of the project, the first one first."""
    return project.baselines.select_related("actor", "project").order_by("number")
