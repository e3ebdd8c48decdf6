from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from metamer.api import router
from metamer.media import media


def healthz(request):
    """Liveness for load balancers: touches neither the database nor the cache."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("surveys.urls")),
]


if settings.SERVE_MEDIA:
    # Media from local disk through the view that keeps private files private (S3 serves its own).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", media))
