"""What Django's error page (``DJANGO_DEBUG=1``) may show of the settings."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsHidingFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding settings whose values can hold credentials inside a URL
    (the broker's or the database's password) and anything AWS."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|BROKER|BACKEND|DATABASE|AWS", flags=re.I
    )
