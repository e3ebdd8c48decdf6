"""Inversion jobs, their IRIs and LPIPS judgements."""

from django.contrib import admin
from django.db.models import Count, Q
from django.utils.html import format_html, format_html_join

from inversion import services
from inversion.admin.stimuli import thumbnail
from inversion.config import InversionConfig
from inversion.forms import SETTINGS, InversionJobForm, setting_fieldsets
from inversion.models import (
    IRI,
    InversionJob,
    LpipsJudgement,
)
from inversion.selectors import job_convergence, job_progress, job_recognition, recognition_sentence
from metamer.admin import (
    CreatedByServiceAdmin,
    ReadOnlyInline,
    RecordedOnly,
    RefreshWhileRunning,
    SaysWhatComesNext,
    act_on_each,
)


class IRIInline(ReadOnlyInline):
    model = IRI
    fields = [
        "target_preview",
        "seed_preview",
        "iri_preview",
        "rep_distance",
        "converged",
        "activation_rho",
        "beats_null",
        "best_step",
        "device",
    ]

    @admin.display(description="target")
    def target_preview(self, obj):
        return thumbnail(obj.target.stimulus, 48)

    @admin.display(description="seed")
    def seed_preview(self, obj):
        return thumbnail(obj.seed, 48)

    @admin.display(description="IRI")
    def iri_preview(self, obj):
        return thumbnail(obj.stimulus, 48)


@admin.register(InversionJob)
class InversionJobAdmin(SaysWhatComesNext, RefreshWhileRunning, CreatedByServiceAdmin):
    form = InversionJobForm
    list_display = ["id", "model_spec", "target_set", "status", "progress", "converged", "device", "created_at"]
    list_filter = ["status", "model_spec"]
    inlines = [IRIInline]
    actions = ["cancel", "resume", "recognise"]

    def is_running(self, obj):
        return obj.status in (InversionJob.Status.QUEUED, InversionJob.Status.RUNNING)

    def has_change_permission(self, request, obj=None):
        # A finished job is a record: its page is for reading (its IRIs, its convergence).
        if obj is not None and obj.status in (InversionJob.Status.DONE, InversionJob.Status.CANCELLED):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # What a job made stays as made: only a job with no IRIs yet may be deleted.
        if obj is not None and obj.iris.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["model_spec", "target_set", "preset", *(f.name for f in SETTINGS)]
        return self.get_readonly_fields(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["model_spec", "target_set", "preset"]}), *setting_fieldsets()]
        return super().get_fieldsets(request, obj)

    @admin.display(description="progress")
    def progress(self, obj):
        p = job_progress(obj)
        eta = f", ETA {p['eta_seconds']:.0f} s" if p["eta_seconds"] else ""
        stalled = "; stalled: its worker went silent, resume it" if p["stalled"] else ""
        stalled += f"; waiting: {p['waiting']}" if p["waiting"] else ""
        return format_html(
            '<progress value="{}" max="100" style="width: 8em; vertical-align: middle"></progress> {}',
            round(p["percent"], 1),
            f"{p['done']}/{p['total']} IRIs stored ({p['percent']:.0f}% of the steps{eta}){stalled}",
        )

    def get_queryset(self, request):
        # One query for the list's "converged" column instead of two per job.
        return (
            super()
            .get_queryset(request)
            .annotate(n_converged=Count("iris", filter=Q(iris__converged=True)), n_iris=Count("iris"))
        )

    @admin.display(description="converged")
    def converged(self, obj):
        return f"{obj.n_converged}/{obj.n_iris}"

    @admin.display(description="convergence")
    def convergence(self, obj):
        c = job_convergence(obj)
        if not c["stored"]:
            return "–"
        text = f"{c['converged']}/{c['stored']} under the threshold, median distance {c['median_distance']}"
        if c["tested_against_null"]:
            text += (
                f"; {c['beat_null']}/{c['tested_against_null']} beat the null (Feather et al.: activations' "
                "Spearman ρ with the target above every random pair of the target set's images)"
            )
        return f"{text}. {c['advice']}" if c["advice"] else text

    def get_readonly_fields(self, request, obj=None):
        return (
            [
                "model_spec",
                "target_set",
                "config",
                "status",
                "progress",
                "done",
                "total",
                "convergence",
                "recognition",
                "device",
                "error",
                "started_at",
                "finished_at",
            ]
            if obj
            else []
        )

    def create(self, request, data):
        return services.inversion_job_create(
            model_spec=data["model_spec"],
            target_set=data["target_set"],
            config=InversionConfig.from_dict(data["config"]),
        )

    @admin.display(description="recognised by other networks")
    def recognition(self, obj):
        rows = job_recognition(obj)
        if not rows:
            return (
                "Not yet: the action “Classify the IRIs with every classifier” reads each IRI, its target and its "
                "seed with every classifier Metamer can build (Feather et al.'s cross-model test)."
            )
        intro = (
            "A classifier recognises an IRI when it gives the IRI the class it gives the IRI's target; the same "
            "test on the seeds is the floor (noise shares a class with noise by chance)."
        )
        return format_html(
            "<p>{}</p><ul>{}</ul>",
            intro,
            format_html_join("", "<li>{}</li>", ((recognition_sentence(row),) for row in rows)),
        )

    @admin.action(description="Classify the IRIs with every classifier (recognition by other networks)")
    def recognise(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda job: services.job_recognition_start(job=job),
            done=lambda job: f"job {job.pk}: being classified; its page shows the readings when done",
        )

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset):
        act_on_each(self, request, queryset, lambda job: services.inversion_job_cancel(job=job))

    @admin.action(description="Resume the selected failed or stalled jobs where they stopped")
    def resume(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda job: services.inversion_job_resume(job=job),
            done=lambda job: f"job {job.pk}: queued again; {job.done} of {job.total} IRIs kept",
        )


@admin.register(IRI)
class IRIAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["id", "iri_preview", "job", "target", "seed_index", "rep_distance", "converged"]
    list_filter = ["converged", "job__model_spec"]

    @admin.display(description="IRI")
    def iri_preview(self, obj):
        return thumbnail(obj.stimulus, 48)


@admin.register(LpipsJudgement)
class LpipsJudgementAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["iri", "variant", "d_target", "d_seed", "aligned"]
    list_filter = ["variant", "iri__job__model_spec"]

    @admin.display(boolean=True)
    def aligned(self, obj):
        return obj.aligned
