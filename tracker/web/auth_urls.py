"""Sign in, sign out, password change and reset: Django's views with Milepost's templates.

Mounted without a namespace at /accounts/ because Django's auth views and emails reverse these
names (``login``, ``password_reset_confirm`` …) unqualified.
"""

from django.contrib.auth import urls as django_auth_urls
from django.contrib.auth import views as auth_views
from django.urls import path

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    *[pattern for pattern in django_auth_urls.urlpatterns if pattern.name != "login"],
]
