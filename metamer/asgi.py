import os

from django.core.asgi import get_asgi_application

from metamer.embedded import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "metamer.settings")
prepare()
application = get_asgi_application()
