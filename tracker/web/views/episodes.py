"""A node's lateness episode in the web: acknowledge it with a promise, snooze its alerts
(from the node panel, My work, or the signed one-click link of an email). The rules are the
services' (`milestones.episodes`, `alerts.snoozing`)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tracker.alerts.models import SnoozeVia
from tracker.alerts.snoozing import (
    alert_snooze,
    snooze_by_link,
    snooze_read,
    snooze_until,
)
from tracker.core.errors import PermissionDeniedError
from tracker.milestones.episodes import episode_acknowledge


def _back(request: HttpRequest, node_id: int) -> HttpResponse:
    """Back where the form was: the inbox (`next=inbox`), else the node."""
    if request.POST.get("next") == "inbox":
        return redirect("web:inbox")
    return redirect("web:node_detail", node_id=node_id)


def _messages_of(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [m for field in error.message_dict.values() for m in field]
    return list(error.messages)


@require_POST
@login_required
def node_acknowledge(request: HttpRequest, node_id: int) -> HttpResponse:
    """Acknowledge the node's lateness with a promised time, a reason code and a note."""
    raw = request.POST.get("promised_at", "")
    promised = parse_datetime(raw) if raw else None
    if promised is not None and timezone.is_naive(promised):
        promised = timezone.make_aware(promised)
    try:
        if raw and promised is None:
            raise ValidationError({"promised_at": _("Enter a date and time.")})
        episode_acknowledge(
            milestone_id=node_id,
            actor=request.user,
            promised_at=promised,
            reason_code=request.POST.get("reason_code", ""),
            note=request.POST.get("note", ""),
        )
    except (ValidationError, PermissionDeniedError) as error:
        for text in _messages_of(error) if isinstance(error, ValidationError) else [str(error)]:
            messages.error(request, text)
        return _back(request, node_id)
    messages.success(request, _("Acknowledged: the ladder waits for your promise."))
    return _back(request, node_id)


@require_POST
@login_required
def node_snooze(request: HttpRequest, node_id: int) -> HttpResponse:
    """Snooze the node's open episode: 1h, until tomorrow 09:00, or until a date."""
    try:
        until = snooze_until(request.POST.get("until", ""), now=timezone.now())
        alert_snooze(actor=request.user, milestone_id=node_id, until=until, via=SnoozeVia.WEB)
    except ValidationError as error:
        for text in _messages_of(error):
            messages.error(request, text)
        return _back(request, node_id)
    except PermissionDeniedError as error:
        messages.error(request, str(error))
        return _back(request, node_id)
    messages.success(
        request,
        _("Snoozed until %(until)s.")
        % {"until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")},
    )
    return _back(request, node_id)


@csrf_exempt  # the signed token is the credential: a click in an email, without a session
@require_http_methods(["GET", "POST"])
def alert_snooze_link(request: HttpRequest, token: str) -> HttpResponse:
    """The email's snooze link: GET asks to confirm (a mail scanner's fetch changes nothing),
    POST snoozes."""
    try:
        person, _alert_id, choice = snooze_read(token)
    except ValidationError as error:
        return render(request, "web/snooze.html", {"error": error.messages[0]}, status=400)
    with translation.override(person.language):
        if request.method == "GET":
            return render(request, "web/snooze.html", {"token": token, "choice": choice})
        try:
            snooze = snooze_by_link(token=token)
        except (ValidationError, PermissionDeniedError) as error:
            text = error.messages[0] if isinstance(error, ValidationError) else str(error)
            return render(request, "web/snooze.html", {"error": text}, status=400)
        return render(request, "web/snooze.html", {"snooze": snooze, "done": True})
