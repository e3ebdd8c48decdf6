"""Studies, their surveys and trials, the people who take them and every answer they give."""

from __future__ import annotations

import secrets
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from inversion.models import IRI, InversionJob, Stimulus
from metamer.uploads import INSTRUCTION_IMAGE
from surveys.kinds import KindSpec, kind_spec


def _completion_code() -> str:
    return secrets.token_hex(4).upper()


def _english_speaking() -> list[str]:
    return ["US", "GB", "CA", "AU", "NZ", "IE"]


class Study(models.Model):
    """One research question: its surveys share a recruiter and a participant pool."""

    class Recruiter(models.TextChoices):
        LINKS = "links", "Plain links (pilots, no money)"
        MTURK = "mturk", "Amazon Mechanical Turk"
        PROLIFIC = "prolific", "Prolific"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)

    class ReviewPolicy(models.TextChoices):
        APPROVE_ALL = "approve-all", "Approve and pay everyone who finished; exclude check failures from analysis"
        REJECT_FAILURES = "reject-failures", "Reject workers who fail attention checks (hurts their record)"

    recruiter = models.CharField(max_length=10, choices=Recruiter.choices, default=Recruiter.LINKS)
    completion_code = models.CharField(
        max_length=20, default=_completion_code, editable=False, help_text="Made once, when the study is created."
    )
    review_policy = models.CharField(max_length=16, choices=ReviewPolicy.choices, default=ReviewPolicy.APPROVE_ALL)
    mturk_production = models.BooleanField(
        default=False, help_text="Off: Mechanical Turk's sandbox. On: real workers and real money."
    )
    min_approval_rate = models.PositiveSmallIntegerField(
        default=95, help_text="MTurk: approval rate at least this (%)."
    )
    min_approved_hits = models.PositiveIntegerField(default=100, help_text="MTurk: at least this many approved HITs.")
    locales = models.JSONField(
        default=_english_speaking, blank=True, help_text="MTurk: worker countries (ISO codes); empty for any."
    )
    budget_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most this study may spend (rewards plus fees); empty for no limit."
    )
    academic = models.BooleanField(
        default=True, help_text="Prolific: academic/non-profit fee (33.3%) rather than 42.8%."
    )
    qualification_type_id = models.CharField(max_length=64, blank=True, help_text="MTurk 'took part already' type.")
    completion_redirect_url = models.URLField(
        blank=True, help_text="Plain links: where a participant goes after the last question (empty: show the code)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name


class Survey(models.Model):
    class Kind(models.TextChoices):
        TWO_AFC = "2afc", "2AFC: is the IRI closer to its target or its seed?"
        CLUSTER_RANDOM = "cluster-random", "Clustering, random targets"
        CLUSTER_HARD = "cluster-hard", "Clustering, similar targets"
        TRIPLET = "triplet", "Triplet: which of two images is more like a third? (any image set)"
        ODD_ONE_OUT = "odd-one-out", "Odd one out: which of three images does not belong? (any image set)"
        RATING = "rating", "Pairwise rating: how similar are two images, 0 to 10? (any image set)"

    class Status(models.TextChoices):
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


class Participant(models.Model):
    """A person as the recruiter knows them (MTurk WorkerId, Prolific PID, or a link label)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Nobody takes part in the same study twice.
            models.UniqueConstraint(fields=["study", "external_id"], name="one_participant_per_study")
        ]

    def __str__(self) -> str:
        return self.external_id


def _link_token() -> str:
    return secrets.token_urlsafe(24)


class SurveyLink(models.Model):
    """One place of a plain-links survey: a long random token, not guessable or sequential.
    Whoever opens it first takes the place; it resumes only in the browser that started it."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="links")
    token = models.CharField(max_length=43, unique=True, default=_link_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"link …{self.token[-6:]} of {self.survey.name}"


class Assignment(models.Model):
    """One participant taking one survey; its token is the capability in the worker's URLs.

    ``sequence`` is what this worker sees, fixed at the start from ``seed`` (derived from the
    survey's seed and ``ordinal``, the arrival order): the trial order and, per trial, the
    option sides (2AFC) or the column and row order (clustering)."""

    class Status(models.TextChoices):
        STARTED = "started"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXPIRED = "expired", "expired (time ran out; the place was freed)"

    token = models.CharField(max_length=43, unique=True, default=secrets.token_urlsafe, editable=False)
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="assignments")
    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="assignment")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    recruiter_data = models.JSONField(default=dict, blank=True, help_text="assignmentId, STUDY_ID, …")
    recruiter_status = models.CharField(max_length=20, blank=True, help_text="The recruiter's record, a cross-check.")
    flagged = models.BooleanField(default=False, help_text="Marked for a closer look; no money moves.")
    review_note = models.TextField(blank=True)
    excluded = models.BooleanField(
        default=False,
        help_text="Left out of the data by the researcher (who, when and why: the audit log); the answers stay stored.",
    )
    ordinal = models.PositiveIntegerField(null=True, blank=True, help_text="Arrival order within the survey (0, 1, …).")
    seed = models.BigIntegerField(null=True, blank=True, help_text="This worker's presentation seed.")
    sequence = models.JSONField(default=list, blank=True, help_text="Trial order and sides, as this worker sees them.")
    session_key = models.CharField(max_length=64, blank=True, help_text="The browser session it is bound to.")
    link = models.OneToOneField(SurveyLink, null=True, blank=True, on_delete=models.PROTECT, related_name="assignment")
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    practice_done = models.PositiveSmallIntegerField(default=0, help_text="Practice questions answered (not data).")
    exit_answers = models.JSONField(
        null=True, blank=True, help_text="Answers to the exit questions ({} when skipped; empty until asked)."
    )

    COUNTED = (Status.SUBMITTED, Status.APPROVED, Status.REJECTED)
    """Finished work: what results, reports, exports and payments count."""

    def __str__(self) -> str:
        return f"{self.participant} on {self.survey.name} ({self.status})"


class Response(models.Model):
    """One answer, saved the moment it is given."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="responses")
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="responses")
    answer = models.JSONField(help_text="2AFC: index of the chosen option; clustering: each row's column.")
    correct = models.BooleanField(
        null=True, help_text="All right (for an attention check: the check passed); empty with no right answer."
    )
    score = models.FloatField(
        null=True, help_text="Share right: 2AFC 0 or 1; clustering the share of rows; empty with no right answer."
    )
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=64)
    viewing = models.JSONField(default=dict, blank=True, help_text="Viewport, devicePixelRatio, drawn sizes.")
    presented = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the worker saw: position (1-based), and flip (2AFC: options swapped) or the column and row "
        "order (clustering), with the answer as clicked.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "trial"], name="one_answer_per_trial"),
            models.UniqueConstraint(fields=["assignment", "idempotency_key"], name="unique_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.assignment.participant} → {self.trial}: {self.answer}"


class Publication(models.Model):
    """One survey put before a recruiter's workers: an MTurk HIT or a Prolific study."""

    class Status(models.TextChoices):
        CREATING = "creating"
        PUBLISHED = "published"
        STOPPED = "stopped"

    survey = models.OneToOneField(Survey, on_delete=models.PROTECT, related_name="publication")
    recruiter = models.CharField(max_length=10, choices=Study.Recruiter.choices)
    request_token = models.CharField(max_length=64, unique=True, help_text="Makes a retried create a no-op.")
    external_id = models.CharField(max_length=64, blank=True, help_text="HIT id or Prolific study id.")
    external_type_id = models.CharField(max_length=64, blank=True, help_text="MTurk HIT type id.")
    places = models.PositiveIntegerField()
    reward_cents = models.PositiveIntegerField()
    cost_cents = models.PositiveIntegerField(help_text="Rewards plus the recruiter's fee, as confirmed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.survey} on {self.recruiter} ({self.status})"


class Payment(models.Model):
    """A bonus sent to a worker. The request token makes a retried payment a no-op."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="payments")
    amount_cents = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    request_token = models.CharField(max_length=64, unique=True)
    external_id = models.CharField(
        max_length=100, blank=True, help_text="The recruiter's id for this payment (Prolific: the bulk bonus)."
    )
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When the paying call was sent; with no confirmation yet, never resent blind."
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Empty until the recruiter confirmed it.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"bonus {self.amount_cents / 100:.2f} to {self.assignment.participant}"


class SimilarityData(models.Model):
    """People's similarity judgements over an image set, in one of two forms: dissimilarity
    matrices (one per person, or one averaged) or triplets ``(i, j, k, choice)``; imported from
    published data or collected here. The arrays live in ``data`` (a NumPy ``.npz``)."""

    class Kind(models.TextChoices):
        MATRICES = "matrices", "Dissimilarity matrices (one per person, or averaged)"
        TRIPLETS = "triplets", "Triplets (i, j, k, choice)"

    name = models.CharField(max_length=100, unique=True)
    image_set = models.ForeignKey(
        "inversion.TargetSet", on_delete=models.PROTECT, related_name="similarity_data", help_text="In its order."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=300, blank=True, help_text="Where the data came from (cite it).")
    data = models.FileField(upload_to="similarity/")
    n_items = models.PositiveIntegerField("images")
    n_people = models.PositiveIntegerField(
        "people", help_text="Matrices or distinct workers; 1 for an averaged matrix."
    )
    n_judgements = models.PositiveIntegerField("judgements", help_text="Pairs per matrix times matrices, or triplets.")
    reliability = models.JSONField(
        default=dict,
        blank=True,
        help_text="Split-half r across people (Spearman–Brown corrected), its 95% range, and the noise ceiling.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "human similarity data"
        verbose_name_plural = "human similarity data"

    def __str__(self) -> str:
        return self.name


class AuditEntry(models.Model):
    """One later decision about what was recorded: who, when, what and why. Written by services
    only and never changed or deleted (the model has no add, change or delete permission):
    approvals, rejections, flags, notes, exclusions, bonuses and blocks, and what the recruiter
    was found to have done already."""

    class Action(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"
        FLAG = "flag"
        NOTE = "note"
        EXCLUDE = "exclude", "exclude from the data"
        INCLUDE = "include", "include in the data again"
        BONUS = "bonus"
        BLOCK = "block"
        RECORD = "record", "record the recruiter's state"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="audit")
    assignment = models.ForeignKey(Assignment, null=True, blank=True, on_delete=models.PROTECT, related_name="audit")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.CharField(max_length=150, help_text="Who decided: a staff user, or the process acting alone.")
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        default_permissions = ("view",)
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor}: {self.get_action_display()}"
