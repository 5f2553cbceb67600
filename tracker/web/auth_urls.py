"""Sign in (django-allauth: by password or single sign-on), sign out, password change and
reset (Django's views), with Milepost's templates.

Mounted without a namespace at /accounts/ because Django's auth views and emails reverse these
names (``login``, ``password_reset_confirm`` …) unqualified.
"""

from django.contrib.auth import urls as django_auth_urls
from django.urls import include, path

from tracker.web.views.auth import LoginView

login = LoginView.as_view()

urlpatterns = [
    path("login/", login, name="login"),
    # allauth's views reverse their own name for the sign-in page: the same page.
    path("login/", login, name="account_login"),
    *[pattern for pattern in django_auth_urls.urlpatterns if pattern.name != "login"],
    # Single sign-on: Feishu/Lark, DingTalk, WeCom, OpenID Connect (those configured).
    path("", include("tracker.accounts.sso.urls")),
]
