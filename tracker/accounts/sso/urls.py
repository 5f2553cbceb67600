"""The sign-in routes of every single sign-on provider, mounted under /accounts/ beside the
password sign-in. A provider that is not configured answers 404, and one that cannot be
reached (an OpenID Connect discovery document) 502, where allauth would fail."""

from __future__ import annotations

import functools
from importlib import import_module

import requests
from allauth.socialaccount import views as socialaccount_views
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.openid_connect import views as openid_connect
from django.http import Http404
from django.shortcuts import render
from django.urls import include, path

from tracker.accounts.sso.provider import provider_classes


def _configured(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except SocialApp.DoesNotExist:
            raise Http404("This sign-in is not configured.") from None
        except requests.RequestException:
            return render(request, "socialaccount/authentication_error.html", status=502)

    return wrapper


def _provider_urls(provider) -> list:
    views = import_module(f"{provider.get_package()}.views")
    return [
        path(
            f"{provider.id}/",
            include(
                [
                    path("login/", _configured(views.oauth2_login), name=f"{provider.id}_login"),
                    path(
                        "login/callback/",
                        _configured(views.oauth2_callback),
                        name=f"{provider.id}_callback",
                    ),
                ]
            ),
        )
    ]


urlpatterns = [
    path(
        "social/login/cancelled/",
        socialaccount_views.login_cancelled,
        name="socialaccount_login_cancelled",
    ),
    path("social/login/error/", socialaccount_views.login_error, name="socialaccount_login_error"),
    path("social/signup/", socialaccount_views.signup, name="socialaccount_signup"),
    *[pattern for provider in provider_classes for pattern in _provider_urls(provider)],
    # allauth's OpenID Connect routes (one per configured app: /accounts/oidc/<id>/login/).
    path(
        "oidc/<str:provider_id>/",
        include(
            [
                path("login/", _configured(openid_connect.login), name="openid_connect_login"),
                path(
                    "login/callback/",
                    _configured(openid_connect.callback),
                    name="openid_connect_callback",
                ),
            ]
        ),
    ),
]
