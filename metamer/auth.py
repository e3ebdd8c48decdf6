"""The REST API's token authentication and permissions."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import DjangoModelPermissions


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, refused once the token is older than
    ``METAMER_API_TOKEN_DAYS``, so a copied database or a leaked script stops working by itself."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        expires = token.created + timedelta(days=settings.METAMER_API_TOKEN_DAYS)
        if timezone.now() >= expires:
            raise AuthenticationFailed(
                f"This API token expired on {expires:%Y-%m-%d}: make a new one with "
                f"`python manage.py drf_create_token -r {user.get_username()}`."
            )
        return user, token


class StaffModelPermissions(DjangoModelPermissions):
    """The API grants what the admin grants: staff only, and each request needs the user's
    Django permission on the viewset's model: reading needs *view*, creating *add*, an action
    on one object (publish, review, a content change) *change*, deleting *delete*."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated and request.user.is_staff):
            return False
        if getattr(view, "detail", False) and request.method in ("POST", "PATCH", "PUT"):
            queryset = self._queryset(view)
            change = self.get_required_permissions("PATCH", queryset.model)
            return request.user.has_perms(change)
        return super().has_permission(request, view)
