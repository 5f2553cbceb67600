"""Small helpers shared by the page groups."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme

from tracker.projects.models import Project


def get_project(user: Any, project_id: int) -> Project:
    """A project the user reads, named by its id (so an archived one too), or 404."""
    return get_object_or_404(
        Project.objects.visible_to(user, include_archived=True).select_related("owner", "template"),
        pk=project_id,
    )


def request_person(request: HttpRequest) -> Any:
    """`request.user` itself rather than its lazy wrapper: a page that asks a rule about
    each of 300 cards reads the user's attributes thousands of times, and every read through
    `SimpleLazyObject` is a Python call. The same object, so what a rule caches on it (the led
    departments) is seen through `request.user` too."""
    user = request.user
    user.is_authenticated  # noqa: B018 (evaluates the wrapper)
    return getattr(user, "_wrapped", user)


def safe_next(request: HttpRequest, value: str | None, fallback: str) -> str:
    """A same-site URL to go back to, never an open redirect."""
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return fallback


def redirect_back(request: HttpRequest, fallback: str, **kwargs: Any) -> HttpResponse:
    return redirect(safe_next(request, request.POST.get("next"), fallback), **kwargs)
