"""Absolute links for emails and chat messages (they are read outside the site)."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def node_url(milestone_id: int) -> str:
    return absolute(reverse("web:node_detail", args=[milestone_id]))


def project_url(project_id: int) -> str:
    return absolute(reverse("web:board", args=[project_id]))


def home_url() -> str:
    return absolute(reverse("web:home"))


def settings_url() -> str:
    return absolute(reverse("web:settings"))


def report_url(
    adjective: str, label: str, *, project_id: int | None = None, department_id: int | None = None
) -> str:
    """The report page of a period: `adjective` is its kind's (`PeriodKind.adjective`)."""
    name = f"web:report_{adjective}"
    query = {"period": label}
    if project_id:
        query["project"] = project_id
    if department_id:
        query["department"] = department_id
    return absolute(f"{reverse(name)}?{urlencode(query)}")


def unsubscribe_url(token: str) -> str:
    return absolute(reverse("web:unsubscribe", args=[token]))
