"""Recruitment, the same for every recruiter: pricing, publishing, syncing, stopping."""

from __future__ import annotations

from dataclasses import dataclass

from metamer.errors import MetamerError
from surveys.models import Assignment, Publication, Study, Survey
from surveys.recruitment import recruiter_for, request_token
from surveys.selectors import publication_cost
from surveys.services.assembly import survey_open


@dataclass(frozen=True)
class Budget:
    rewards_cents: int
    fee_cents: int
    total_cents: int
    lines: list[str]

    def __str__(self) -> str:
        return "; ".join(self.lines) + f". Total {self.total_cents / 100:.2f}"


def study_budget(*, study: Study) -> Budget:
    """What publishing the study's unpublished surveys costs: reward × places + the fee (no
    recruiter credentials needed)."""
    rewards = fee = 0
    lines = []
    for survey in study.surveys.filter(publication__isnull=True).select_related("study").order_by("pk"):
        cost = publication_cost(survey)
        rewards += cost.places * cost.reward_cents
        fee += cost.fee_cents
        lines.append(
            f"{survey.name}: {cost.places} × {cost.reward_cents / 100:.2f} + fee {cost.fee_cents / 100:.2f} "
            f"({cost.fee_rate:.1%})"
        )
    return Budget(rewards, fee, rewards + fee, lines or ["nothing left to publish"])


def study_publish(*, study: Study, base_url: str, confirm: bool = False, recruiter=None) -> list[Publication]:
    """Put every survey of the study before the recruiter's workers. Every check (trials,
    budget, the recruiter's own rules such as a minimum pay, credentials, a public URL) runs
    before anything is created, here or at the recruiter; without ``confirm`` it only refuses,
    stating the cost. Safe to run again after a failure midway: each survey's publication
    carries a deterministic request token, so nothing is created twice."""
    recruiter = recruiter or recruiter_for(study)
    surveys = list(study.surveys.select_related("study").order_by("pk"))
    unpublished = [s for s in surveys if not Publication.objects.filter(survey=s).exists()]
    for survey in surveys:
        if survey.status in (Survey.Status.BUILDING, Survey.Status.FAILED):
            raise MetamerError(
                f"{survey.name} is not built ({survey.get_status_display()}): publish once it is a draft",
                field="surveys",
            )
        if not survey.trials.exists():
            raise MetamerError(f"{survey.name} has no trials", field="surveys")
    for survey in unpublished:
        recruiter.check(survey, survey.reward_cents, _survey_url(base_url, survey))
    budget = study_budget(study=study)
    spent = sum(Publication.objects.filter(survey__study=study).values_list("cost_cents", flat=True))
    if study.budget_cents is not None and spent + budget.total_cents > study.budget_cents:
        raise MetamerError(
            f"publishing costs {budget.total_cents / 100:.2f} on top of {spent / 100:.2f} already committed, over the "
            f"study's budget of {study.budget_cents / 100:.2f}: raise the budget or publish fewer places",
            field="budget_cents",
        )
    if not confirm and budget.total_cents:
        raise MetamerError(f"publishing costs {budget}; confirm to go ahead", code="confirm")
    publications = []
    for survey in surveys:
        cost = publication_cost(survey)
        publication, _ = Publication.objects.get_or_create(
            survey=survey,
            defaults={
                "recruiter": study.recruiter,
                "request_token": request_token("hit", study.pk, survey.pk, survey.uuid.hex[:12]),
                "places": cost.places,
                "reward_cents": survey.reward_cents,
                "cost_cents": cost.total_cents,
            },
        )
        if publication.status == Publication.Status.CREATING:
            if survey.status == Survey.Status.DRAFT:
                survey_open(survey=survey)
            try:
                recruiter.publish(publication, survey, _survey_url(base_url, survey))
            finally:
                # Whatever the recruiter already made is remembered, even if a later step failed.
                publication.save(update_fields=["external_id", "external_type_id"])
            publication.status = Publication.Status.PUBLISHED
            publication.save(update_fields=["status"])
        publications.append(publication)
    return publications


def _survey_url(base_url: str, survey: Survey) -> str:
    return f"{base_url.rstrip('/')}/s/{survey.uuid}/"


def study_sync(*, study: Study, recruiter=None) -> dict[str, int]:
    """Cross-check Metamer's assignments against the recruiter's record. Metamer's stored
    answers are the source of truth; the recruiter's status is kept beside them."""
    recruiter = recruiter or recruiter_for(study)
    counts = {"remote": 0, "matched": 0, "unknown": 0}
    for publication in Publication.objects.filter(survey__study=study).exclude(status=Publication.Status.CREATING):
        assignments = list(publication.survey.assignments.select_related("participant"))
        by_id = {a.recruiter_data.get("assignmentId"): a for a in assignments if a.recruiter_data.get("assignmentId")}
        by_worker = {a.participant.external_id: a for a in assignments}
        for remote in recruiter.submissions(publication):
            counts["remote"] += 1
            assignment = by_id.get(remote.external_id) or by_worker.get(remote.worker_id)
            if assignment is None:
                counts["unknown"] += 1  # submitted there without answering here: nothing to pay for
                continue
            counts["matched"] += 1
            assignment.recruiter_status = remote.status
            assignment.recruiter_data = {**assignment.recruiter_data, **remote.data}
            assignment.save(update_fields=["recruiter_status", "recruiter_data"])
    return counts


def study_stop(*, study: Study, recruiter=None) -> int:
    """Stop recruiting: end every published HIT or study and close the surveys."""
    recruiter = recruiter or recruiter_for(study)
    stopped = 0
    for publication in Publication.objects.filter(survey__study=study, status=Publication.Status.PUBLISHED):
        recruiter.stop(publication)
        publication.status = Publication.Status.STOPPED
        publication.save(update_fields=["status"])
        Survey.objects.filter(pk=publication.survey_id).update(status=Survey.Status.CLOSED)
        stopped += 1
    return stopped


def participant_started(*, assignment_id: int) -> None:
    """Tell the recruiter a worker started (MTurk: grant the 'took part' qualification)."""
    assignment = Assignment.objects.select_related("participant", "survey__study").get(pk=assignment_id)
    recruiter_for(assignment.survey.study).participant_started(assignment)
