"""Admin pieces shared by the apps."""

from django.contrib import admin


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, made by services only: no adding, editing or deleting.
    Subclasses set ``model`` and ``fields``; every field is read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False
