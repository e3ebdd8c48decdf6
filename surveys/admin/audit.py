"""The audit log: every later decision about recorded data, append-only."""

from django.contrib import admin

from metamer.admin import ReadOnlyInline, RecordedOnly
from surveys.models import (
    AuditEntry,
)


def actor_of(request) -> str:
    """Who takes a decision made in the admin, as the audit log names them."""
    return request.user.get_username()


class AuditInline(ReadOnlyInline):
    model = AuditEntry
    fk_name = "assignment"
    fields = ["created_at", "actor", "action", "reason", "details"]
    verbose_name_plural = "audit log: decisions about this worker"


class StudyAuditInline(AuditInline):
    fk_name = "study"
    fields = ["created_at", "actor", "action", "assignment", "reason", "details"]
    verbose_name_plural = "audit log: every later decision in this study"


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["created_at", "study", "assignment", "actor", "action", "reason"]
    list_filter = ["action", "study"]
    search_fields = ["actor", "reason", "assignment__participant__external_id"]
