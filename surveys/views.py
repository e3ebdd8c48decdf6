"""The worker's pages. Thin: every decision is in services and selectors.

The assignment token in the URL is the credential (a capability link), so answer posts are
CSRF-exempt: recruiters frame these pages on their own sites, where cookies are not sent.
"""

from __future__ import annotations

import contextlib
import functools
import math

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from metamer.errors import MetamerError
from surveys import services, validation
from surveys.models import Assignment, Survey, Trial
from surveys.practice import svg_shape
from surveys.presentation import assignment_sequence
from surveys.recruitment import recruiter_terms
from surveys.selectors import (
    assignment_for_answer,
    assignment_next_trial,
    assignment_presentations,
    assignment_progress,
    survey_minutes,
    trial_payload,
)

MTURK_FRAMES = "https://www.mturk.com https://workersandbox.mturk.com"


def worker_page(view):
    """Security headers for the worker's pages: a content security policy that allows this
    site's own scripts and styles, images from the media origin, answers posted here or back
    to MTurk, and framing by MTurk only (its HITs show these pages in an iframe)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        media = settings.METAMER_MEDIA_ORIGIN
        response["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: {media}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            f"form-action 'self' {MTURK_FRAMES}; frame-ancestors 'self' {MTURK_FRAMES}"
        )
        response["Referrer-Policy"] = "same-origin"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    return wrapped


@worker_page
@xframe_options_exempt
@csrf_exempt
@require_http_methods(["GET", "POST"])
def survey_landing(request: HttpRequest, survey_uuid: str) -> HttpResponse:
    """Instructions and consent; POST starts (or, when vouched for, resumes) the participant's
    assignment. The recruiter's query parameters say who is arriving (an MTurk preview accepts
    no answers); a plain link carries its place's token."""
    survey = get_object_or_404(Survey.objects.select_related("study"), uuid=survey_uuid)
    params = {**request.GET.dict(), **request.POST.dict()}
    link_token = params.get("link", "")
    minutes = max(1, math.ceil(survey_minutes(survey)))
    context = {"survey": survey, "params": params, "link": link_token, "minutes": minutes}
    try:
        who = recruiter_terms(survey.study).arrival(survey.study, params)
    except MetamerError as exc:
        return render(request, "surveys/landing.html", {**context, "error": exc.message}, status=400)
    context.update(preview=who.preview, pid=who.external_id)
    if not who.preview and request.session.session_key is None:
        # The browser holds its session before it starts, so a start whose reply was lost
        # resumes on retry instead of being refused as someone else's place.
        request.session.save()
    if request.method == "POST" and not who.preview:
        try:
            assignment = services.assignment_start(
                survey=survey,
                external_id=who.external_id,
                recruiter_data=who.data,
                session_key=request.session.session_key,
                link_token=link_token,
            )
        except MetamerError as exc:
            status = exc.status
            # A refusal (not a typing mistake) offers no start button: there is nothing to retry.
            refused = status != 400
            return render(
                request, "surveys/landing.html", {**context, "error": exc.message, "refused": refused}, status=status
            )
        return redirect("surveys:assignment", token=assignment.token)
    return render(request, "surveys/landing.html", context)


@worker_page
@xframe_options_exempt
@require_GET
def assignment_page(request: HttpRequest, token: str) -> HttpResponse:
    assignment = get_object_or_404(Assignment.objects.select_related("survey__study"), token=token)
    answered, total = assignment_progress(assignment)
    context = {"assignment": assignment, "survey": assignment.survey, "answered": answered, "total": total}
    if assignment.status == Assignment.Status.EXPIRED:
        return render(request, "surveys/expired.html", context, status=410)
    survey = assignment.survey
    if assignment.status == Assignment.Status.STARTED and not answered and assignment.practice_done < survey.n_practice:
        action = reverse("surveys:practice", args=[token])
        return _practice_page(request, survey, assignment.practice_done, form_action=action)
    upcoming = assignment_next_trial(assignment)
    if upcoming is None:
        services.assignment_finish(assignment=assignment)
        if assignment.status in Assignment.COUNTED and _asks_exit(survey) and assignment.exit_answers is None:
            return _exit_page(request, survey, total, form_action=reverse("surveys:exit", args=[token]))
        return render(
            request,
            "surveys/done.html",
            {**context, "completion": recruiter_terms(assignment.survey.study).completion(assignment)},
        )
    payload = trial_payload(upcoming.trial, upcoming.presentation, upcoming.position)
    return render(
        request,
        "surveys/trial.html",
        {
            **context,
            "trial": payload,
            "form_action": reverse("surveys:answer", args=[assignment.token]),
            "idempotency_key": f"t{upcoming.trial.pk}-{assignment.pk}",
        },
    )


def _asks_exit(survey: Survey) -> bool:
    return bool(survey.exit_questions.strip() or survey.ask_demographics)


def _exit_questions(survey: Survey) -> list[str]:
    return [line.strip() for line in survey.exit_questions.splitlines() if line.strip()]


def _exit_page(request: HttpRequest, survey: Survey, total: int, *, form_action: str, **extra) -> HttpResponse:
    context = {
        "survey": survey,
        "total": total,
        "questions": _exit_questions(survey),
        "demographics": validation.DEMOGRAPHICS if survey.ask_demographics else None,
        "form_action": form_action,
        **extra,
    }
    return render(request, "surveys/exit.html", context, status=400 if "error" in extra else 200)


def _practice_page(
    request: HttpRequest, survey: Survey, index: int, *, form_action: str, feedback=None, next_url: str = "", **extra
) -> HttpResponse:
    """Practice question ``index``, or with ``feedback`` (right, message) the answer's feedback."""
    question = survey.spec.layout.practice(index)
    context = {
        "survey": survey,
        "index": index,
        "n_practice": survey.n_practice,
        "question": question,
        "reference": svg_shape(question.reference) if question.reference else None,
        "options": [svg_shape(s) for s in question.options],
        "columns": [svg_shape(s, 72) for s in question.columns],
        "rows": [svg_shape(s, 60) for s in question.rows],
        "scale": range(11),
        "form_action": form_action,
        "next_url": next_url,
        **extra,
    }
    if feedback is not None:
        context["right"], context["feedback"] = feedback
    return render(request, "surveys/practice.html", context)


def _practice_feedback(survey: Survey, index: int, post) -> tuple[bool, str]:
    """Whether what was clicked on practice question ``index`` is right, and why."""
    layout = survey.spec.layout
    return layout.practice_feedback(layout.practice(index), layout.practice_answer(post))


@worker_page
@xframe_options_exempt
@csrf_exempt
@require_POST
def assignment_practice(request: HttpRequest, token: str) -> HttpResponse:
    """Answer a practice question: feedback, and the count of practice questions done (never data)."""
    assignment = get_object_or_404(Assignment.objects.select_related("survey"), token=token)
    survey = assignment.survey
    index = _int_or_none(request.POST.get("index"))
    index = assignment.practice_done if index is None else index
    if index >= survey.n_practice:
        return redirect("surveys:assignment", token=token)
    feedback = _practice_feedback(survey, index, request.POST)
    try:
        services.assignment_practice_record(assignment=assignment, index=index)
    except MetamerError:
        return redirect("surveys:assignment", token=token)
    here = reverse("surveys:assignment", args=[token])
    return _practice_page(request, survey, index, form_action="", feedback=feedback, next_url=here)


@worker_page
@xframe_options_exempt
@csrf_exempt
@require_POST
def assignment_exit(request: HttpRequest, token: str) -> HttpResponse:
    """The exit questions' answers (or a skip), then the completion page."""
    assignment = get_object_or_404(Assignment.objects.select_related("survey"), token=token)
    survey = assignment.survey
    answers = {}
    if not request.POST.get("skip"):
        try:
            answers = validation.exit_answers(
                request.POST.dict(), questions=_exit_questions(survey), demographics=survey.ask_demographics
            )
        except MetamerError as exc:
            _, total = assignment_progress(assignment)
            action = reverse("surveys:exit", args=[token])
            return _exit_page(request, survey, total, form_action=action, error=exc.message)
    with contextlib.suppress(MetamerError):  # not submitted yet: the assignment page says what is left
        services.assignment_exit_record(assignment=assignment, answers=answers)
    return redirect("surveys:assignment", token=token)


@require_GET
def assignment_trial_json(request: HttpRequest, token: str) -> JsonResponse:
    assignment = get_object_or_404(Assignment.objects.select_related("survey"), token=token)
    upcoming = assignment_next_trial(assignment)
    if upcoming is None:
        services.assignment_finish(assignment=assignment)
    answered, total = assignment_progress(assignment)
    payload = trial_payload(upcoming.trial, upcoming.presentation, upcoming.position) if upcoming else None
    return JsonResponse({"answered": answered, "total": total, "trial": payload})


@worker_page
@staff_member_required
@require_http_methods(["GET", "POST"])
def survey_preview(request: HttpRequest, survey_uuid: str) -> HttpResponse:
    """The real worker pages for staff, on a survey in any status, recording nothing: no
    participant, assignment or answer is made, so no result, report, export or payment sees it.
    ``?i=N`` shows the N-th trial of a first worker's sequence; answering moves on."""
    survey = get_object_or_404(Survey.objects.select_related("study"), uuid=survey_uuid)
    here = reverse("surveys:preview", args=[survey.uuid])
    index = _int_or_none(request.GET.get("i")) or 0
    page = request.GET.get("page", "")
    if page == "landing":
        minutes = max(1, math.ceil(survey_minutes(survey)))
        first = f"{here}?page=practice" if survey.n_practice else here
        context = {"survey": survey, "params": {}, "minutes": minutes, "preview": True, "next_url": first}
        return render(request, "surveys/landing.html", context)
    if page == "practice" and index < survey.n_practice:
        action = f"{here}?page=practice&i={index}"
        if request.method == "POST":
            feedback = _practice_feedback(survey, index, request.POST)
            following = f"{here}?page=practice&i={index + 1}" if index + 1 < survey.n_practice else here
            return _practice_page(request, survey, index, form_action="", feedback=feedback, next_url=following)
        return _practice_page(request, survey, index, form_action=action, preview=True)
    if page == "exit" or page == "done":
        if request.method == "POST" or page == "done" or not _asks_exit(survey):
            return render(
                request, "surveys/done.html", {"preview": True, "survey": survey, "completion": {"kind": "preview"}}
            )
        return _exit_page(request, survey, survey.trials.count(), form_action=f"{here}?page=exit", preview=True)
    sequence = assignment_sequence(
        [(pk, survey.spec.layout) for pk in survey.trials.order_by("position").values_list("pk", flat=True)],
        survey_seed=survey.seed,
        ordinal=0,
        places=survey.workers_per_survey,
    )
    if request.method == "POST":
        return redirect(f"{here}?i={index + 1}")
    context = {"preview": True, "survey": survey, "answered": min(index, len(sequence)), "total": len(sequence)}
    if index >= len(sequence):
        if _asks_exit(survey):
            return redirect(f"{here}?page=exit")
        return render(request, "surveys/done.html", {**context, "completion": {"kind": "preview"}})
    entry = sequence[index]
    trial = get_object_or_404(Trial.objects.select_related("survey"), pk=entry["trial"], survey=survey)
    return render(
        request,
        "surveys/trial.html",
        {
            **context,
            "trial": trial_payload(trial, entry, index + 1),
            "form_action": f"{here}?i={index}",
            "idempotency_key": "preview",
        },
    )


@csrf_exempt
@require_POST
def assignment_answer(request: HttpRequest, token: str) -> HttpResponse:
    """Save one answer (JSON or form post). JSON callers get JSON; forms are redirected back."""
    assignment = assignment_for_answer(token)
    if assignment is None:
        raise Http404("no such assignment")
    is_json = request.content_type == "application/json"
    try:
        validation.check_body_length(request.META.get("CONTENT_LENGTH"))
        data = validation.answer_body(request.body, is_json=is_json, form=request.POST.dict() if not is_json else {})
        shown = {e["trial"]: e for e in assignment_presentations(assignment)}.get(data["trial"])
        response, created = services.response_record(
            assignment=assignment,
            trial_id=data["trial"],
            # The page sends what was clicked; the service stores it in the trial's own terms.
            answer=assignment.survey.spec.layout.from_shown(shown, data["answer"]) if shown else data["answer"],
            idempotency_key=data["idempotency_key"],
            response_ms=data["response_ms"],
            viewing=data["viewing"],
        )
    except MetamerError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    if not is_json:
        return redirect("surveys:assignment", token=token)
    return JsonResponse({"saved": True, "created": created, "response": response.pk})


def _int_or_none(value) -> int | None:
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError, OverflowError):
        return None
