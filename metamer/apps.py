from django.contrib.admin.apps import AdminConfig


class MetamerAdminConfig(AdminConfig):
    """Django's admin on Metamer's site: sections in the order of the work."""

    default_site = "metamer.admin.MetamerAdminSite"
