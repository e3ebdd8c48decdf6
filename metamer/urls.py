from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import include, path, re_path, reverse
from django.views.generic import RedirectView
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from metamer.api import router


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


PUBLIC_MEDIA = ("stimuli/",)
"""What workers' pages show (images, under content-hash names); everything else under media
(reports, exports, checkpoints, raw targets) is for logged-in staff only."""


def media(request, path):
    # MEDIA_ROOT is read per request, so tests and the demo can point it elsewhere.
    if not path.startswith(PUBLIC_MEDIA):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
    return serve(request, path, document_root=settings.MEDIA_ROOT)


if settings.SERVE_MEDIA:
    # Embedded mode: media from local disk (production serves it from S3 or the web server).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", media))
