"""Calendar feeds: the signed-in user's secret URLs, and the public .ics behind each."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tracker.integrations.calendar import feed_nodes, feed_url, render_calendar
from tracker.integrations.forms import CalendarFeedForm
from tracker.integrations.models import CalendarFeed
from tracker.integrations.selectors import calendar_feed_by_token, calendar_feed_list
from tracker.integrations.services import (
    calendar_feed_create,
    calendar_feed_regenerate,
    calendar_feed_revoke,
)


def _feeds_page(
    request: HttpRequest,
    *,
    form: CalendarFeedForm | None = None,
    new: tuple[CalendarFeed, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    response = render(
        request,
        "integrations/calendar_feeds.html",
        {
            "form": form or CalendarFeedForm(user=request.user),
            "feeds": list(calendar_feed_list(user=request.user)),
            "new_feed": new[0] if new else None,
            "new_url": feed_url(new[1]) if new else None,
        },
        status=status,
    )
    if new:
        # The URL is in this answer only: it is stored as a hash.
        response["Cache-Control"] = "no-store"
    return response


@login_required
def calendar_feeds_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _feeds_page(request)
    form = CalendarFeedForm(request.POST, user=request.user)
    if not form.is_valid():
        return _feeds_page(request, form=form, status=400)
    feed, token = calendar_feed_create(user=request.user, project=form.cleaned_data["project"])
    if token is None:
        messages.info(
            request,
            _("You already have this feed. Make a new address if you no longer have its URL."),
        )
        return redirect("integrations:calendar_feeds")
    return _feeds_page(request, new=(feed, token))


@login_required
@require_POST
def calendar_feed_regenerate_view(request: HttpRequest, feed_id: int) -> HttpResponse:
    feed = get_object_or_404(CalendarFeed, pk=feed_id, user=request.user)
    return _feeds_page(request, new=calendar_feed_regenerate(feed_id=feed.pk, user=request.user))


@login_required
@require_POST
def calendar_feed_revoke_view(request: HttpRequest, feed_id: int) -> HttpResponse:
    feed = get_object_or_404(CalendarFeed, pk=feed_id, user=request.user)
    calendar_feed_revoke(feed_id=feed.pk, user=request.user)
    messages.success(request, _("Calendar feed revoked."))
    return redirect("integrations:calendar_feeds")


@require_GET
def calendar_feed_view(request: HttpRequest, token: str) -> HttpResponse:
    """The .ics itself: the token in the URL is the only credential (calendars cannot log in)."""
    feed = calendar_feed_by_token(token)
    if feed is None:
        raise Http404("No such calendar feed.")
    now = timezone.now()
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    with translation.override(feed.user.language):
        content = render_calendar(feed, list(feed_nodes(feed, now=now)))
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Language"] = feed.user.language
    response["Content-Disposition"] = 'inline; filename="milepost.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
