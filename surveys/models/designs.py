"""Surveys and their trials, as assembled: what each screen shows and the answer that counts."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from inversion.models import IRI, InversionJob, Stimulus
from metamer.uploads import INSTRUCTION_IMAGE
from surveys.kinds import KindSpec, kind_spec
from surveys.models.studies import Study


class Survey(models.Model):
    class Kind(models.TextChoices):
        TWO_AFC = "2afc", "2AFC: is the IRI closer to its target or its seed?"
        CLUSTER_RANDOM = "cluster-random", "Clustering, random targets"
        CLUSTER_HARD = "cluster-hard", "Clustering, similar targets"
        TRIPLET = "triplet", "Triplet: which of two images is more like a third? (any image set)"
        ODD_ONE_OUT = "odd-one-out", "Odd one out: which of three images does not belong? (any image set)"
        RATING = "rating", "Pairwise rating: how similar are two images, 0 to 10? (any image set)"

    class Status(models.TextChoices):
        BUILDING = "building", "building: the simulated participants are answering"
        FAILED = "failed", "build failed"
        DRAFT = "draft"
        OPEN = "open"
        CLOSED = "closed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="surveys")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TWO_AFC)
    jobs = models.ManyToManyField(
        InversionJob, blank=True, related_name="surveys", help_text="The IRI sets it draws from."
    )
    image_set = models.ForeignKey(
        "inversion.TargetSet",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="surveys",
        help_text="Triplet and odd-one-out surveys: the image set they ask about.",
    )
    sampling = models.CharField(
        max_length=500,
        blank=True,
        help_text="Image-set surveys: how the trials were chosen (all, uniform, then any adaptive rounds).",
    )
    seed = models.BigIntegerField(help_text="Every random choice in assembly comes from this seed.")
    n_trials = models.PositiveIntegerField(default=100, help_text="Trials under test (attention checks extra).")
    n_attention_checks = models.PositiveIntegerField(default=5)
    n_repeats = models.PositiveIntegerField(
        "repeated trials",
        default=0,
        help_text="Image-set surveys: trials asked a second time, to measure each worker's consistency.",
    )
    min_consistency = models.FloatField(
        "least consistency",
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Image-set surveys with repeated trials: workers who answer fewer of them alike (0 to 1) are "
        "left out of the data, as a failed attention check is. 0: keep everyone.",
    )
    adaptive_every = models.PositiveIntegerField(
        "adaptive: a round every",
        default=0,
        validators=[MaxValueValidator(10_000)],
        help_text="Triplet surveys: after every this many submitted workers, add the triplets the answers so far "
        "are least sure of, for the workers who start after. 0: no automatic rounds.",
    )
    adaptive_trials = models.PositiveIntegerField(
        "adaptive: triplets a round",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
    )
    include_unconverged = models.BooleanField(default=False)
    only_beating_null = models.BooleanField(
        "only IRIs that beat the null",
        default=False,
        help_text="IRI surveys: use only IRIs whose activations correlate with their target's more than any random "
        "pair of the target set's images do (Feather et al.'s test).",
    )
    left_out_by_null = models.PositiveIntegerField(
        default=0, help_text="IRIs left out because they did not beat the null."
    )
    instructions_text = models.TextField(
        "instructions",
        blank=True,
        max_length=5000,
        help_text="Your own instructions, shown to workers after Metamer's description of the task and before the "
        "consent. A blank line starts a new paragraph.",
    )
    instructions_image = models.ImageField(
        upload_to=INSTRUCTION_IMAGE,
        blank=True,
        help_text="An image shown with the instructions (e.g. an annotated example). Workers see it, so it is public.",
    )
    consent_text = models.TextField(
        "consent",
        blank=True,
        max_length=5000,
        help_text="What workers agree to before they start. Empty: Metamer's standard text (answers, response times "
        "and screen size are stored, linked only to a participant id; they may stop at any time).",
    )
    n_practice = models.PositiveSmallIntegerField(
        "practice questions",
        default=0,
        validators=[MaxValueValidator(5)],
        help_text="Questions of this survey's kind, drawn with shapes, asked before the first trial with feedback. "
        "Not scored and not data. 0 to 5.",
    )
    exit_questions = models.TextField(
        blank=True,
        max_length=2000,
        help_text="Questions asked after the last trial, one per line; workers answer in free text, or skip.",
    )
    ask_demographics = models.BooleanField(
        default=False,
        help_text="After the last trial, ask for age range, gender and whether vision is normal or corrected "
        "(each optional).",
    )
    thank_you_text = models.TextField(
        "thank-you text", blank=True, max_length=2000, help_text="Shown on the last page, above the completion step."
    )
    similarity_source = models.CharField(
        max_length=200, blank=True, help_text="Hard clustering: where the target similarity matrix came from."
    )
    workers_per_survey = models.PositiveIntegerField(default=3)
    reward_cents = models.PositiveIntegerField(
        "reward per worker (cents)",
        default=750,
        help_text="Paid on approval through MTurk or Prolific (in dollar cents, or your Prolific account's "
        "currency); plain links pay nothing through Metamer.",
    )
    minutes_allotted = models.PositiveIntegerField(
        "minutes allowed", default=60, help_text="A started place is freed after this long."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    build_step = models.CharField(
        max_length=500, blank=True, help_text="While building: what is being computed; after a failed build: why."
    )
    build_done = models.PositiveIntegerField(default=0)
    build_total = models.PositiveIntegerField(default=0)
    build_started_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the task queue took the build (empty: not yet sent)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def spec(self) -> KindSpec:
        """Everything that differs between kinds (``surveys.kinds``)."""
        return kind_spec(self.kind)

    @property
    def layout(self) -> str:
        """How a trial is shown, for templates: ``2afc``, ``odd``, ``rating`` or ``clustering``."""
        return self.spec.layout.name


class Trial(models.Model):
    """One screen: the images in ``slots`` and the answer that counts as correct.

    2AFC: one ``query`` slot and two ``option`` slots; ``correct`` is the index of the option
    that is the target (for an attention check, the copy of the query).
    Clustering: three ``column`` slots (targets) and six ``row`` slots (their IRIs, two each);
    ``correct`` lists each row's column. In a clustering attention check, row ``check_row`` is
    a copy of its column.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="trials")
    position = models.PositiveIntegerField()
    is_attention_check = models.BooleanField(default=False)
    job = models.ForeignKey(
        InversionJob,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="trials",
        help_text="The condition the IRIs come from (none in a triplet survey).",
    )
    iri = models.ForeignKey(IRI, on_delete=models.PROTECT, null=True, blank=True, related_name="trials")
    correct = models.JSONField(
        null=True,
        blank=True,
        help_text="2AFC: index of the correct option; clustering: each row's column; triplet and odd one out: "
        "none but in checks.",
    )
    items = models.JSONField(
        null=True,
        blank=True,
        help_text="Triplet: image-set indices of the reference and the two options; odd one out: of the three; "
        "rating: of the pair.",
    )
    check_row = models.PositiveSmallIntegerField(null=True, blank=True)
    repeat_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="repeats",
        help_text="The trial this one asks again (a consistency check; its answer is not data).",
    )

    class Meta:
        ordering = ["survey", "position"]
        constraints = [models.UniqueConstraint(fields=["survey", "position"], name="unique_trial_position")]

    def __str__(self) -> str:
        check = " (attention check)" if self.is_attention_check else ""
        return f"{self.survey.name} trial {self.position + 1}{check}"


class TrialSlot(models.Model):
    class Role(models.TextChoices):
        QUERY = "query"
        OPTION = "option"
        COLUMN = "column"
        ROW = "row"

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="slots")
    role = models.CharField(max_length=8, choices=Role.choices)
    index = models.PositiveSmallIntegerField()
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["trial", "role", "index"]
        constraints = [models.UniqueConstraint(fields=["trial", "role", "index"], name="unique_slot")]

    def __str__(self) -> str:
        return f"{self.role} {self.index} of {self.trial}"


class TrialLpipsChoice(models.Model):
    """What an LPIPS variant answers on a trial (a simulated participant), stored beside the
    people's answers.

    ``choice`` has the shape of an answer (2AFC: option index; clustering: a column per row);
    ``margin`` is how clear it was: the other distance minus the chosen one (per row)."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="lpips_choices")
    variant = models.CharField(max_length=32)
    choice = models.JSONField()
    margin = models.JSONField()
    distances = models.JSONField(help_text="Per query/row: its LPIPS distance to each option/column.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trial", "variant"], name="one_choice_per_variant")]

    def __str__(self) -> str:
        return f"{self.variant} on {self.trial}: {self.choice}"
