from django.apps import AppConfig


class InversionConfig(AppConfig):
    name = "inversion"
    verbose_name = "Inversion: networks, targets and IRIs"
