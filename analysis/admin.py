from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from analysis.models import Report
from analysis.selectors import study_results
from analysis.services import report_build
from metamer.errors import MetamerError
from surveys.admin import StudyAdmin as SurveysStudyAdmin
from surveys.models import Study


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["id", "study", "created_at", "downloads"]
    readonly_fields = ["summary"]

    @admin.display(description="download")
    def downloads(self, obj):
        return format_html(
            '<a class="button" href="{}">HTML report</a> <a class="button" href="{}">judgements CSV</a> '
            '<a class="button" href="{}">summary CSV</a>{}',
            obj.html.url,
            obj.csv.url,
            obj.summary_csv.url,
            format_html(' <a class="button" href="{}">triplets CSV</a>', obj.triplets_csv.url)
            if obj.triplets_csv
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
        results = study_results(obj)
        lines = [
            f"{results['assignments_done']}/{results['assignments_total']} places submitted "
            f"({results['assignments_in_progress']} in progress, {results['assignments_expired']} expired, not counted); "
            f"{results['workers']} workers, {len(results['excluded_workers'])} excluded (failed an attention check)."
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
                report = report_build(study=study)
            except MetamerError as exc:
                self.message_user(request, f"{study}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request, format_html('{}: report ready, <a href="{}">open it</a>.', study, report.html.url)
            )

    @admin.display(description="report")
    def latest_report(self, obj):
        report = obj.reports.order_by("-created_at").first()
        if report is None:
            return "–"
        return format_html(
            '<a href="{}">HTML</a> · <a href="{}">judgements CSV</a> · <a href="{}">summary CSV</a>{}',
            report.html.url,
            report.csv.url,
            report.summary_csv.url,
            format_html(' · <a href="{}">triplets CSV</a>', report.triplets_csv.url) if report.triplets_csv else "",
        )
