"""Sign-in through django-allauth, its failed-login limits answered 429 with Retry-After."""

from __future__ import annotations

from allauth.account.views import LoginView as AllauthLoginView
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tracker.accounts.adapter import login_failed_key, rate_limit_wait

LOCKED_OUT = "too_many_login_attempts"


class LoginView(AllauthLoginView):
    """allauth counts failed sign-ins per client address and per account (``LOGIN_FAILED_RATE``)
    and a success takes back only its own attempt, so it unlocks no other address."""

    template_name = "registration/login.html"

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, LOCKED_OUT):
            username = form.cleaned_data.get("login") or ""
            response.status_code = 429
            response["Retry-After"] = str(
                rate_limit_wait(
                    self.request,
                    action="login_failed",
                    key=login_failed_key(self.request, username),
                )
            )
        return response


def too_many_requests(request: HttpRequest) -> HttpResponse:
    """allauth's answer when a client posts sign-ins faster than its ``login`` limit (the only
    allauth view Milepost mounts), failed or not."""
    response = render(request, "429.html", status=429)
    response["Retry-After"] = str(rate_limit_wait(request, action="login"))
    return response
