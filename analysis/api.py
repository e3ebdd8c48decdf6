"""REST API for analysis: a study's live results and judgements, and its reports."""

from __future__ import annotations

import json

from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response as ApiResponse

from analysis.models import Report
from analysis.selectors import judgements, study_results
from surveys.api import StudyViewSet


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ["id", "study", "html", "csv", "summary_csv", "triplets_csv", "summary", "created_at"]


class ReportViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Report.objects.order_by("pk")
    serializer_class = ReportSerializer


class StudyWithResultsViewSet(StudyViewSet):
    """The surveys app's studies, with what analysis reads from them."""

    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """Live results: scores per condition, agreement with LPIPS, exclusions, the verdict."""
        return ApiResponse(json.loads(json.dumps(study_results(self.get_object()), default=str)))

    @action(detail=True, methods=["get"])
    def judgements(self, request, pk=None):
        """Every judgement, one record each (the tidy CSV's rows as JSON)."""
        frame = judgements(self.get_object())
        return ApiResponse(json.loads(frame.to_json(orient="records")))
