"""REST API for networks, targets, jobs and IRIs. Writes go through services."""

from __future__ import annotations

from dataclasses import fields

from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inversion import services
from inversion.config import InversionConfig
from inversion.models import IRI, NOISE_LAWS, InversionJob, ModelSpec, TargetSet
from inversion.selectors import job_progress, job_recognition
from metamer.errors import MetamerError
from metamer.fields import IdField, ModelSerializer


class ModelSpecSerializer(ModelSerializer):
    class Meta:
        model = ModelSpec
        fields = [
            "id",
            "name",
            "source",
            "architecture",
            "layer",
            "fake_relu",
            "fake_relu_rule",
            "cifar_stem",
            "input_size",
            "mean",
            "std",
            "imagenet_top1",
            "status",
            "message",
            "created_at",
        ]
        read_only_fields = ["id", "status", "message", "created_at"]
        extra_kwargs = {
            "layer": {"required": False, "allow_blank": True},
            "mean": {"required": False},
            "std": {"required": False},
        }


class TargetSetSerializer(ModelSerializer):
    n_targets = serializers.IntegerField(source="targets.count", read_only=True)

    class Meta:
        model = TargetSet
        fields = [
            "id",
            "name",
            "kind",
            "source",
            "image_size",
            "resize_policy",
            "sample_seed",
            "n_targets",
            "status",
            "imported",
            "total",
            "message",
            "created_at",
        ]


class InversionConfigField(serializers.JSONField):
    """The job's settings: any subset of InversionConfig's fields; the rest take defaults."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError("an object of inversion settings")
        try:
            return InversionConfig.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise serializers.ValidationError(str(exc)) from None


class InversionJobSerializer(ModelSerializer):
    progress = serializers.SerializerMethodField(help_text="done, total, percent, eta_seconds")
    recognition = serializers.SerializerMethodField(
        help_text="Each classifier's reading of the IRIs: recognised of n, rate with its 95% interval, the seeds' "
        "rate (the floor); empty until POST /api/jobs/{id}/recognise/."
    )
    config = InversionConfigField(
        required=False, help_text=f"Settings: {', '.join(f.name for f in fields(InversionConfig))}."
    )

    class Meta:
        model = InversionJob
        fields = [
            "id",
            "uuid",
            "model_spec",
            "target_set",
            "config",
            "status",
            "done",
            "total",
            "progress",
            "recognition",
            "device",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = [
            "uuid",
            "status",
            "done",
            "total",
            "device",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def to_representation(self, instance):
        return {**super().to_representation(instance), "config": instance.config}

    def get_progress(self, job) -> dict:
        return job_progress(job)

    def get_recognition(self, job) -> list[dict]:
        return job_recognition(job)


class IRISerializer(ModelSerializer):
    image = serializers.FileField(source="stimulus.image", read_only=True)
    seed_image = serializers.FileField(source="seed.image", read_only=True)
    target_image = serializers.FileField(source="target.stimulus.image", read_only=True)

    class Meta:
        model = IRI
        fields = [
            "id",
            "job",
            "target",
            "seed_index",
            "image",
            "seed_image",
            "target_image",
            "rep_distance",
            "converged",
            "steps",
            "best_step",
            "wall_time",
            "device",
            "created_at",
        ]


class ModelSpecViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ModelSpec.objects.order_by("pk")
    serializer_class = ModelSpecSerializer

    def perform_create(self, serializer):
        # Stored *checking*: a task builds and runs the network (poll ``status``).
        serializer.instance = services.model_spec_register(**serializer.validated_data, in_background=True)


class TargetSetCreateSerializer(serializers.Serializer):
    """Images from an uploaded image or .zip/.tar archive (optionally a random sample), or noise."""

    name = serializers.CharField(max_length=100)
    model_spec = IdField(
        queryset=ModelSpec.objects.all(),
        required=False,
        help_text="The network these targets are for: the images are made its input size.",
    )
    image_size = serializers.IntegerField(
        min_value=8, max_value=1024, required=False, help_text="Side in pixels; omitted: model_spec's input size."
    )
    archive = serializers.FileField(required=False, help_text="An image, or a .zip/.tar of images (class folders).")
    sample = serializers.IntegerField(required=False, min_value=1)
    seed = serializers.IntegerField(required=False, default=0)
    noise_law = serializers.ChoiceField(choices=list(NOISE_LAWS), required=False)
    n = serializers.IntegerField(required=False, min_value=1, max_value=10_000)
    raw = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Noise only: optimise towards the unclamped draw (the paper's setting).",
    )

    def validate(self, data):
        if bool(data.get("archive")) == bool(data.get("noise_law")):
            raise serializers.ValidationError("give either an archive (images) or a noise_law with n (noise targets)")
        if data.get("noise_law") and not data.get("n"):
            raise serializers.ValidationError({"n": "how many noise targets"})
        return data


class TargetSetViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = TargetSet.objects.order_by("pk")
    serializer_class = TargetSetSerializer
    parser_classes = [parsers.MultiPartParser, parsers.FormParser, parsers.JSONParser]

    def create(self, request, *args, **kwargs):
        form = TargetSetCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        data["image_size"] = services.target_size_choose(
            image_size=data.get("image_size"), model_spec=data.pop("model_spec", None)
        )
        # Stored *importing*: a worker decodes or draws the images (poll ``status``).
        target_set = services.target_set_create(**data, in_background=True)
        return Response(TargetSetSerializer(target_set).data, status=status.HTTP_201_CREATED)


class InversionJobViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    queryset = InversionJob.objects.select_related("model_spec", "target_set").order_by("pk")
    serializer_class = InversionJobSerializer

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.inversion_job_create(
            model_spec=data["model_spec"], target_set=data["target_set"], config=data.get("config") or InversionConfig()
        )

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = services.inversion_job_cancel(job=self.get_object())
        return Response(self.get_serializer(job).data, status=status.HTTP_200_OK)

    @action(detail=True, methods=["post"])
    def recognise(self, request, pk=None):
        """Classify a finished job's IRIs, targets and seeds with every classifier, in the background;
        the job's ``recognition`` shows the readings when done."""
        job = self.get_object()
        services.job_recognition_start(job=job)
        return Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Queue a failed or stalled job again; it resumes where it stopped."""
        job = services.inversion_job_resume(job=self.get_object())
        return Response(self.get_serializer(job).data, status=status.HTTP_200_OK)


class IRIViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = IRI.objects.select_related("stimulus", "seed", "target__stimulus").order_by("pk")
    serializer_class = IRISerializer

    def get_queryset(self):
        qs = super().get_queryset()
        job = self.request.query_params.get("job")
        if job is not None:
            if not (job.isascii() and job.isdigit() and len(job) < 19):
                raise MetamerError("job must be a job id", field="job")
            qs = qs.filter(job_id=int(job))
        return qs
