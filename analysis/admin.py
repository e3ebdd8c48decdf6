from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from analysis import services
from analysis.config import DEFAULT_MODELS, MAX_BOOTSTRAP, AlignmentConfig
from analysis.models import AlignmentRun, Report
from metamer.admin import CreatedByServiceAdmin, RecordedOnly, RefreshWhileRunning, check_in_form, confirm_page
from metamer.errors import MetamerError
from science.comparison import ceiling_words
from science.names import METRICS
from surveys.admin import StudyAdmin as SurveysStudyAdmin
from surveys.admin.workers import ParticipantAdmin as SurveysParticipantAdmin
from surveys.models import Participant, SimilarityData, Study


@admin.register(Report)
class ReportAdmin(RefreshWhileRunning, RecordedOnly, admin.ModelAdmin):
    list_display = ["id", "study", "created_at", "state", "downloads"]
    readonly_fields = ["state", "downloads", "summary"]

    def is_running(self, obj):
        return obj.status == Report.Status.BUILDING

    @admin.display(description="state")
    def state(self, obj):
        if obj.status == Report.Status.BUILDING:
            return "being built (tables, plots and files; this page reloads itself until it is ready)"
        if obj.status == Report.Status.FAILED:
            return f"failed: {obj.message}"
        return "ready"

    @admin.display(description="download")
    def downloads(self, obj):
        if obj.status != Report.Status.READY:
            return "–"
        return format_html(
            '<a class="button" href="{}">HTML report</a> <a class="button" href="{}">judgements CSV</a> '
            '<a class="button" href="{}">summary CSV</a>{}{}{}',
            obj.html.url,
            obj.csv.url,
            obj.summary_csv.url,
            format_html(' <a class="button" href="{}">triplets CSV</a>', obj.triplets_csv.url)
            if obj.triplets_csv
            else "",
            format_html(' <a class="button" href="{}">workers CSV</a>', obj.workers_csv.url) if obj.workers_csv else "",
            format_html(
                ' <a class="button" href="{}">codebook</a> <a class="button" href="{}">summary JSON</a>',
                obj.codebook.url,
                obj.summary_json.url,
            )
            if obj.codebook
            else "",
        )


# A study's results and reports are analysis's: its admin adds them to the surveys app's study
# page rather than the surveys app reaching up for them.
admin.site.unregister(Study)


@admin.register(Study)
class StudyAdmin(SurveysStudyAdmin):
    list_display = [*SurveysStudyAdmin.list_display[:-1], "latest_report", "created_at"]
    readonly_fields = ["live_results", *SurveysStudyAdmin.readonly_fields]
    actions = ["build_report", *SurveysStudyAdmin.actions]

    @admin.display(description="live results")
    def live_results(self, obj):
        if obj.pk is None:
            return "–"
        from analysis import selectors  # pandas and SciPy load with the results, not the app

        results = selectors.study_results(obj)
        lines = [
            f"{results['assignments_done']}/{results['assignments_total']} places submitted "
            f"({results['assignments_in_progress']} in progress, {results['assignments_expired']} expired, not counted); "
            f"{results['workers_counted']} of {results['workers']} workers counted, "
            f"{len(results['excluded_workers'])} excluded (failed an attention check)."
        ]
        who = results.get("participants", "people")
        lines += [
            f"{r['condition']} ({r['kind']}): {who} {r['human_mean']:.0%} ± {r['human_std']:.0%} over "
            f"{r['n_workers']} workers, LPIPS "
            + (
                f"{r['lpips_mean']:.0%} ± {r['lpips_std']:.0%}"
                if r["lpips_mean"] is not None
                else "– (every variant circular)"
            )
            + f", guessing {r['chance']:.0%}"
            for r in results["conditions"]
        ]
        lines.append(results["verdict"])
        return format_html_join("", "<p>{}</p>", ((line,) for line in lines))

    @admin.action(description="Build a report (HTML + CSV) for the selected studies")
    def build_report(self, request, queryset):
        for study in queryset:
            try:
                report = services.report_build(study=study, in_background=True)
            except MetamerError as exc:
                self.message_user(request, f"{study}: {exc.message}", messages.ERROR)
                continue
            url = reverse("admin:analysis_report_change", args=[report.pk])
            self.message_user(
                request,
                format_html(
                    '{}: the report is being built; <a href="{}">its page</a> shows it when ready.', study, url
                ),
            )

    @admin.display(description="report")
    def latest_report(self, obj):
        building = obj.reports.filter(status=Report.Status.BUILDING).exists()
        report = obj.reports.filter(status=Report.Status.READY).order_by("-created_at").first()
        if report is None:
            return "being built…" if building else "–"
        return format_html(
            '<a href="{}">HTML</a> · <a href="{}">judgements CSV</a> · <a href="{}">summary CSV</a>{}{}',
            report.html.url,
            report.csv.url,
            report.summary_csv.url,
            format_html(' · <a href="{}">triplets CSV</a>', report.triplets_csv.url) if report.triplets_csv else "",
            format_html(' · <a href="{}">audit log CSV</a>', report.audit_csv.url) if report.audit_csv else "",
        )


class AlignmentRunForm(forms.ModelForm):
    models = forms.MultipleChoiceField(
        choices=[(name, name) for name in DEFAULT_MODELS],
        initial=list(DEFAULT_MODELS),
        widget=forms.CheckboxSelectMultiple,
        help_text="Built-ins; their random-weight twins are the untrained controls.",
    )
    extra_models = forms.CharField(
        required=False, help_text="Registered model specs to add, by name, separated by commas."
    )
    layer = forms.CharField(
        required=False, help_text="One layer for every model; empty: each one's penultimate layer (a spec's own)."
    )
    metric = forms.ChoiceField(choices=[(m, m) for m in METRICS], initial="cosine")
    comparison = forms.ChoiceField(
        choices=[
            ("group", "the group-mean matrix (its ceiling from split-half reliability)"),
            ("person", "each person's matrix, averaged (Nili's ceiling); needs one matrix per person"),
        ],
        initial="group",
        required=False,
        help_text="Which human matrix each model is compared with; the figures and the ceiling name it.",
    )
    bootstrap = forms.IntegerField(initial=1000, min_value=0, max_value=MAX_BOOTSTRAP, help_text="Image resamples.")
    probe_shots = forms.CharField(
        required=False,
        help_text="With a probe set: examples per class for n-shot linear probes, e.g. 1, 5, 10, 20, 40, 80.",
    )

    class Meta:
        model = AlignmentRun
        fields = ["name", "human", "probe_set"]

    def clean(self):
        data = super().clean()
        models = [*data.get("models", []), *(m.strip() for m in data.get("extra_models", "").split(",") if m.strip())]
        try:
            shots = [int(n) for n in data.get("probe_shots", "").replace(",", " ").split()]
        except ValueError:
            raise forms.ValidationError({"probe_shots": "whole numbers, separated by commas"}) from None
        try:
            data["config"] = AlignmentConfig(
                models=models,
                layer=data.get("layer", ""),
                metric=data.get("metric", "cosine"),
                comparison=data.get("comparison") or "group",
                bootstrap=data.get("bootstrap") or 0,
                probe_shots=shots,
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        human = data.get("human")
        per_person = human is not None and human.kind == SimilarityData.Kind.MATRICES and human.n_people >= 2
        if data["config"].comparison == "person" and not per_person:
            raise forms.ValidationError(
                {"comparison": f"{human}: no matrix per person to compare with; compare with the group mean"}
            )
        check_in_form(self, services.zoo_models_check, config=data["config"])
        return data


@admin.register(AlignmentRun)
class AlignmentRunAdmin(CreatedByServiceAdmin):
    """Many models against one set of human similarity data: pick the data and the models, save,
    and the run embeds one model per task; its page shows progress, then the table and files."""

    list_display = ["__str__", "human", "status", "progress_shown", "created_at", "downloads"]
    list_filter = ["status"]
    readonly_fields = ["status", "progress_shown", "error", "table", "downloads", "settings"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = AlignmentRunForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [
                "name",
                "human",
                "models",
                "extra_models",
                "layer",
                "metric",
                "comparison",
                "bootstrap",
                "probe_set",
                "probe_shots",
            ]
        return ["name", "human", "probe_set", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["human", "probe_set", *self.readonly_fields]

    def create(self, request, data):
        return services.alignment_run_create(
            human=data["human"], config=data["config"], probe_set=data.get("probe_set"), name=data.get("name", "")
        )

    @admin.display(description="progress")
    def progress_shown(self, obj):
        done, total = len(obj.progress.get("done", [])), obj.progress.get("total", 0)
        if obj.status == AlignmentRun.Status.DONE:
            return f"{total} models aligned"
        return format_html(
            '<progress value="{}" max="{}"></progress> {} of {} models embedded', done, total, done, total
        )

    @admin.display(description="settings")
    def settings(self, obj):
        c = obj.config
        probes = f"{', '.join(map(str, c['probe_shots']))}-shot {c['probe_head']} probes, {c['probe_seeds']} seeds"
        return (
            f"{len(c['models'])} models ({', '.join(c['models'])}); layer: {c['layer'] or 'each one’s penultimate'}; "
            f"{c['metric']} distance; {c['bootstrap']} image resamples; seed {c['seed']}; "
            f"{probes if c['probe_shots'] else 'no probes'}"
        )

    @admin.display(description="files")
    def downloads(self, obj):
        if not obj.report:
            return "–"
        return format_html(
            '<a class="button" href="{}">report</a> <a class="button" href="{}">alignment.csv</a> '
            '<a class="button" href="{}">matrices (.npz)</a>',
            obj.report.url,
            obj.csv.url,
            obj.rdms.url,
        )

    @admin.display(description="alignment with people")
    def table(self, obj):
        rows = sorted(obj.results.get("rows", []), key=lambda r: -r["spearman"])
        if not rows:
            return "–"
        ceiling = obj.results.get("ceiling", {})
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>", "model", "layer", "Spearman [95%]", "triplet"
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td></tr>",
            (
                (
                    r["model"],
                    r["layer"],
                    f"{r['spearman']:.3f}",
                    f"{r['spearman_low']:.3f}",
                    f"{r['spearman_high']:.3f}",
                    f"{r['triplet']:.3f}",
                )
                for r in rows
            ),
        )
        note = "; ".join(ceiling_words(ceiling)) if "comparison" in ceiling else ""
        return format_html("<table>{}{}</table><p>{}</p>", head, body, note)


# Withdrawing a participant also deletes the study's built reports (analysis owns them): the
# action lives here, on the surveys app's participant page.
admin.site.unregister(Participant)


@admin.register(Participant)
class ParticipantAdmin(SurveysParticipantAdmin):
    actions = ["withdraw"]

    @admin.action(description="Withdraw: delete their answers and identifiers (asks for the reason)")
    def withdraw(self, request, queryset):
        reason = request.POST.get("feedback", "").strip()
        if "confirm" not in request.POST or not reason:
            message = (
                "Withdrawal deletes these people's answers, their recruiter ids and exit answers, and every report "
                "built from their studies (build them again afterwards). It cannot be undone; the audit log keeps "
                "who did it and why."
            )
            return confirm_page(
                self,
                request,
                queryset,
                title="Confirm: withdraw",
                message=message,
                reason="Why (kept in the audit log)",
            )
        for participant in queryset:
            try:
                withdrawal, reports = services.participant_delete(
                    participant=participant, reason=reason, actor=request.user.get_username()
                )
            except MetamerError as exc:
                self.message_user(request, f"{participant}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"Withdrawn: {withdrawal}; {reports} reports deleted.")
        return None
