from django.contrib import admin
from django.utils.html import format_html

from analysis.models import LpipsJudgement, Report


@admin.register(LpipsJudgement)
class LpipsJudgementAdmin(admin.ModelAdmin):
    list_display = ["iri", "variant", "d_target", "d_seed", "aligned"]
    list_filter = ["variant", "iri__job__model_spec"]

    @admin.display(boolean=True)
    def aligned(self, obj):
        return obj.aligned


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["id", "study", "created_at", "downloads"]
    readonly_fields = ["summary"]

    @admin.display(description="download")
    def downloads(self, obj):
        return format_html(
            '<a class="button" href="{}">HTML report</a> <a class="button" href="{}">judgements CSV</a> '
            '<a class="button" href="{}">summary CSV</a>',
            obj.html.url,
            obj.csv.url,
            obj.summary_csv.url,
        )
