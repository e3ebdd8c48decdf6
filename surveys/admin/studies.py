"""Studies: recruiter, review policy, publishing and paying, the audit log of later decisions."""

import json

from django.contrib import admin, messages
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from metamer.admin import ReadOnlyInline, SaysWhatComesNext, confirm_page
from metamer.errors import MetamerError
from surveys import services
from surveys.admin.audit import StudyAuditInline
from surveys.models import (
    Assignment,
    Study,
    Survey,
)
from surveys.recruitment import RECRUITERS
from surveys.selectors import public_base_url


class SurveyInline(ReadOnlyInline):
    model = Survey
    fields = ["name", "kind", "status", "n_trials", "n_attention_checks", "link"]
    show_change_link = True

    @admin.display(description="worker link")
    def link(self, obj):
        url = reverse("surveys:landing", args=[obj.uuid])
        return format_html('<a href="{}" target="_blank">{}</a>', url, url)


@admin.register(Study)
class StudyAdmin(SaysWhatComesNext, admin.ModelAdmin):
    list_display = ["name", "recruiter", "surveys_count", "progress", "created_at"]
    inlines = [SurveyInline]
    readonly_fields = ["completion_code", "qualification_type_id", "add_survey"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["publish", "sync", "review", "stop"]

    class Media:
        js = ["metamer/only_fields.js"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "recruiter" in form.base_fields:
            # Each recruiter's own fields only (static/metamer/only_fields.js).
            fields = {name: list(terms.study_fields) for name, terms in RECRUITERS.items()}
            form.base_fields["recruiter"].widget.attrs["data-fields-by-choice"] = json.dumps(fields)
        return form

    @admin.display(description="surveys")
    def add_survey(self, obj):
        url = f"{reverse('admin:surveys_survey_add')}?study={obj.pk}"
        return format_html('<a class="addlink" href="{}">Add a survey to this study</a> (listed below)', url)

    def get_inlines(self, request, obj=None):
        # A new study has no decisions yet; a saved one shows every decision taken in it.
        return [SurveyInline, StudyAuditInline] if obj else [SurveyInline]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The code is made once, when the study is saved: the add form has none to show.
        return fields if obj else [f for f in fields if f not in ("completion_code", "live_results", "add_survey")]

    def _confirmed(self, request, queryset, verb: str, run):
        """Run ``run(study, confirm)``; a spending action first shows its cost on a confirmation page."""
        if "confirm" not in request.POST:
            try:
                for study in queryset:
                    run(study, False)
            except MetamerError as exc:
                if exc.code != "confirm":
                    self.message_user(request, f"{study}: {exc.message}", messages.ERROR)
                    return None
                return confirm_page(self, request, queryset, title=f"Confirm: {verb}", message=exc.message)
        for study in queryset:
            try:
                result = run(study, True)
            except MetamerError as exc:
                self.message_user(request, f"{study}: {exc.message}", messages.ERROR)
                continue
            level = messages.WARNING if getattr(result, "failures", None) else messages.SUCCESS
            self.message_user(request, f"{study}: {verb} done: {result}.", level)
        return None

    @admin.action(description="Publish to the recruiter (shows the cost first)")
    def publish(self, request, queryset):
        base_url = public_base_url(request)
        return self._confirmed(
            request,
            queryset,
            "publish",
            lambda s, ok: _surveys_published(services.study_publish(study=s, base_url=base_url, confirm=ok)),
        )

    @admin.action(description="Sync with the recruiter")
    def sync(self, request, queryset):
        for study in queryset:
            self.message_user(request, f"{study}: {services.study_sync(study=study)}")

    @admin.action(description="Review submitted assignments by the study's policy (shows the cost first)")
    def review(self, request, queryset):
        return self._confirmed(
            request,
            queryset,
            "review",
            lambda s, ok: services.study_review(study=s, confirm=ok, actor=request.user.get_username()),
        )

    @admin.action(description="Stop recruiting")
    def stop(self, request, queryset):
        return self._confirmed(request, queryset, "stop", lambda s, ok: services.study_stop(study=s))

    @admin.display(description="surveys")
    def surveys_count(self, obj):
        return obj.surveys.count()

    @admin.display(description="assignments submitted")
    def progress(self, obj):
        # Finished work only (submitted, approved, rejected): an expired place is not a submission.
        submitted = Assignment.objects.filter(survey__study=obj, status__in=Assignment.COUNTED).count()
        wanted = sum(s.workers_per_survey for s in obj.surveys.all())
        return f"{submitted}/{wanted}"


def _surveys_published(publications: list) -> str:
    text = f"{len(publications)} survey{'' if len(publications) == 1 else 's'} on the recruiter"
    if publications:
        text += RECRUITERS[publications[0].recruiter].published_hint
    return text
