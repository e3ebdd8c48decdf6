"""Survey designs: a design checked once and stored as checked, trials, previews and links."""

import json

from django import forms
from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from inversion.admin import thumbnail
from metamer.admin import (
    CreatedByServiceAdmin,
    ReadOnlyInline,
    RecordedOnly,
    RefreshWhileRunning,
    SaysWhatComesNext,
    act_on_each,
    check_in_form,
    progress_html,
)
from metamer.kept import KeepsUploads
from surveys import services
from surveys.kinds import KINDS
from surveys.models import (
    Survey,
    Trial,
    TrialSlot,
)
from surveys.selectors import (
    money,
    survey_build_progress,
    survey_consistency,
    survey_design_warnings,
    survey_estimate,
    survey_link_statuses,
)


class TrialSlotInline(ReadOnlyInline):
    model = TrialSlot
    fields = ["role", "index", "preview"]

    @admin.display(description="image")
    def preview(self, obj):
        return thumbnail(obj.stimulus, 64)


class SurveyDesignForm(KeepsUploads, forms.ModelForm):
    """Design a survey: assembly happens on save, through the service, or is refused with the reason."""

    kept_uploads = ("similarity",)
    n_trials = forms.IntegerField(
        label="Trials",
        required=False,
        min_value=1,
        help_text="Empty: every usable IRI (or target triple); triplet and odd-one-out surveys: all of a small set.",
    )
    n_attention_checks = forms.IntegerField(
        label="Attention checks", required=False, min_value=0, help_text="Empty: 5 per 100 trials, at least one."
    )
    seed = forms.IntegerField(initial=0, help_text="Every random choice of the assembly comes from it (recorded).")
    similarity = forms.FileField(
        required=False,
        help_text="Hard clustering: a CSV or NPY similarity matrix over the target set (e.g. ImageNet-HSJ).",
    )

    n_repeats = forms.IntegerField(
        required=False,
        min_value=0,
        initial=0,
        label="Repeated trials",
        help_text="Triplet, odd-one-out and rating surveys: trials asked twice, to measure each worker's consistency.",
    )

    class Meta:
        model = Survey
        fields = [
            "study",
            "name",
            "kind",
            "jobs",
            "image_set",
            "n_repeats",
            "min_consistency",
            "adaptive_every",
            "adaptive_trials",
            "include_unconverged",
            "only_beating_null",
            "workers_per_survey",
            "reward_cents",
            "minutes_allotted",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for policy in ("min_consistency", "adaptive_every", "adaptive_trials"):  # empty: the model's default
            self.fields[policy].required = False
        # The page shows each kind's own fields only (static/metamer/only_fields.js).
        kinds = {value: list(spec.design_fields) for value, spec in KINDS.items()}
        self.fields["kind"].widget.attrs["data-fields-by-choice"] = json.dumps(kinds)

    def clean(self):
        data = super().clean()
        if not self.errors:
            data["similarity_matrix"] = check_in_form(self, _similarity, data=data)
            # Checked and planned once: the write stores this very design.
            data["design"] = check_in_form(self, services.survey_assemble_check, **_design(data))
        return data


SHOWN_FOR = {
    "image_set": ("image_set", "sampling"),
    "similarity": ("similarity_source",),
    "only_beating_null": ("only_beating_null", "left_out_by_null"),
}
"""A design field and the stored fields that show it on a built survey's page."""


def _shown(survey: Survey, fields: list[str]) -> list[str]:
    """A built survey's fields that its kind uses (and those every kind has)."""
    by_kind = {shown for spec in KINDS.values() for f in spec.design_fields for shown in SHOWN_FOR.get(f, (f,))}
    mine = {shown for f in survey.spec.design_fields for shown in SHOWN_FOR.get(f, (f,))}
    return [f for f in fields if f not in by_kind or f in mine]


def _similarity(data: dict):
    """The uploaded hard-clustering similarity matrix, read and checked (None when none)."""
    upload = data.get("similarity")
    if not upload:
        return None
    jobs = list(data["jobs"])
    n_targets = jobs[0].target_set.targets.count() if jobs else 0
    upload.seek(0)
    return services.similarity_matrix_load(data=upload.read(), filename=upload.name, n_targets=n_targets)


def _design(data: dict) -> dict:
    """The design form's cleaned data as ``survey_assemble_check``'s settings."""
    upload = data.get("similarity")
    return {
        "jobs": list(data["jobs"]),
        "image_set": data.get("image_set"),
        "kind": data["kind"],
        "n_trials": data.get("n_trials"),
        "n_attention_checks": data.get("n_attention_checks"),
        "seed": data.get("seed") or 0,
        "include_unconverged": data.get("include_unconverged", False),
        "only_beating_null": data.get("only_beating_null", False),
        "similarity": data.get("similarity_matrix"),
        "similarity_name": upload.name if upload else "",
        "n_repeats": data.get("n_repeats") or 0,
        "min_consistency": data.get("min_consistency") or 0.0,
        "adaptive_every": data.get("adaptive_every") or 0,
        "adaptive_trials": data.get("adaptive_trials") or 10,
        # Hard clustering's LPIPS similarity is computed by the build, not in this request.
        "similarity_later": True,
    }


@admin.register(Survey)
class SurveyAdmin(SaysWhatComesNext, RefreshWhileRunning, CreatedByServiceAdmin):
    list_display = ["name", "study", "kind", "state", "n_trials", "n_attention_checks", "estimate", "preview_link"]
    list_filter = ["study", "kind", "status"]
    readonly_fields = [
        "uuid",
        "seed",
        "similarity_source",
        "state",
        "design_warnings",
        "estimate",
        "preview_link",
        "place_links",
        "consistency",
    ]
    filter_horizontal = ["jobs"]
    actions = ["open_surveys", "build_again", "save_similarity_data", "adaptive_round"]

    class Media:
        js = ["metamer/only_fields.js"]

    def is_running(self, obj):
        return obj.status == Survey.Status.BUILDING

    @admin.display(description="status", ordering="status")
    def state(self, obj):
        if obj.status == Survey.Status.FAILED:
            return format_html("<strong>build failed</strong>: {} (select it and “Build again”)", obj.build_step)
        if obj.status != Survey.Status.BUILDING:
            return obj.get_status_display()
        p = survey_build_progress(obj)
        if p["total"]:
            what = progress_html(p["done"], p["total"], p["eta_seconds"], "images through LPIPS")
            return format_html("building: {} ({})", what, p["step"])
        if obj.build_started_at:
            return f"building: {p['step'] or 'starting'}"
        return (
            "building: queued" if obj.enqueued_at else "building: waiting for the task queue (sent again each minute)"
        )

    @admin.display(description="answerable without looking")
    def design_warnings(self, obj):
        warnings = survey_design_warnings(obj)
        if not warnings:
            return "No: no option gives the answer away, and the attention checks catch random answers."
        return format_html_join("", '<p class="errornote" style="margin: 0 0 4px">{}</p>', ((w,) for w in warnings))

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SurveyDesignForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [*SurveyDesignForm._meta.fields, "n_trials", "n_attention_checks", "seed", "similarity"]
        return super().get_fields(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        return [
            (
                None,
                {"fields": ["name", "study", "kind", "state", "design_warnings", "uuid", "preview_link", "estimate"]},
            ),
            (
                "Trials",
                {
                    "fields": _shown(
                        obj,
                        [
                            "jobs",
                            "image_set",
                            "sampling",
                            "seed",
                            "n_trials",
                            "n_attention_checks",
                            "n_repeats",
                            "include_unconverged",
                            "only_beating_null",
                            "left_out_by_null",
                            "similarity_source",
                        ],
                    )
                },
            ),
            ("Places, pay and time", {"fields": ["workers_per_survey", "reward_cents", "minutes_allotted"]}),
            (
                "What workers read and answer besides the trials",
                {
                    "description": "Each page can be seen with the preview links above before anyone is recruited.",
                    "fields": [
                        "instructions_text",
                        "instructions_image",
                        "consent_text",
                        "n_practice",
                        "exit_questions",
                        "ask_demographics",
                        "thank_you_text",
                    ],
                },
            ),
            *(
                [("Data", {"fields": ["min_consistency", "adaptive_every", "adaptive_trials", "consistency"]})]
                if obj.spec.image_set
                else []
            ),
            ("Plain links", {"fields": ["place_links"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Trials are built from these: changing them afterwards would misdescribe the survey.
        return [
            *self.readonly_fields,
            "study",
            "kind",
            "jobs",
            "image_set",
            "sampling",
            "n_trials",
            "n_attention_checks",
            "include_unconverged",
            "only_beating_null",
            "left_out_by_null",
        ]

    def create(self, request, data):
        return services.survey_assemble(
            study=data["study"],
            name=data["name"],
            design=data["design"],
            workers_per_survey=data["workers_per_survey"],
            reward_cents=data["reward_cents"],
            minutes_allotted=data["minutes_allotted"],
            in_background=True,
        )

    @admin.display(description="cost and duration")
    def estimate(self, obj):
        e = survey_estimate(obj)
        recruiter = obj.study.recruiter
        places = f"{e['places']} place{'s' if e['places'] != 1 else ''}"
        if e["reward_cents"]:
            hourly = f", {money(e['hourly_rate_cents'], recruiter)} an hour" if e["hourly_rate_cents"] else ""
            cost = (
                f"{places} × {money(e['reward_cents'], recruiter)} + fee {money(e['fee_cents'], recruiter)} "
                f"({e['fee_rule']}) = {money(e['total_cents'], recruiter)}{hourly}"
            )
        else:
            cost = f"{places}; {e['fee_rule']} through Metamer"
        return (
            f"{cost}. About {e['estimated_minutes']:g} min a worker ({e['seconds_per_trial']:g} s a trial: "
            f"{e['seconds_per_trial_from']}); {e['minutes_allotted']} min allowed."
        )

    @admin.action(description="Open the selected surveys to workers")
    def open_surveys(self, request, queryset):
        act_on_each(self, request, queryset, lambda survey: services.survey_open(survey=survey))

    @admin.action(description="Build again the selected surveys whose build failed")
    def build_again(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda survey: services.survey_build_retry(survey=survey),
            lambda survey: f"{survey.name}: building again",
        )

    @admin.action(description="Save triplet, odd-one-out or rating answers as human similarity data")
    def save_similarity_data(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda survey: services.similarity_data_from_survey(
                survey=survey, name=f"{survey.name} ({timezone.now():%Y-%m-%d %H:%M})"
            ),
            lambda survey: f"{survey.name}: answers saved as human similarity data",
        )

    @admin.action(description="Add an adaptive round: the triplets the answers so far are least sure of")
    def adaptive_round(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda survey: services.survey_adaptive_round(survey=survey, n_trials=max(10, survey.n_trials // 5)),
            lambda survey: f"{survey.name}: triplets added for the workers who start from now on ({survey.sampling})",
        )

    @admin.display(description="consistency on repeated trials")
    def consistency(self, obj):
        if obj.pk is None or not obj.n_repeats:
            return "— (no repeated trials)"
        per_worker = survey_consistency(obj)
        if not per_worker:
            return "— (no submitted answers yet)"
        return format_html_join(
            ", ",
            "{}: {} of {}{}",
            (
                (worker, f"{c['consistency']:.0%}", c["repeats"], "" if c["kept"] else " (left out)")
                for worker, c in sorted(per_worker.items(), key=lambda item: item[1]["consistency"])
            ),
        )

    @admin.display(description="preview as a worker")
    def preview_link(self, obj):
        url = reverse("surveys:preview", args=[obj.uuid])
        pages = [("start", "?page=landing")]
        if obj.n_practice:
            pages.append(("practice", "?page=practice"))
        pages.append(("first trial", ""))
        if obj.exit_questions.strip() or obj.ask_demographics:
            pages.append(("exit questions", "?page=exit"))
        pages.append(("thank-you", "?page=done"))
        links = format_html_join(" · ", '<a href="{}{}" target="_blank">{}</a>', ((url, q, n) for n, q in pages))
        return format_html("{} (records nothing)", links)

    @admin.display(description="plain links (one per place)")
    def place_links(self, obj):
        statuses = survey_link_statuses(obj)
        if not statuses:
            return "Made when the study is published with plain links."
        # Without METAMER_PUBLIC_URL a link is completed by the browser from the address it shows.
        base = settings.METAMER_PUBLIC_URL.rstrip("/")
        rows = format_html_join(
            "",
            '<tr><td><code>{}</code></td><td>{}</td><td><button type="button" class="button" '
            "onclick=\"navigator.clipboard.writeText(new URL('{}', location.href).href)\">copy</button></td></tr>",
            (
                (
                    f"…{link.token[-8:]}",
                    status,
                    f"{base}{reverse('surveys:landing', args=[obj.uuid])}?link={link.token}",
                )
                for link, status in statuses
            ),
        )
        return format_html("<table><tr><th>link</th><th>status</th><th></th></tr>{}</table>", rows)


@admin.register(Trial)
class TrialAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["survey", "position", "is_attention_check", "iri", "correct"]
    list_filter = ["survey", "is_attention_check"]
    inlines = [TrialSlotInline]
