"""The people who answer: participants, assignments and the decisions about them, answers, pay."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from metamer.admin import RecordedOnly, confirm_page
from metamer.errors import MetamerError
from surveys import services
from surveys.admin.audit import AuditInline, actor_of
from surveys.models import (
    Assignment,
    Participant,
    Payment,
    Publication,
    Response,
)
from surveys.selectors import (
    assignment_reward_cents,
)


@admin.register(Participant)
class ParticipantAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["external_id", "study", "created_at"]
    search_fields = ["external_id"]


class BonusForm(forms.Form):
    amount_cents = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=500, help_text="The worker sees this.")


@admin.register(Assignment)
class AssignmentAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = [
        "participant",
        "survey",
        "status",
        "recruiter_status",
        "flagged",
        "answered",
        "started_at",
        "submitted_at",
    ]
    list_filter = ["status", "flagged", "excluded", "survey"]
    actions = ["approve", "reject", "flag", "block", "bonus", "exclude_from_data", "include_in_data", "add_note"]
    inlines = [AuditInline]

    def _each(self, request, queryset, run) -> None:
        for assignment in queryset:
            try:
                run(assignment)
            except MetamerError as exc:
                self.message_user(request, f"{assignment}: {exc.message}", messages.ERROR)

    @admin.action(description="Approve and pay (shows the amount first)")
    def approve(self, request, queryset):
        if "confirm" not in request.POST:
            total = sum(assignment_reward_cents(a.survey) for a in queryset)
            message = f"Approving {queryset.count()} assignments pays {total / 100:.2f} in rewards (plus the recruiter's fee)."
            return confirm_page(self, request, queryset, title="Confirm: approve", message=message)
        self._each(
            request,
            queryset,
            lambda a: services.assignment_approve(assignment=a, confirm=True, actor=actor_of(request)),
        )
        return None

    @admin.action(description="Reject (asks for the feedback the worker will see)")
    def reject(self, request, queryset):
        feedback = request.POST.get("feedback", "").strip()
        if "confirm" not in request.POST or not feedback:
            message = (
                "Rejection hurts a worker's record and many ethics boards discourage it; the default policy approves "
                "everyone who finished and only leaves attention-check failures out of the analysis."
            )
            return confirm_page(
                self, request, queryset, title="Confirm: reject", message=message, reason="Feedback the worker will see"
            )
        self._each(
            request,
            queryset,
            lambda a: services.assignment_reject(assignment=a, feedback=feedback, actor=actor_of(request)),
        )
        return None

    @admin.action(description="Block the worker at the recruiter (asks for the reason)")
    def block(self, request, queryset):
        reason = request.POST.get("feedback", "").strip()
        if "confirm" not in request.POST or not reason:
            message = "Blocking keeps these workers out of all your future tasks on the recruiter."
            return confirm_page(
                self, request, queryset, title="Confirm: block", message=message, reason="Why (kept in the audit log)"
            )
        self._each(
            request,
            queryset,
            lambda a: services.participant_block(assignment=a, reason=reason, actor=actor_of(request)),
        )
        return None

    @admin.action(description="Flag for a closer look (no money moves)")
    def flag(self, request, queryset):
        for assignment in queryset:
            services.assignment_flag(assignment=assignment, note=f"flagged by {request.user}", actor=actor_of(request))

    @admin.action(description="Pay a bonus (shows the amount first)")
    def bonus(self, request, queryset):
        form = BonusForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/surveys/bonus.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Pay a bonus",
                    "form": form,
                    "assignments": queryset,
                    "action": request.POST["action"],
                    "opts": self.model._meta,
                },
            )
        amount, reason = form.cleaned_data["amount_cents"], form.cleaned_data["reason"]
        self._each(
            request,
            queryset,
            lambda a: services.assignment_bonus(
                assignment=a, amount_cents=amount, reason=reason, confirm=True, actor=actor_of(request)
            ),
        )
        return None

    @admin.action(description="Exclude from the data (asks for the reason; the answers stay stored)")
    def exclude_from_data(self, request, queryset):
        what = "These workers' answers stay stored and are left out of every result, report and export of data."
        return self._decide(request, queryset, "Exclude from the data", what, services.assignment_exclude)

    @admin.action(description="Include in the data again (asks for the reason)")
    def include_in_data(self, request, queryset):
        what = "These workers' answers count again in every result, report and export of data."
        return self._decide(request, queryset, "Include in the data again", what, services.assignment_include)

    @admin.action(description="Add a note (no money moves)")
    def add_note(self, request, queryset):
        def note(*, assignment, reason, actor):
            return services.assignment_note(assignment=assignment, note=reason, actor=actor)

        return self._decide(request, queryset, "Add a note", "The note changes nothing else.", note)

    def _decide(self, request, queryset, title: str, what: str, decide):
        """A later decision that needs a reason: asked for, then recorded in the audit log."""
        reason = request.POST.get("feedback", "").strip()
        if "confirm" not in request.POST or not reason:
            message = f"{what} Say why: it is kept in the study's audit log with your name and the time."
            return confirm_page(self, request, queryset, title=title, message=message, reason="Why")
        self._each(request, queryset, lambda a: decide(assignment=a, reason=reason, actor=actor_of(request)))
        return None

    @admin.display(description="answers")
    def answered(self, obj):
        return obj.responses.count()


@admin.register(Response)
class ResponseAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["assignment", "trial", "answer", "correct", "response_ms", "created_at"]
    list_filter = ["correct", "trial__is_attention_check"]


@admin.register(Publication)
class PublicationAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["survey", "recruiter", "status", "external_id", "places", "cost_cents", "created_at"]
    readonly_fields = [f.name for f in Publication._meta.fields]


@admin.register(Payment)
class PaymentAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["assignment", "amount_cents", "reason", "sent_at"]
    readonly_fields = [f.name for f in Payment._meta.fields]
