"""REST API for studies, surveys, assignments and responses. Writes go through services."""

from __future__ import annotations

import io

import numpy as np
from django.http import HttpResponse
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response as ApiResponse

from inversion.models import InversionJob, TargetSet
from metamer.errors import MetamerError
from metamer.fields import IdField, ModelSerializer
from surveys import services
from surveys.models import Assignment, Response, SimilarityData, Study, Survey
from surveys.selectors import (
    public_base_url,
    similarity_group_matrix,
    survey_build_progress,
    survey_consistency,
    survey_design_warnings,
    survey_estimate,
    survey_links,
)


class StudySerializer(ModelSerializer):
    class Meta:
        model = Study
        fields = ["id", "name", "description", "recruiter", "completion_code", "created_at"]
        read_only_fields = ["completion_code", "created_at"]


class SurveySerializer(ModelSerializer):
    jobs = IdField(many=True, queryset=InversionJob.objects.all(), required=False)
    image_set = IdField(
        queryset=TargetSet.objects.all(), required=False, allow_null=True, help_text="Triplet surveys: the image set."
    )
    n_trials = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    n_attention_checks = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    link = serializers.SerializerMethodField()
    estimate = serializers.SerializerMethodField(help_text="Cost by the recruiter's fee rules, and duration.")
    warnings = serializers.SerializerMethodField(
        help_text="What lets a worker score without looking: answers by elimination, too few attention checks."
    )
    build = serializers.SerializerMethodField(
        help_text="IRI surveys are built before they open: step, done/total images through LPIPS, percent, ETA."
    )

    class Meta:
        model = Survey
        fields = [
            "id",
            "uuid",
            "study",
            "name",
            "kind",
            "jobs",
            "image_set",
            "sampling",
            "seed",
            "n_trials",
            "n_attention_checks",
            "n_repeats",
            "min_consistency",
            "adaptive_every",
            "adaptive_trials",
            "include_unconverged",
            "only_beating_null",
            "left_out_by_null",
            "workers_per_survey",
            "reward_cents",
            "minutes_allotted",
            "status",
            "build",
            "warnings",
            "link",
            "estimate",
            "created_at",
        ]
        read_only_fields = ["uuid", "status", "sampling", "left_out_by_null", "created_at"]

    def get_estimate(self, survey) -> dict:
        return survey_estimate(survey)

    def get_build(self, survey) -> dict:
        return survey_build_progress(survey)

    def get_warnings(self, survey) -> list[str]:
        return survey_design_warnings(survey)

    def get_link(self, survey) -> str:
        request = self.context.get("request")
        path = f"/s/{survey.uuid}/"
        return request.build_absolute_uri(path) if request else path


class SurveyViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Survey.objects.select_related("study").prefetch_related("jobs").order_by("pk")
    serializer_class = SurveySerializer

    def perform_create(self, serializer):
        serializer.instance = services.survey_assemble(**serializer.validated_data, in_background=True)

    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        survey = services.survey_open(survey=self.get_object())
        return ApiResponse(self.get_serializer(survey).data)

    @action(detail=True, methods=["get", "patch"])
    def content(self, request, pk=None):
        """What workers read and answer besides the trials: ``instructions_text``, ``consent_text``,
        ``n_practice``, ``exit_questions`` (one per line), ``ask_demographics``, ``thank_you_text``.
        PATCH any of them (until the survey closes)."""
        survey = self.get_object()
        if request.method == "PATCH":
            if not isinstance(request.data, dict):
                raise MetamerError("send a JSON object of the fields to change")
            survey = services.survey_content_update(survey=survey, changes=dict(request.data))
        return ApiResponse({field: getattr(survey, field) for field in services.CONTENT_FIELDS})

    @action(detail=True, methods=["get"])
    def consistency(self, request, pk=None):
        """Per worker: repeated trials answered both times and the share answered alike."""
        return ApiResponse(survey_consistency(self.get_object()))

    @action(detail=True, methods=["post"], url_path="adaptive-round")
    def adaptive_round(self, request, pk=None):
        """Add the triplets the answers so far are least sure of, for workers who start from now
        on; body: ``{"n_trials": 50, "places": 0}``."""
        form = AdaptiveRoundSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        survey = services.survey_adaptive_round(survey=self.get_object(), **form.validated_data)
        return ApiResponse(self.get_serializer(survey).data)

    @action(detail=True, methods=["post"], url_path="similarity-data")
    def similarity_data(self, request, pk=None):
        """A triplet, odd-one-out or rating survey's answers so far (workers who passed every
        check) as similarity data; body: ``{"name": ...}``."""
        name = str(request.data.get("name") or "")
        if not name:
            raise serializers.ValidationError({"name": "give the similarity data a name"})
        data = services.similarity_data_from_survey(survey=self.get_object(), name=name)
        return ApiResponse(SimilarityDataSerializer(data).data, status=status.HTTP_201_CREATED)


class AdaptiveRoundSerializer(serializers.Serializer):
    n_trials = serializers.IntegerField(min_value=1, max_value=2000)
    places = serializers.IntegerField(min_value=0, max_value=10_000, required=False, default=0)


class StudyViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Study.objects.order_by("pk")
    serializer_class = StudySerializer

    @action(detail=True, methods=["get"])
    def cost(self, request, pk=None):
        """What publishing the unpublished surveys would cost, by the recruiter's fee rules."""
        budget = services.study_budget(study=self.get_object())
        return ApiResponse(
            {
                "rewards_cents": budget.rewards_cents,
                "fee_cents": budget.fee_cents,
                "total_cents": budget.total_cents,
                "lines": budget.lines,
            }
        )

    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Publish to the recruiter; spends money, so it needs ``{"confirm": true}``."""
        publications = services.study_publish(
            study=self.get_object(), base_url=public_base_url(request), confirm=request.data.get("confirm") is True
        )
        return ApiResponse(
            [{"survey": p.survey_id, "status": p.status, "external_id": p.external_id} for p in publications]
        )

    @action(detail=True, methods=["get"])
    def links(self, request, pk=None):
        """Plain links: every listed place of every survey, with its link and status (unused, in
        progress, done, expired). Empty until the study is published."""
        base = public_base_url(request)
        study = self.get_object()
        return ApiResponse([row for survey in study.surveys.order_by("pk") for row in survey_links(survey, base)])

    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        return ApiResponse(services.study_sync(study=self.get_object()))

    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Apply the review policy; moves money, so it needs ``{"confirm": true}``."""
        result = services.study_review(study=self.get_object(), confirm=request.data.get("confirm") is True)
        return ApiResponse(result.to_dict())

    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        return ApiResponse({"stopped": services.study_stop(study=self.get_object())})


class AssignmentSerializer(ModelSerializer):
    participant = serializers.CharField(source="participant.external_id")

    class Meta:
        model = Assignment
        fields = ["id", "survey", "participant", "status", "started_at", "submitted_at"]


class ResponseSerializer(ModelSerializer):
    class Meta:
        model = Response
        fields = ["id", "assignment", "trial", "answer", "correct", "response_ms", "viewing", "created_at"]


class AssignmentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Assignment.objects.select_related("participant").order_by("pk")
    serializer_class = AssignmentSerializer


class ResponseViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Response.objects.order_by("pk")
    serializer_class = ResponseSerializer


class SimilarityDataSerializer(ModelSerializer):
    class Meta:
        model = SimilarityData
        fields = [
            "id",
            "name",
            "image_set",
            "kind",
            "source",
            "n_items",
            "n_people",
            "n_judgements",
            "reliability",
            "created_at",
        ]


class SimilarityUploadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    image_set = IdField(queryset=TargetSet.objects.all(), required=False, allow_null=True, default=None)
    images = serializers.FileField(
        required=False,
        default=None,
        help_text="Instead of image_set: the images (.zip or .tar), imported with the data.",
    )
    image_size = serializers.IntegerField(required=False, default=224, min_value=8, max_value=1024)
    kind = serializers.ChoiceField(choices=SimilarityData.Kind.choices)
    file = serializers.FileField()
    variable = serializers.CharField(required=False, default="", allow_blank=True)
    similarities = serializers.BooleanField(required=False, default=False)
    source = serializers.CharField(required=False, default="", allow_blank=True, max_length=300)


class SimilarityDataViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """People's similarity judgements over an image set. POST a multipart upload (a matrix file or
    a triplet CSV) to import one; ``matrix/`` gives the group's dissimilarities as CSV."""

    queryset = SimilarityData.objects.order_by("pk")
    serializer_class = SimilarityDataSerializer
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    def create(self, request, *args, **kwargs):
        form = SimilarityUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = services.similarity_data_create(**form.validated_data)
        return ApiResponse(SimilarityDataSerializer(data).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def matrix(self, request, pk=None):
        """The group's n × n dissimilarities in the image set's order (CSV, no header)."""
        buffer = io.StringIO()
        np.savetxt(buffer, similarity_group_matrix(self.get_object()), delimiter=",", fmt="%.6g")
        return HttpResponse(buffer.getvalue(), content_type="text/csv")
