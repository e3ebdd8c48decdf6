"""What a study's stimuli are made of: networks and layers, targets, inversion jobs, IRIs."""

from __future__ import annotations

import uuid

from django.db import models

from metamer.uploads import CHECKPOINT, IMPORT_ARCHIVE


class Stimulus(models.Model):
    """One image file shown or used anywhere: a target, a seed or an IRI (lossless PNG)."""

    class Role(models.TextChoices):
        TARGET = "target"
        SEED = "seed"
        IRI = "iri"

    role = models.CharField(max_length=8, choices=Role.choices)
    image = models.ImageField(upload_to="stimuli/%Y/%m/")
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "stimuli"

    def __str__(self) -> str:
        return f"{self.role} #{self.pk} ({self.width}×{self.height})"


class ModelSpec(models.Model):
    """A network plus one layer: ``g(x)`` is that layer's activation."""

    class Status(models.TextChoices):
        CHECKING = "checking", "being checked"
        READY = "ready"
        FAILED = "failed", "failed its check"

    class Source(models.TextChoices):
        BUILTIN = "builtin", "Built-in (AlexNet, VGG16, EfficientNet-Lite0/1/2; ImageNet weights)"
        TORCHVISION = "torchvision", "torchvision architecture + state dict"
        TIMM = "timm", "timm architecture + state dict"
        TORCHSCRIPT = "torchscript", "TorchScript file"

    name = models.CharField(max_length=100, unique=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.BUILTIN)
    architecture = models.CharField(max_length=100, help_text="Built-in name, or torchvision or timm architecture.")
    checkpoint = models.FileField(upload_to=CHECKPOINT, blank=True)
    cifar_stem = models.BooleanField(default=False, help_text="ResNet with a 3×3 stride-1 stem for 32×32 inputs.")
    layer = models.CharField(
        max_length=200, blank=True, help_text="Graph node name; the penultimate layer when left empty."
    )
    fake_relu = models.BooleanField(
        default=False,
        help_text="ReLUs pass gradients unchanged (the authors' fake_relu); values stay exact.",
    )
    fake_relu_rule = models.CharField(
        max_length=8,
        choices=[
            ("last", "the layer's last ReLU"),
            ("authors", "as the authors' inference.py: every layer4 block's act3 of a timm ResNet (and its kin)"),
        ],
        default="last",
        help_text="Where fake_relu goes (recorded): on the layer's last ReLU, or where the authors' code puts it.",
    )
    input_size = models.PositiveIntegerField(default=224, help_text="Images are H = W = input size pixels.")
    mean = models.JSONField(
        default=list,
        blank=True,
        help_text="Per-channel normalisation inside g; empty: the built-in's own, else ImageNet's.",
    )
    std = models.JSONField(default=list, blank=True, help_text="Empty: the built-in's own, else ImageNet's.")
    imagenet_top1 = models.FloatField(
        "ImageNet top-1 (%)",
        null=True,
        blank=True,
        help_text="Where known (e.g. from timm's published results table): the covariate of alignment analyses.",
    )
    status = models.CharField(
        max_length=8,
        choices=Status.choices,
        default=Status.READY,
        help_text="A network is built and run once, in the background, before any job may use it.",
    )
    message = models.TextField(blank=True, help_text="Why the check failed.")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the task queue took the check.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "model spec (network + layer)"
        verbose_name_plural = "model specs (network + layer)"

    def __str__(self) -> str:
        return f"{self.name} [{self.layer}]"


NOISE_LAWS = {"normal-0-1": (0.0, 1.0), "normal-0.5-2": (0.5, 2.0)}
"""Noise targets: ``N(mean, std)`` per pixel. People see them clamped to [0, 1]; with ``raw``
the optimisation aims at the unclamped draw, as the authors' code does."""


class TargetSet(models.Model):
    """The targets ``xt`` of one or more inversion jobs."""

    class Kind(models.TextChoices):
        IMAGES = "images", "Images (uploaded, archive or data set)"
        NOISE = "noise", "Noise targets"

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        IMPORTING = "importing", "Importing"
        FAILED = "failed", "Import failed"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.IMAGES)
    source = models.CharField(max_length=300, blank=True, help_text="Where the images came from.")
    image_size = models.PositiveIntegerField()
    resize_policy = models.CharField(max_length=40, default="center-crop+bilinear")
    sample_seed = models.BigIntegerField(null=True, blank=True, help_text="Seed of the random sample, if any.")
    created_at = models.DateTimeField(auto_now_add=True)
    # A large upload is imported in the background, in chunks: what it has stored so far.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    imported = models.PositiveIntegerField(default=0, help_text="Images stored so far.")
    total = models.PositiveIntegerField(default=0, help_text="Images the import will store.")
    message = models.TextField(blank=True, help_text="Why the import failed.")
    upload = models.FileField(upload_to=IMPORT_ARCHIVE, blank=True, help_text="The archive being imported.")
    pending_files = models.JSONField(
        default=list, blank=True, help_text="Files of the chunk being stored: removed if it never commits."
    )
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the task queue took the import.")

    def __str__(self) -> str:
        return self.name


class Target(models.Model):
    target_set = models.ForeignKey(TargetSet, on_delete=models.CASCADE, related_name="targets")
    index = models.PositiveIntegerField()
    label = models.CharField(max_length=200, blank=True, help_text="Class or file name, or the noise law.")
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="+")
    raw = models.FileField(
        upload_to="targets/raw/%Y/%m/",
        blank=True,
        help_text="Raw noise targets only: the unclamped float32 draw (.npy) the optimisation aims at; "
        "the stimulus is its clamped 8-bit image, which is what people see.",
    )

    class Meta:
        ordering = ["target_set", "index"]
        constraints = [models.UniqueConstraint(fields=["target_set", "index"], name="unique_target_index")]

    def __str__(self) -> str:
        return f"{self.target_set} #{self.index} {self.label}"


class InversionJob(models.Model):
    """Generate IRIs of every target in a set for one model spec (settings in ``config``)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    model_spec = models.ForeignKey(ModelSpec, on_delete=models.PROTECT, related_name="jobs")
    target_set = models.ForeignKey(TargetSet, on_delete=models.PROTECT, related_name="jobs")
    config = models.JSONField(help_text="The InversionConfig this job runs with.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0, help_text="IRIs stored so far.")
    total = models.PositiveIntegerField(default=0)
    steps_in_flight = models.BigIntegerField(
        default=0,
        help_text="Optimisation steps × images run in chunks not stored yet (every worker adds its own), so "
        "progress moves within a batch.",
    )
    device = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life from the worker running it (a lease: silence means stalled).",
    )
    enqueued_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was last handed to the task queue; empty while the queue could not be reached "
        "(it is sent again every minute).",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"job {self.pk}: {self.model_spec} × {self.target_set} ({self.status})"

    @property
    def regularizer(self) -> str:
        from inversion.config import InversionConfig

        return InversionConfig.from_dict(self.config).regularizer


class IRI(models.Model):
    """An identically represented input: ``g(xr) ≈ g(xt)``, reached from seed ``x0``."""

    job = models.ForeignKey(InversionJob, on_delete=models.CASCADE, related_name="iris")
    target = models.ForeignKey(Target, on_delete=models.PROTECT, related_name="iris")
    seed_index = models.PositiveSmallIntegerField(default=0)
    seed = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="+", help_text="x0 in [0, 1].")
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="+", help_text="xr.")
    rep_distance = models.FloatField(help_text="||g(xt) − g(xr)|| / ||g(xt)|| at the kept iterate.")
    converged = models.BooleanField(help_text="Representation distance under the job's threshold.")
    activation_rho = models.FloatField(
        null=True, blank=True, help_text="Spearman ρ between its and its target's activations at the layer inverted."
    )
    beats_null = models.BooleanField(
        null=True,
        blank=True,
        help_text="Feather et al.'s test: ρ above every correlation of random pairs of the target set's images "
        "(the job's null distribution). Empty: made before the test was kept.",
    )
    steps = models.PositiveIntegerField(help_text="Steps run.")
    best_step = models.PositiveIntegerField(help_text="Step of the kept (lowest-loss) iterate.")
    wall_time = models.FloatField(help_text="Seconds spent on this IRI's batch, shared evenly.")
    device = models.CharField(max_length=40)
    worker = models.CharField(max_length=100, blank=True, help_text="Host and process that made it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "IRI"
        ordering = ["job", "target__index", "seed_index"]
        constraints = [
            # A resumed job can never store the same IRI twice.
            models.UniqueConstraint(fields=["job", "target", "seed_index"], name="unique_iri_per_job_target_seed")
        ]

    def __str__(self) -> str:
        return f"IRI of {self.target} (seed {self.seed_index}) by {self.job.model_spec}"


class LpipsJudgement(models.Model):
    """LPIPS 2AFC for one IRI and one variant: aligned when ``d(xr, xt) <= d(xr, x0)``."""

    iri = models.ForeignKey(IRI, on_delete=models.CASCADE, related_name="lpips_judgements")
    variant = models.CharField(max_length=32)
    d_target = models.FloatField()
    d_seed = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["iri", "variant"], name="one_judgement_per_variant")]
        verbose_name = "LPIPS judgement"

    def __str__(self) -> str:
        return f"{self.variant} on IRI {self.iri_id}: {'aligned' if self.aligned else 'not aligned'}"

    @property
    def aligned(self) -> bool:
        # The authors' code counts ties as aligned.
        return self.d_target <= self.d_seed

    @property
    def margin(self) -> float:
        return self.d_seed - self.d_target


class LpipsDistance(models.Model):
    """One LPIPS variant's distance between two images, by content (SHA-256, the smaller
    first: LPIPS is symmetric), computed once and reused by every survey and judgement."""

    variant = models.CharField(max_length=32)
    first = models.CharField(max_length=64)
    second = models.CharField(max_length=64)
    distance = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "first", "second"], name="one_distance_per_variant_and_pair")
        ]
        verbose_name = "LPIPS distance"

    def __str__(self) -> str:
        return f"{self.variant}: {self.first[:8]}…–{self.second[:8]}… = {self.distance:.4f}"


class ActivationNull(models.Model):
    """Feather et al.'s null distribution for one network and layer (a model spec) over one
    target set: Spearman's ρ between the activations of random pairs of its distinct images
    (``science.success``). Made once, by the first chunk of the first job that needs it."""

    model_spec = models.ForeignKey(ModelSpec, on_delete=models.CASCADE, related_name="activation_nulls")
    target_set = models.ForeignKey(TargetSet, on_delete=models.CASCADE, related_name="activation_nulls")
    images = models.PositiveIntegerField(help_text="Images the pairs were drawn from.")
    values = models.JSONField(help_text="ρ of each random pair.")
    maximum = models.FloatField(help_text="An IRI beats the null when its ρ is above this.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_spec", "target_set"], name="one_null_per_spec_and_set")]

    def __str__(self) -> str:
        return f"null of {self.model_spec} over {self.target_set}: {len(self.values)} pairs, max ρ {self.maximum:.3f}"


class Recognition(models.Model):
    """One classifier's reading of a job's IRIs (``science.recognition``, Feather et al.'s
    cross-model test): how many it recognised (top-1 class of the IRI = top-1 class of its
    target) and, as the floor, how many of their seeds it gave the target's class."""

    job = models.ForeignKey(InversionJob, on_delete=models.CASCADE, related_name="recognitions")
    classifier = models.CharField(max_length=200, help_text="A built-in classifier's name, or a model spec's.")
    description = models.CharField(max_length=300, blank=True)
    n = models.PositiveIntegerField(help_text="IRIs classified.")
    recognised = models.PositiveIntegerField()
    seeds_recognised = models.PositiveIntegerField(help_text="Seeds given their target's class: the floor.")
    device = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "classifier"], name="one_reading_per_classifier")]

    def __str__(self) -> str:
        return f"{self.classifier} on job {self.job_id}: {self.recognised}/{self.n}"
