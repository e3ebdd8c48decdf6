"""Stimuli: every image Metamer stored, as recorded; thumbnails for the other pages."""

from django.contrib import admin
from django.utils.html import format_html

from inversion.models import (
    Stimulus,
)
from metamer.admin import (
    RecordedOnly,
)


def thumbnail(stimulus: Stimulus | None, size: int = 64) -> str:
    if stimulus is None:
        return "–"
    return format_html(
        '<img src="{}" width="{}" height="{}" style="image-rendering: pixelated" alt="{}">',
        stimulus.image.url,
        size,
        size,
        stimulus.role,
    )


@admin.register(Stimulus)
class StimulusAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["id", "preview", "role", "width", "height", "sha256", "created_at"]
    list_filter = ["role"]
    readonly_fields = ["preview", "sha256", "width", "height"]

    @admin.display(description="image")
    def preview(self, obj):
        return thumbnail(obj)
