"""Reads for analysis: the tidy table of judgements and the study's results."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from analysis import results
from inversion.models import InversionJob, TargetSet
from science.lpips_variants import VARIANTS
from surveys.kinds.layouts import Clustering, PickOfTwo
from surveys.models import Assignment, Response, Study, TrialLpipsChoice, TrialSlot

BASE_COLUMNS = [
    "worker", "survey", "kind", "trial", "position", "row", "condition", "attention_check", "answer",
    "correct_answer", "correct", "response_ms", "shown_position", "shown_row", "target_side", "answer_shown",
    "network", "simulated", "excluded",
]  # fmt: skip
SIDES = {PickOfTwo.name: ("left", "right"), Clustering.name: ("A", "B", "C")}


def condition_label(job: InversionJob) -> str:
    """A condition is a model spec × regularizer (and the preset it came from) × kind of target
    (photographs, noise, or raw noise draws)."""
    targets = "image targets"
    if job.target_set.kind == TargetSet.Kind.NOISE:
        targets = "raw noise targets" if job.target_set.targets.exclude(raw="").exists() else "noise targets"
    preset = job.config.get("preset")
    regularizer = f"{job.regularizer}, {preset} preset" if preset else job.regularizer
    return f"{job.model_spec.name} / {regularizer} / {targets}"


def study_jobs(study: Study) -> list[InversionJob]:
    return list(
        InversionJob.objects.filter(surveys__study=study)
        .select_related("model_spec", "target_set")
        .distinct()
        .order_by("pk")
    )


def judgements(study: Study) -> pd.DataFrame:
    """One row per human judgement on IRIs (a 2AFC trial, or one row of a clustering trial; a
    triplet survey's answers are its similarity data: ``surveys.selectors.survey_triplets``) from
    submitted work only (in-progress and expired assignments never count), with what the
    worker saw (their position, the side or column the target was on, the answer as clicked),
    each LPIPS variant's answer and distances beside it, and whether the worker is excluded
    (failed an attention check, or left out by the researcher: see the audit log)."""
    responses = (
        Response.objects.filter(
            assignment__survey__study=study, assignment__status__in=Assignment.COUNTED, trial__job__isnull=False
        )
        .select_related(
            "assignment__participant", "assignment__survey", "trial__job__model_spec", "trial__job__target_set"
        )
        .order_by("assignment_id", "trial__position")
    )
    lpips = {(c.trial_id, c.variant): c for c in TrialLpipsChoice.objects.filter(trial__survey__study=study)}
    labels: dict[int, str] = {}
    records = []
    for r in responses:
        trial = r.trial
        label = labels.setdefault(trial.job_id, condition_label(trial.job))
        clustering = isinstance(trial.correct, list)
        answers = r.answer if clustering else [r.answer]
        corrects = trial.correct if clustering else [trial.correct]
        shown = r.presented or {}
        for row, (answer, correct_answer) in enumerate(zip(answers, corrects, strict=True)):
            if trial.is_attention_check and clustering and row != trial.check_row:
                continue  # in a clustering check only the copied row is the check
            record = {
                "worker": r.assignment.participant.external_id,
                "survey": r.assignment.survey.name,
                "kind": r.assignment.survey.spec.layout.name,
                "trial": trial.pk,
                "position": trial.position,
                "row": row if clustering else -1,
                "condition": label,
                "attention_check": trial.is_attention_check,
                "answer": answer,
                "correct_answer": correct_answer,
                "correct": answer == correct_answer,
                "response_ms": r.response_ms,
                **_what_was_shown(shown, clustering, row, correct_answer),
                "network": trial.job.model_spec.architecture,
                "simulated": bool(isinstance(r.viewing, dict) and r.viewing.get("bot")),
            }
            for variant in VARIANTS:
                choice = lpips.get((trial.pk, variant))
                record[f"lpips:{variant}"] = (choice.choice[row] if clustering else choice.choice) if choice else None
                record[f"dist:{variant}"] = choice.distances[row] if choice else None
            records.append(record)
    extra = [f"{p}:{v}" for v in VARIANTS for p in ("lpips", "dist")]
    frame = pd.DataFrame.from_records(records, columns=[c for c in BASE_COLUMNS if c != "excluded"] + extra)
    failed = set(frame[frame.attention_check & ~frame.correct.astype(bool)].worker.unique())
    failed |= set(
        Assignment.objects.filter(survey__study=study, excluded=True).values_list("participant__external_id", flat=True)
    )
    frame.insert(len(BASE_COLUMNS) - 1, "excluded", frame.worker.isin(failed))
    return frame


TRIPLET_COLUMNS = [
    "worker",
    "survey",
    "trial",
    "row",
    "condition",
    "attention_check",
    "excluded",
    "simulated",
    "reference",
    "closer",
    "farther",
    "reference_sha256",
    "closer_sha256",
    "farther_sha256",
]


def study_triplets(study: Study, *, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every judgement of the study as triplets, the currency all kinds share (SCIENCE.md §3):
    the worker judged ``reference`` closer to ``closer`` than to ``farther`` (stimulus ids and
    hashes). A 2AFC trial is one triplet (the IRI; the option chosen, the other); a clustering
    row matched to column c gives one per other column."""
    frame = judgements(study) if frame is None else frame
    slots: dict[int, dict[str, list[Any]]] = {}
    for slot in TrialSlot.objects.filter(trial_id__in=frame.trial.unique().tolist()).select_related("stimulus"):
        slots.setdefault(slot.trial_id, {}).setdefault(slot.role, []).append((slot.index, slot.stimulus))
    images = {
        t: {role: [s for _, s in sorted(items, key=lambda x: x[0])] for role, items in r.items()}
        for t, r in slots.items()
    }
    records = []
    for j in frame.itertuples(index=False):
        shown = images[j.trial]
        if j.row < 0:  # a 2AFC judgement: the query over its options
            reference, references = shown[TrialSlot.Role.QUERY][0], shown[TrialSlot.Role.OPTION]
        else:
            reference, references = shown[TrialSlot.Role.ROW][j.row], shown[TrialSlot.Role.COLUMN]
        closer = references[j.answer]
        for other, farther in enumerate(references):
            if other == j.answer:
                continue
            records.append(
                {
                    "worker": j.worker,
                    "survey": j.survey,
                    "trial": j.trial,
                    "row": j.row,
                    "condition": j.condition,
                    "attention_check": j.attention_check,
                    "excluded": j.excluded,
                    "simulated": j.simulated,
                    "reference": reference.pk,
                    "closer": closer.pk,
                    "farther": farther.pk,
                    "reference_sha256": reference.sha256,
                    "closer_sha256": closer.sha256,
                    "farther_sha256": farther.sha256,
                }
            )
    return pd.DataFrame.from_records(records, columns=TRIPLET_COLUMNS)


def _what_was_shown(shown: dict[str, Any], clustering: bool, row: int, correct_answer: int) -> dict[str, Any]:
    """The worker's position (1-based), the row's place on screen (clustering), where the
    correct answer was (2AFC: left/right; clustering: column A/B/C) and the answer as clicked."""
    if not shown:
        return {"shown_position": None, "shown_row": None, "target_side": None, "answer_shown": None}
    if clustering:
        return {
            "shown_position": shown["position"],
            "shown_row": shown["rows"].index(row),
            "target_side": SIDES[Clustering.name][shown["columns"].index(correct_answer)],
            "answer_shown": shown["answer_shown"][shown["rows"].index(row)],
        }
    return {
        "shown_position": shown["position"],
        "shown_row": -1,
        "target_side": SIDES[PickOfTwo.name][correct_answer ^ shown["flip"]],
        "answer_shown": shown["answer_shown"],
    }


def participants_label(frame: pd.DataFrame) -> str:
    """Who answered, in words: simulated participants are never called people."""
    simulated = frame.drop_duplicates("worker").simulated
    if simulated.all():
        return "simulated participants"
    if not simulated.any():
        return "people"
    return f"participants ({int(simulated.sum())} of {len(simulated)} simulated)"


def study_results(study: Study, *, frame: pd.DataFrame | None = None, seed: int = 0) -> dict[str, Any]:
    """Everything the report, the admin's live view and the API show about a study (from
    ``frame``, the study's judgements, when the caller already has them)."""
    frame = judgements(study) if frame is None else frame
    variants = list(VARIANTS)
    total = sum(s.workers_per_survey for s in study.surveys.all())
    statuses = Assignment.objects.filter(survey__study=study).values_list("status", flat=True)
    out: dict[str, Any] = {
        "assignments_done": sum(status in Assignment.COUNTED for status in statuses),
        "assignments_in_progress": sum(status == Assignment.Status.STARTED for status in statuses),
        "assignments_expired": sum(status == Assignment.Status.EXPIRED for status in statuses),
        "assignments_total": total,
        "workers": int(frame.worker.nunique()),
        "workers_counted": int(frame[~frame.excluded].worker.nunique()),
        "excluded_workers": sorted(frame[frame.excluded].worker.unique().tolist()),
    }
    if results.scored(frame).empty:
        return {**out, "conditions": [], "verdict": "No answers from included workers yet."}
    summary = results.summarise(frame, variants, seed=seed)
    ordering = results.orderings(summary, variants)
    participants = participants_label(frame)
    return {
        **out,
        "conditions": summary,
        "triplet_alignment": results.triplet_agreement(frame, variants),
        "noise_ceiling": results.noise_ceiling(frame),
        "fleiss_kappa": results.kappa(frame),
        "order_effects": results.order_effects(frame),
        "response_times": results.response_times(frame),
        "orderings": ordering,
        "participants": participants,
        "verdict": results.verdict(summary, ordering, frame=frame, participants=participants),
    }


WORKER_COLUMNS = [
    "worker", "survey", "status", "started_at", "submitted_at", "minutes", "judgements", "checks_passed",
    "checks_asked", "alignment", "median_trial_s", "excluded", "why", "simulated", "exit_answers",
]  # fmt: skip


def study_workers(study: Study, *, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per worker who started a survey of the study, whatever became of it: the
    assignment's status and times, their scores (``results.worker_scores``, from submitted work),
    whether they are left out and why, and their answers to the exit questions (JSON)."""
    frame = judgements(study) if frame is None else frame
    scores = {(r.worker, r.survey): r._asdict() for r in results.worker_scores(frame).itertuples(index=False)}
    assignments = (
        Assignment.objects.filter(survey__study=study)
        .select_related("participant", "survey")
        .order_by("survey_id", "ordinal", "pk")
    )
    rows = []
    for a in assignments:
        worker, survey = a.participant.external_id, a.survey.name
        minutes = (a.submitted_at - a.started_at).total_seconds() / 60 if a.submitted_at else None
        why = "" if a.status in Assignment.COUNTED else f"not submitted ({a.get_status_display().lower()})"
        row = {
            "worker": worker,
            "survey": survey,
            "status": a.status,
            "started_at": a.started_at.isoformat(timespec="seconds"),
            "submitted_at": a.submitted_at.isoformat(timespec="seconds") if a.submitted_at else "",
            "minutes": round(minutes, 1) if minutes is not None else None,
            "judgements": 0,
            "checks_passed": 0,
            "checks_asked": 0,
            "alignment": None,
            "median_trial_s": None,
            "excluded": a.status not in Assignment.COUNTED,
            "why": why,
            "simulated": False,
            **scores.get((worker, survey), {}),
            "exit_answers": json.dumps(a.exit_answers, ensure_ascii=False) if a.exit_answers else "",
        }
        rows.append(row)
    return pd.DataFrame.from_records(rows, columns=WORKER_COLUMNS)
