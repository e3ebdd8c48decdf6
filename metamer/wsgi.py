import os

from django.core.wsgi import get_wsgi_application

from metamer.embedded import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "metamer.settings")
prepare()
application = get_wsgi_application()
