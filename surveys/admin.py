import base64
import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from inversion.admin import thumbnail
from metamer.admin import CreatedByServiceAdmin, ReadOnlyInline, RecordedOnly, act_on_each, check_in_form
from metamer.errors import MetamerError
from surveys import services
from surveys.models import (
    Assignment,
    Participant,
    Payment,
    Publication,
    Response,
    SimilarityData,
    Study,
    Survey,
    Trial,
    TrialSlot,
)
from surveys.recruitment import RECRUITERS
from surveys.selectors import (
    assignment_reward_cents,
    money,
    similarity_group_matrix,
    survey_consistency,
    survey_estimate,
    survey_link_statuses,
)


class SurveyInline(ReadOnlyInline):
    model = Survey
    fields = ["name", "kind", "status", "n_trials", "n_attention_checks", "link"]
    show_change_link = True

    @admin.display(description="worker link")
    def link(self, obj):
        url = reverse("surveys:landing", args=[obj.uuid])
        return format_html('<a href="{}" target="_blank">{}</a>', url, url)


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["name", "recruiter", "surveys_count", "progress", "created_at"]
    inlines = [SurveyInline]
    readonly_fields = ["completion_code", "qualification_type_id"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["publish", "sync", "review", "stop"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # The code is made once, when the study is saved: the add form has none to show.
        return fields if obj else [f for f in fields if f not in ("completion_code", "live_results")]

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
                return TemplateResponse(
                    request,
                    "admin/surveys/confirm_spend.html",
                    {
                        **self.admin_site.each_context(request),
                        "title": f"Confirm: {verb}",
                        "message": exc.message,
                        "studies": queryset,
                        "action": request.POST["action"],
                        "opts": self.model._meta,
                    },
                )
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
        base_url = settings.METAMER_PUBLIC_URL
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
        return self._confirmed(request, queryset, "review", lambda s, ok: services.study_review(study=s, confirm=ok))

    @admin.action(description="Stop recruiting")
    def stop(self, request, queryset):
        return self._confirmed(request, queryset, "stop", lambda s, ok: services.study_stop(study=s))

    @admin.display(description="surveys")
    def surveys_count(self, obj):
        return obj.surveys.count()

    @admin.display(description="assignments submitted")
    def progress(self, obj):
        submitted = Assignment.objects.filter(survey__study=obj).exclude(status=Assignment.Status.STARTED).count()
        wanted = sum(s.workers_per_survey for s in obj.surveys.all())
        return f"{submitted}/{wanted}"


def _surveys_published(publications: list) -> str:
    text = f"{len(publications)} survey{'' if len(publications) == 1 else 's'} on the recruiter"
    if publications:
        text += RECRUITERS[publications[0].recruiter].published_hint
    return text


class TrialSlotInline(ReadOnlyInline):
    model = TrialSlot
    fields = ["role", "index", "preview"]

    @admin.display(description="image")
    def preview(self, obj):
        return thumbnail(obj.stimulus, 64)


class SurveyDesignForm(forms.ModelForm):
    """Design a survey: assembly happens on save, through the service, or is refused with the reason."""

    n_trials = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Empty: every usable IRI (or target triple); triplet and odd-one-out surveys: all of a small set.",
    )
    n_attention_checks = forms.IntegerField(
        required=False, min_value=0, help_text="Empty: 5 per 100 trials, at least one."
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
            "workers_per_survey",
            "reward_cents",
            "minutes_allotted",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for policy in ("min_consistency", "adaptive_every", "adaptive_trials"):  # empty: the model's default
            self.fields[policy].required = False

    def clean(self):
        data = super().clean()
        if not self.errors:
            data["similarity_matrix"] = check_in_form(self, _similarity, data=data)
            # Checked and planned once: the write stores this very design.
            data["design"] = check_in_form(self, services.survey_assemble_check, **_design(data))
        return data


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
        "similarity": data.get("similarity_matrix"),
        "similarity_name": upload.name if upload else "",
        "n_repeats": data.get("n_repeats") or 0,
        "min_consistency": data.get("min_consistency") or 0.0,
        "adaptive_every": data.get("adaptive_every") or 0,
        "adaptive_trials": data.get("adaptive_trials") or 10,
    }


@admin.register(Survey)
class SurveyAdmin(CreatedByServiceAdmin):
    list_display = ["name", "study", "kind", "status", "n_trials", "n_attention_checks", "estimate", "preview_link"]
    list_filter = ["study", "kind", "status"]
    readonly_fields = ["uuid", "seed", "similarity_source", "estimate", "preview_link", "place_links", "consistency"]
    filter_horizontal = ["jobs"]
    actions = ["open_surveys", "save_similarity_data", "adaptive_round"]

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
            (None, {"fields": ["name", "study", "kind", "status", "uuid", "preview_link", "estimate"]}),
            (
                "Trials",
                {
                    "fields": [
                        "jobs",
                        "image_set",
                        "sampling",
                        "seed",
                        "n_trials",
                        "n_attention_checks",
                        "n_repeats",
                        "include_unconverged",
                        "similarity_source",
                    ]
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
            ("Data", {"fields": ["min_consistency", "adaptive_every", "adaptive_trials", "consistency"]}),
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
        ]

    def create(self, request, data):
        return services.survey_assemble(
            study=data["study"],
            name=data["name"],
            design=data["design"],
            workers_per_survey=data["workers_per_survey"],
            reward_cents=data["reward_cents"],
            minutes_allotted=data["minutes_allotted"],
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
        base = settings.METAMER_PUBLIC_URL.rstrip("/")
        rows = format_html_join(
            "",
            '<tr><td><code>{}</code></td><td>{}</td><td><button type="button" class="button" '
            "onclick=\"navigator.clipboard.writeText('{}')\">copy</button></td></tr>",
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
    list_filter = ["status", "flagged", "survey"]
    readonly_fields = ["token", "recruiter_status"]
    actions = ["approve", "reject", "flag", "block", "bonus"]

    def _confirm_page(self, request, queryset, *, title: str, message: str, **extra):
        return TemplateResponse(
            request,
            "admin/surveys/confirm_assignments.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "message": message,
                "assignments": queryset,
                "action": request.POST["action"],
                "opts": self.model._meta,
                **extra,
            },
        )

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
            return self._confirm_page(request, queryset, title="Confirm: approve", message=message)
        self._each(request, queryset, lambda a: services.assignment_approve(assignment=a, confirm=True))
        return None

    @admin.action(description="Reject (asks for the feedback the worker will see)")
    def reject(self, request, queryset):
        feedback = request.POST.get("feedback", "").strip()
        if "confirm" not in request.POST or not feedback:
            message = (
                "Rejection hurts a worker's record and many ethics boards discourage it; the default policy approves "
                "everyone who finished and only leaves attention-check failures out of the analysis."
            )
            return self._confirm_page(request, queryset, title="Confirm: reject", message=message, ask_feedback=True)
        self._each(request, queryset, lambda a: services.assignment_reject(assignment=a, feedback=feedback))
        return None

    @admin.action(description="Block the worker at the recruiter (asks for the reason)")
    def block(self, request, queryset):
        reason = request.POST.get("feedback", "").strip()
        if "confirm" not in request.POST or not reason:
            message = "Blocking keeps these workers out of all your future tasks on the recruiter."
            return self._confirm_page(request, queryset, title="Confirm: block", message=message, ask_feedback=True)
        self._each(request, queryset, lambda a: services.participant_block(assignment=a, reason=reason))
        return None

    @admin.action(description="Flag for a closer look (no money moves)")
    def flag(self, request, queryset):
        for assignment in queryset:
            services.assignment_flag(assignment=assignment, note=f"flagged by {request.user}")

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
            lambda a: services.assignment_bonus(assignment=a, amount_cents=amount, reason=reason, confirm=True),
        )
        return None

    @admin.display(description="answers")
    def answered(self, obj):
        return obj.responses.count()


@admin.register(Response)
class ResponseAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["assignment", "trial", "answer", "correct", "response_ms", "created_at"]
    list_filter = ["correct", "trial__is_attention_check"]

    def has_change_permission(self, request, obj=None):
        # Answers are evidence: nobody edits them.
        return False


@admin.register(Publication)
class PublicationAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["survey", "recruiter", "status", "external_id", "places", "cost_cents", "created_at"]
    readonly_fields = [f.name for f in Publication._meta.fields]


@admin.register(Payment)
class PaymentAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["assignment", "amount_cents", "reason", "sent_at"]
    readonly_fields = [f.name for f in Payment._meta.fields]


class SimilarityImportForm(forms.ModelForm):
    file = forms.FileField(
        help_text="Matrices: a .csv (one n×n matrix), .npy (n×n or people×n×n) or .mat (rsatoolbox's layout). "
        "Triplets: a .csv with a header row i,j,k,choice (1: i is closer to j) or i,j,k,chosen, and "
        "optionally worker. Indices and rows follow the image set's order."
    )
    variable = forms.CharField(required=False, help_text="The .mat variable, when the file holds several matrices.")
    similarities = forms.BooleanField(
        required=False, help_text="The matrices hold similarities (larger = more alike), not dissimilarities."
    )
    images = forms.FileField(
        required=False,
        help_text="Instead of an image set: the images the data are about, as a .zip or .tar, imported in the same "
        "step as an image set of this name. Rows, columns and indices follow their file names, sorted.",
    )
    image_size = forms.IntegerField(
        required=False,
        initial=224,
        min_value=8,
        max_value=1024,
        help_text="With images: the side they are resized to, in pixels (empty: 224).",
    )

    class Meta:
        model = SimilarityData
        fields = ["name", "image_set", "kind", "source"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["image_set"].required = False


@admin.register(SimilarityData)
class SimilarityDataAdmin(CreatedByServiceAdmin):
    list_display = ["name", "image_set", "kind", "n_items", "n_people", "n_judgements", "split_half", "ceiling"]
    list_filter = ["kind"]
    readonly_fields = ["split_half", "ceiling", "least_reliable_images", "group_matrix"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SimilarityImportForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "image_set", "images", "image_size", "kind", "file", "variable", "similarities", "source"]
        return ["name", "image_set", "kind", "source", "n_items", "n_people", "n_judgements", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["image_set", "kind", "n_items", "n_people", "n_judgements", *self.readonly_fields]

    def create(self, request, data):
        fields = ("name", "kind", "file", "image_set", "images", "image_size", "variable", "similarities", "source")
        return services.similarity_data_create(
            **{field: data[field] for field in fields} | {"image_size": data["image_size"] or 224}
        )

    @admin.display(description="split-half reliability")
    def split_half(self, obj):
        r = obj.reliability
        if not r:
            return "— (one matrix)" if obj.kind == SimilarityData.Kind.MATRICES else "— (one worker)"
        if obj.kind == SimilarityData.Kind.TRIPLETS:
            agreement = r.get("split_half_agreement")
            return "— (no triplet asked twice)" if agreement is None else f"halves agree on {agreement:.0%} of triplets"
        return (
            f"r = {r['split_half_r']:.2f} (Spearman–Brown {r['spearman_brown']:.2f}); "
            f"95% of splits {r['r_low']:.2f}–{r['r_high']:.2f}"
        )

    @admin.display(description="noise ceiling")
    def ceiling(self, obj):
        r = obj.reliability
        if not r:
            return "—"
        if obj.kind == SimilarityData.Kind.TRIPLETS:
            value = r.get("noise_ceiling")
            return "—" if value is None else f"{value:.0%} triplet agreement (leave one worker out)"
        return f"Spearman {r['noise_ceiling_low']:.2f}–{r['noise_ceiling_high']:.2f}"

    @admin.display(description="the group's dissimilarities")
    def group_matrix(self, obj):
        from matplotlib.figure import Figure

        matrix = similarity_group_matrix(obj)
        fig = Figure(figsize=(4.2, 3.6))
        ax = fig.subplots()
        shown = ax.imshow(matrix, cmap="viridis", interpolation="nearest")
        fig.colorbar(shown, ax=ax, label="dissimilarity")
        ax.set_xlabel("image (index in the set)")
        ax.set_ylabel("image")
        ax.set_title("mean over people" if obj.kind == SimilarityData.Kind.MATRICES else "t-STE fit to the triplets")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return format_html(
            '<img alt="The group\'s dissimilarity matrix" src="data:image/png;base64,{}">',
            base64.b64encode(buffer.getvalue()).decode(),
        )

    @admin.display(description="least reliable images")
    def least_reliable_images(self, obj):
        per_item = obj.reliability.get("item_reliability") if obj.reliability else None
        if not per_item:
            return "—"
        targets = {t.index: t for t in obj.image_set.targets.select_related("stimulus")}
        worst = sorted(range(len(per_item)), key=lambda i: per_item[i])[:6]
        return format_html_join(
            " ",
            '<span style="display:inline-block;text-align:center;margin-right:6px">{}<br>#{} r={}</span>',
            ((thumbnail(targets[i].stimulus, 56), i, f"{per_item[i]:.2f}") for i in worst if i in targets),
        )
