"""Local media in embedded mode: who may read which file, and how it is served.

The path is normalised before any rule is applied, so ``stimuli/../reports/x`` (or its
percent-encoded forms, which reach Django already decoded) is judged as what it names.
"""

from __future__ import annotations

import posixpath
import re

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.static import serve

PUBLIC_STIMULUS = re.compile(r"stimuli/(?:[0-9A-Za-z_-]+/)*[0-9A-Za-z_-]+\.(?:png|jpe?g|webp|gif)")
"""What workers' pages show: images under ``stimuli/``, named by Metamer (content hashes or
generated names), with an image extension. Everything else under media (reports, exports,
checkpoints, raw targets) is for logged-in staff only."""

STAFF_INLINE = re.compile(r"(?:reports|alignment)/(?:[0-9A-Za-z_.-]+/)*[0-9A-Za-z_.-]+\.html")
"""Reports Metamer rendered itself, opened in the browser by staff (under a CSP that runs no script)."""

STIMULUS_POLICY = "default-src 'none'; sandbox"
REPORT_POLICY = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def media_path_normalise(path: str) -> str:
    """The media-relative path ``path`` names, or 404 for anything that leaves the media root
    or carries characters no stored name has."""
    if "\x00" in path or "\\" in path:
        raise Http404("no such file")
    name = posixpath.normpath("/" + path).lstrip("/")
    if name in ("", ".") or name.startswith("../") or name == "..":
        raise Http404("no such file")
    return name


def media(request: HttpRequest, path: str) -> HttpResponse:
    """Serve one media file: stimuli to anyone, the rest to staff; never a type the browser
    could run on this origin."""
    name = media_path_normalise(path)
    public = PUBLIC_STIMULUS.fullmatch(name) is not None
    if not public:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
    # MEDIA_ROOT is read per request, so tests and the demo can point it elsewhere.
    response = serve(request, name, document_root=settings.MEDIA_ROOT)
    response["X-Content-Type-Options"] = "nosniff"
    if public:
        response["Content-Security-Policy"] = STIMULUS_POLICY
    elif STAFF_INLINE.fullmatch(name):
        response["Content-Security-Policy"] = REPORT_POLICY
    else:
        response["Content-Security-Policy"] = STIMULUS_POLICY
        response["Content-Type"] = "application/octet-stream"
        response["Content-Disposition"] = f'attachment; filename="{posixpath.basename(name)}"'
    return response
