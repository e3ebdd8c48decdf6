"""List the architectures the registration form offers, once per installation."""

from django.conf import settings
from django.core.management.base import BaseCommand

from science import catalogue


class Command(BaseCommand):
    help = (
        "List each network source's architectures in a child process and keep the list under the cache "
        "folder, so the registration form opens at once (`make serve` runs it)."
    )

    def handle(self, *args, **options):
        names = catalogue.architectures(settings.METAMER_CACHE_DIR)
        self.stdout.write(", ".join(f"{len(v)} {source}" for source, v in names.items()) + " architectures listed")
