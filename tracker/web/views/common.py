"""Small helpers shared by the page groups."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme

from tracker.projects.models import Project


def require(allowed: bool) -> None:
    """Refuse with 403 what the page should not have offered in the first place."""
    if not allowed:
        raise PermissionDenied


def get_project(project_id: int) -> Project:
    return get_object_or_404(Project.objects.select_related("owner", "template"), pk=project_id)


def safe_next(request: HttpRequest, value: str | None, fallback: str) -> str:
    """A same-site URL to go back to, never an open redirect."""
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return fallback


def redirect_back(request: HttpRequest, fallback: str, **kwargs: Any) -> HttpResponse:
    return redirect(safe_next(request, request.POST.get("next"), fallback), **kwargs)
