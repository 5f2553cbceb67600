"""The in-app inbox: the latest items addressed to me, and "mark all read". Opening an item's
node (the side panel or its page, `?inbox=ID`) marks that item read: see `nodes`."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tracker.notifications.inbox import inbox_items, inbox_mark_read
from tracker.web.selectors import request_inbox_unread


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    items = inbox_items(user=request.user)
    unread = request_inbox_unread(request)
    return render(request, "web/inbox.html", {"items": items, "unread": unread})


@require_POST
@login_required
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    inbox_mark_read(user=request.user)
    return redirect("web:inbox")
