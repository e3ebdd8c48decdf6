"""Building an IRI survey before it can open: hard clustering's LPIPS similarity between
targets (when no matrix was uploaded) and the simulated participants' answer on every trial.
The heavy part runs in a task (``surveys.tasks.build_survey``) with its progress on the survey;
the survey opens only once built."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from metamer.errors import MetamerError
from metamer.queue import send_stamped
from surveys.models import Survey
from surveys.services.assembly import survey_assemble_check, trials_store
from surveys.services.choices import trial_lpips_choices_compute

logger = logging.getLogger(__name__)

UNSENT_GRACE_SECONDS = 30
"""A build the queue has not taken after this long is sent again by the beat."""


def survey_build(*, survey: Survey) -> Survey:
    """Build a ``building`` survey: plan its trials if their planning waited for the LPIPS
    similarity, then store every LPIPS variant's choice on every trial; the survey becomes a
    draft, ready to open. A failure marks it ``failed`` with the reason (built again with
    ``survey_build_retry``, keeping what was stored) and is raised."""
    if survey.status != Survey.Status.BUILDING:
        raise MetamerError(f"{survey.name} is {survey.status}: only a survey being built is built", code="conflict")
    rows = Survey.objects.filter(pk=survey.pk)
    rows.update(build_started_at=timezone.now(), build_done=0, build_total=0)
    try:
        if not survey.trials.exists():
            _stage(rows, "LPIPS similarity between the targets")
            design = survey_assemble_check(
                jobs=list(survey.jobs.order_by("pk")),
                kind=survey.kind,
                n_trials=survey.n_trials,
                n_attention_checks=survey.n_attention_checks,
                seed=survey.seed,
                include_unconverged=survey.include_unconverged,
                only_beating_null=survey.only_beating_null,
                on_progress=lambda done, total: rows.update(build_done=done, build_total=total),
            )
            with transaction.atomic():
                trials_store(survey=survey, plans=design.plans)
        _stage(rows, "the simulated participants' LPIPS choices")
        trial_lpips_choices_compute(
            survey=survey, on_progress=lambda done, total: rows.update(build_done=done, build_total=total)
        )
    except Exception as exc:
        reason = exc.message if isinstance(exc, MetamerError) else f"{type(exc).__name__}: {exc}"
        rows.update(status=Survey.Status.FAILED, build_step=reason[:500])
        raise
    rows.update(status=Survey.Status.DRAFT, build_step="")
    survey.refresh_from_db()
    return survey


def _stage(rows, step: str) -> None:
    rows.update(build_step=step, build_done=0, build_total=0)


def survey_build_send(*, survey: Survey) -> None:
    """Queue the survey's build once committed (``enqueued_at`` set when the queue takes it)."""
    from surveys.tasks import build_survey  # tasks import services: resolved at call time

    send_stamped(build_survey, survey)


def survey_build_retry(*, survey: Survey) -> Survey:
    """Build a survey whose build failed again, from where it stopped."""
    if survey.status != Survey.Status.FAILED:
        raise MetamerError(f"{survey.name} is {survey.status}: only a failed build is retried", code="conflict")
    survey.status = Survey.Status.BUILDING
    survey.build_step = ""
    survey.save(update_fields=["status", "build_step"])
    survey_build_send(survey=survey)
    return survey


def survey_builds_send_unsent() -> int:
    """Builds the task queue could not take when they were made, sent again (the beat)."""
    cutoff = timezone.now() - timedelta(seconds=UNSENT_GRACE_SECONDS)
    unsent = list(Survey.objects.filter(status=Survey.Status.BUILDING, enqueued_at=None, created_at__lt=cutoff))
    for survey in unsent:
        survey_build_send(survey=survey)
    return len(unsent)
