"""My work: the page a team lead opens every morning."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tracker.web.episodes import work_episodes
from tracker.web.selectors import my_work


@login_required
def home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    work = my_work(user=request.user, now=now)
    work_episodes([*work.overdue, *work.due_this_week, *work.at_risk])
    return render(request, "web/my_work.html", {"work": work, "now": now})
