from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.api import router

api_v1 = [
    path("", include(router.urls)),
    path("", include("tracker.reports.api.urls")),
    path("", include("tracker.workcal.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("", include("tracker.ops.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("i18n/", include("django.conf.urls.i18n")),
    path("integrations/", include("tracker.integrations.urls")),
    path("accounts/", include("tracker.web.auth_urls")),
    path("", include("tracker.web.urls")),
]

# allauth answers a client that posts sign-ins too fast with this (429 with Retry-After).
handler429 = "tracker.web.views.auth.too_many_requests"
