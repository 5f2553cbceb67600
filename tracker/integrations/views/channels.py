"""Channel settings pages: list, create, edit, delete and "send test message"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tracker.core.errors import PermissionDeniedError
from tracker.core.forms import add_service_errors
from tracker.core.permissions import authorize, can_manage_any_channel, can_manage_channel
from tracker.integrations.forms import ChannelForm
from tracker.integrations.selectors import channel_list
from tracker.integrations.services import (
    channel_create,
    channel_delete,
    channel_send_test,
    channel_update,
)
from tracker.notifications.models import Channel

MANAGERS_ONLY = gettext_lazy("Channels are managed by staff and project owners.")


def _managed_channel(request: HttpRequest, channel_id: int) -> Channel:
    """A channel for its edit and delete pages, which only its managers are offered; every
    write is checked again by its service."""
    channel = get_object_or_404(Channel.objects.select_related("project"), pk=channel_id)
    authorize(
        request.user,
        can_manage_channel,
        channel.project,
        message=_("Only staff or the project's owner can manage this channel."),
    )
    return channel


@login_required
def channel_list_view(request: HttpRequest) -> HttpResponse:
    authorize(request.user, can_manage_any_channel, message=MANAGERS_ONLY)
    return render(
        request, "integrations/channel_list.html", {"channels": channel_list(user=request.user)}
    )


@login_required
def channel_create_view(request: HttpRequest) -> HttpResponse:
    authorize(request.user, can_manage_any_channel, message=MANAGERS_ONLY)
    initial = {"project": request.GET.get("project"), "language": request.user.language}
    form = ChannelForm(
        request.POST if request.method == "POST" else None, user=request.user, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            channel = channel_create(actor=request.user, **form.service_data())
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDeniedError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Channel “%(name)s” saved. Send a test message to check it.")
                % {"name": channel.name},
            )
            for warning in channel.warnings:
                messages.warning(request, warning)
            return redirect("integrations:channel_list")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "integrations/channel_form.html", {"form": form, "channel": None}, status=status
    )


@login_required
def channel_edit_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _managed_channel(request, channel_id)
    form = ChannelForm(
        request.POST if request.method == "POST" else None, user=request.user, channel=channel
    )
    if request.method == "POST" and form.is_valid():
        try:
            channel = channel_update(
                channel_id=channel.pk, actor=request.user, data=form.service_data()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDeniedError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Channel “%(name)s” saved.") % {"name": channel.name})
            for warning in channel.warnings:
                messages.warning(request, warning)
            return redirect("integrations:channel_list")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "integrations/channel_form.html",
        {"form": form, "channel": channel},
        status=status,
    )


@login_required
def channel_delete_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _managed_channel(request, channel_id)
    if request.method == "POST":
        channel_delete(channel_id=channel.pk, actor=request.user)
        messages.success(request, _("Channel “%(name)s” deleted.") % {"name": channel.name})
        return redirect("integrations:channel_list")
    return render(request, "integrations/channel_confirm_delete.html", {"channel": channel})


@login_required
@require_POST
def channel_test_view(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Send a test message now and show the platform's answer (a fragment for htmx)."""
    channel = get_object_or_404(Channel.objects.select_related("project"), pk=channel_id)
    result = channel_send_test(channel_id=channel.pk, actor=request.user)
    context = {"channel": channel, "result": result}
    if request.htmx:
        return render(request, "integrations/_test_result.html", context)
    return render(request, "integrations/channel_test.html", context)
