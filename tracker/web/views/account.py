"""Settings (language, notification preferences, muted projects, API tokens), the language
switch, and the one-click unsubscribe link of emails."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tracker.accounts.models import ApiToken
from tracker.accounts.services import preferences_save, token_issue, token_revoke
from tracker.core.forms import add_service_errors
from tracker.notifications.models import kind_label
from tracker.notifications.preferences import email_unsubscribe, preference_matrix, unsubscribe_read
from tracker.notifications.preferences import preferences_save as notification_preferences_save
from tracker.notifications.texts import label_list
from tracker.web.forms import LanguageForm, PreferencesForm, TokenCreateForm
from tracker.web.views.common import safe_next


def _remember_language(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's language switch: remembered in a cookie, and on the account when signed in
    (so emails follow the same choice)."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Unknown language."))
    language = form.cleaned_data["language"]
    if request.user.is_authenticated and request.user.language != language:
        preferences_save(user=request.user, language=language)
    target = safe_next(request, form.cleaned_data["next"], reverse("web:home"))
    return _remember_language(redirect(target), language)


def _settings_page(
    request: HttpRequest,
    *,
    preferences: PreferencesForm | None = None,
    token_form: TokenCreateForm | None = None,
    new_key: str | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    preferences = preferences or PreferencesForm(
        user=user,
        initial={
            "language": user.language,
            "muted_projects": list(user.muted_projects.values_list("pk", flat=True)),
            **PreferencesForm.initial_for(preference_matrix(user=user)),
        },
    )
    response = render(
        request,
        "web/settings.html",
        {
            "preferences": preferences,
            "token_form": token_form or TokenCreateForm(),
            "tokens": list(user.api_tokens.order_by("-created_at")),
            "new_key": new_key,
        },
        status=status,
    )
    if new_key:
        response["Cache-Control"] = "no-store"
    return response


@login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _settings_page(request)
    form = PreferencesForm(request.POST, user=request.user)
    if not form.is_valid():
        return _settings_page(request, preferences=form, status=422)
    try:
        with transaction.atomic():
            user = preferences_save(
                user=request.user,
                language=form.cleaned_data["language"],
                muted_projects=form.cleaned_data["muted_projects"],
            )
            notification_preferences_save(user=user, choices=form.choices())
    except ValidationError as error:
        add_service_errors(form, error)
        return _settings_page(request, preferences=form, status=422)
    translation.activate(user.language)
    messages.success(request, _("Your settings are saved."))
    return _remember_language(redirect("web:settings"), user.language)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, token_form=form, status=422)
    days = form.cleaned_data["expires_in_days"]
    try:
        _token, key = token_issue(
            user=request.user,
            scope=form.cleaned_data["scope"],
            name=form.cleaned_data["name"],
            expires_in=timedelta(days=days) if days else None,
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return _settings_page(request, token_form=form, status=422)
    # The clear key is shown in this response only; it is never stored.
    return _settings_page(request, new_key=key)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token_revoke(token=token)
    messages.success(request, _("Token %(prefix)s… is revoked.") % {"prefix": token.prefix})
    return redirect("web:settings")


@csrf_exempt  # the signed token is the credential: mail clients POST without a session (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The List-Unsubscribe link: GET asks to confirm, POST (a person's click or the mail
    client's one-click `List-Unsubscribe=One-Click`) switches those emails off. No sign-in."""
    try:
        person, kinds = unsubscribe_read(token)
    except ValidationError as error:
        return render(request, "web/unsubscribe.html", {"error": error.messages[0]}, status=400)
    done = False
    if request.method == "POST":
        email_unsubscribe(user=person, kinds=kinds)
        done = True
    with translation.override(person.language):  # the language of the email it came from
        return render(
            request,
            "web/unsubscribe.html",
            {
                "person": person,
                "kinds_text": label_list(kind_label(kind) for kind in kinds),
                "done": done,
                "token": token,
            },
        )
