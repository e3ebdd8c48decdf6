"""The REST API's token authentication."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


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
