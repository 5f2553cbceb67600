"""Health, readiness and metrics endpoints: no session, no CSRF, no language; JSON or text."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from tracker.ops import metrics, selectors


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers: for a liveness probe (restarting the web process helps)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency and background job is well: 200, else 503 with the failing checks."""
    checks = selectors.readiness()
    ready = all(check.ok for check in checks)
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {c.name: c.as_dict() for c in checks},
        },
        status=200 if ready else 503,
    )


def metrics_allowed(request: HttpRequest) -> bool:
    """A matching bearer token, or a client address inside METRICS_ALLOWED_NETWORKS."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        client in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)
