"""The worker's pages. Thin: every decision is in services and selectors.

The assignment token in the URL is the credential (a capability link), so answer posts are
CSRF-exempt: recruiters frame these pages on their own sites, where cookies are not sent.
"""

from __future__ import annotations

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
from surveys import recruiters, services, validation
from surveys.models import Assignment, Survey, Trial
from surveys.presentation import answer_from_shown, assignment_sequence
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


REFUSAL_STATUS = {"full": 409, "taken": 403, "expired": 410, "link": 404, "conflict": 409}


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
        who = recruiters.arrival(survey.study, params)
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
            status = REFUSAL_STATUS.get(exc.code, 400)
            return render(request, "surveys/landing.html", {**context, "error": exc.message}, status=status)
        return redirect("surveys:assignment", token=assignment.token)
    return render(request, "surveys/landing.html", context)


@worker_page
@xframe_options_exempt
@require_GET
def assignment_page(request: HttpRequest, token: str) -> HttpResponse:
    assignment = get_object_or_404(Assignment.objects.select_related("survey__study"), token=token)
    answered, total = assignment_progress(assignment)
    context = {"assignment": assignment, "answered": answered, "total": total}
    if assignment.status == Assignment.Status.EXPIRED:
        return render(request, "surveys/expired.html", context, status=410)
    upcoming = assignment_next_trial(assignment)
    if upcoming is None:
        services.assignment_finish(assignment=assignment)
        return render(request, "surveys/done.html", {**context, "completion": recruiters.completion(assignment)})
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
    sequence = assignment_sequence(
        [(pk, survey.layout) for pk in survey.trials.order_by("position").values_list("pk", flat=True)],
        survey_seed=survey.seed,
        ordinal=0,
        places=survey.workers_per_survey,
    )
    index = _int_or_none(request.GET.get("i")) or 0
    here = reverse("surveys:preview", args=[survey.uuid])
    if request.method == "POST":
        return redirect(f"{here}?i={index + 1}")
    context = {"preview": True, "survey": survey, "answered": min(index, len(sequence)), "total": len(sequence)}
    if index >= len(sequence):
        return render(request, "surveys/done.html", {**context, "completion": {"kind": "preview"}})
    entry = sequence[index]
    trial = get_object_or_404(Trial, pk=entry["trial"], survey=survey)
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


ANSWER_REFUSAL_STATUS = {"conflict": 409, "too_large": 413}


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
            answer=answer_from_shown(shown, data["answer"]) if shown else data["answer"],
            idempotency_key=data["idempotency_key"],
            response_ms=data["response_ms"],
            viewing=data["viewing"],
        )
    except MetamerError as exc:
        return JsonResponse(exc.as_dict(), status=ANSWER_REFUSAL_STATUS.get(exc.code, 400))
    if not is_json:
        return redirect("surveys:assignment", token=token)
    return JsonResponse({"saved": True, "created": created, "response": response.pk})


def _int_or_none(value) -> int | None:
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError, OverflowError):
        return None
