"""REST API for analysis: a study's live results and judgements, and its reports."""

from __future__ import annotations

import json

from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response as ApiResponse

from analysis import services
from analysis.config import AlignmentConfig
from analysis.models import AlignmentRun, Report
from metamer.errors import MetamerError
from metamer.fields import ModelSerializer
from surveys.api import StudyViewSet


class ReportSerializer(ModelSerializer):
    class Meta:
        model = Report
        fields = [
            "id",
            "study",
            "status",
            "message",
            "html",
            "csv",
            "summary_csv",
            "triplets_csv",
            "workers_csv",
            "codebook",
            "summary_json",
            "summary",
            "created_at",
        ]


class ReportViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Report.objects.order_by("pk")
    serializer_class = ReportSerializer


class StudyWithResultsViewSet(StudyViewSet):
    """The surveys app's studies, with what analysis reads from them."""

    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """Live results: scores per condition, agreement with LPIPS, exclusions, the verdict."""
        from analysis import selectors  # pandas and SciPy load with the results, not the app

        return ApiResponse(json.loads(json.dumps(selectors.study_results(self.get_object()), default=str)))

    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        """Start a report (HTML, CSVs, codebook, JSON): it comes back *building*; a worker writes
        its files (poll ``/api/reports/{id}/`` until ``status`` is ready)."""
        report = services.report_build(study=self.get_object(), in_background=True)
        return ApiResponse(ReportSerializer(report, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def judgements(self, request, pk=None):
        """Every judgement, one record each (the tidy CSV's rows as JSON)."""
        from analysis import selectors  # pandas and SciPy load with the results, not the app

        frame = selectors.judgements(self.get_object())
        return ApiResponse(json.loads(frame.to_json(orient="records")))


class AlignmentRunSerializer(ModelSerializer):
    class Meta:
        model = AlignmentRun
        fields = [
            "id",
            "name",
            "human",
            "probe_set",
            "config",
            "resolved_models",
            "status",
            "error",
            "progress",
            "results",
            "csv",
            "rdms",
            "report",
            "created_at",
            "finished_at",
        ]
        read_only_fields = [f for f in fields if f not in ("name", "human", "probe_set", "config")]


class AlignmentRunViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Many models against stored human similarity data. POST ``human`` (similarity data id),
    optional ``probe_set`` and ``config`` (``models``, ``layer``, ``metric``, ``bootstrap``,
    ``probe_shots``, …; defaults: every built-in, penultimate layers, cosine); GET it for
    ``progress``, then ``results`` and the files."""

    queryset = AlignmentRun.objects.order_by("pk")
    serializer_class = AlignmentRunSerializer

    def create(self, request, *args, **kwargs):
        form = AlignmentRunSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            config = AlignmentConfig.from_dict(form.validated_data.get("config") or {})
        except (ValueError, TypeError) as exc:
            raise MetamerError(str(exc), field="config") from None
        run = services.alignment_run_create(
            human=form.validated_data["human"],
            probe_set=form.validated_data.get("probe_set"),
            config=config,
            name=form.validated_data.get("name", ""),
        )
        return ApiResponse(AlignmentRunSerializer(run).data, status=status.HTTP_201_CREATED)
