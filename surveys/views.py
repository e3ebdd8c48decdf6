"""The worker's pages. Thin: every decision is in services and selectors.

The assignment token in the URL is the credential (a capability link), so answer posts are
CSRF-exempt: recruiters frame these pages on their own sites, where cookies are not sent.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from metamer.errors import MetamerError
from surveys import recruiters, services
from surveys.models import Assignment, Survey
from surveys.selectors import assignment_next_trial, assignment_progress, trial_payload


@xframe_options_exempt
@csrf_exempt
@require_http_methods(["GET", "POST"])
def survey_landing(request: HttpRequest, survey_uuid: str) -> HttpResponse:
    """Instructions and consent; POST starts (or resumes) the participant's assignment. The
    recruiter's query parameters say who is arriving (an MTurk preview accepts no answers)."""
    survey = get_object_or_404(Survey.objects.select_related("study"), uuid=survey_uuid)
    params = {**request.GET.dict(), **request.POST.dict()}
    context = {"survey": survey, "params": params, "sample": _sample_trial(survey)}
    try:
        who = recruiters.arrival(survey.study, params)
    except MetamerError as exc:
        return render(request, "surveys/landing.html", {**context, "error": exc.message}, status=400)
    context.update(preview=who.preview, pid=who.external_id)
    if request.method == "POST" and not who.preview:
        try:
            assignment = services.assignment_start(survey=survey, external_id=who.external_id, recruiter_data=who.data)
        except MetamerError as exc:
            return render(request, "surveys/landing.html", {**context, "error": exc.message}, status=409)
        return redirect("surveys:assignment", token=assignment.token)
    return render(request, "surveys/landing.html", context)


def _sample_trial(survey: Survey) -> dict | None:
    first = survey.trials.order_by("position").first()
    return trial_payload(first) if first else None


@xframe_options_exempt
@require_GET
def assignment_page(request: HttpRequest, token: str) -> HttpResponse:
    assignment = get_object_or_404(Assignment.objects.select_related("survey__study"), token=token)
    trial = assignment_next_trial(assignment)
    answered, total = assignment_progress(assignment)
    context = {"assignment": assignment, "answered": answered, "total": total}
    if trial is None:
        return render(request, "surveys/done.html", {**context, "completion": recruiters.completion(assignment)})
    return render(request, "surveys/trial.html", {**context, "trial": trial_payload(trial)})


@require_GET
def assignment_trial_json(request: HttpRequest, token: str) -> JsonResponse:
    assignment = get_object_or_404(Assignment.objects.select_related("survey"), token=token)
    trial = assignment_next_trial(assignment)
    answered, total = assignment_progress(assignment)
    return JsonResponse({"answered": answered, "total": total, "trial": trial_payload(trial) if trial else None})


@csrf_exempt
@require_POST
def assignment_answer(request: HttpRequest, token: str) -> HttpResponse:
    """Save one answer (JSON or form post). JSON callers get JSON; forms are redirected back."""
    assignment = get_object_or_404(Assignment.objects.select_related("survey"), token=token)
    is_json = request.content_type == "application/json"
    try:
        data = json.loads(request.body) if is_json else request.POST.dict()
        response, created = services.response_record(
            assignment=assignment,
            trial_id=int(data.get("trial", 0)),
            answer=_answer(data),
            idempotency_key=str(data.get("idempotency_key", "")),
            response_ms=_int_or_none(data.get("response_ms")),
            viewing=data.get("viewing") if is_json else _json_or_empty(data.get("viewing")),
        )
    except (ValueError, json.JSONDecodeError):
        return JsonResponse({"detail": "the request body is not valid"}, status=400)
    except MetamerError as exc:
        return JsonResponse(exc.as_dict(), status=409 if exc.code == "conflict" else 400)
    if not is_json:
        return redirect("surveys:assignment", token=token)
    return JsonResponse({"saved": True, "created": created, "response": response.pk})


def _answer(data: dict):
    """JSON carries the answer; form posts carry text (``answer``, or ``row-N`` for clustering).
    The service validates whatever comes out."""
    if "answer" not in data and "row-0" in data:
        return [_answer({"answer": data.get(f"row-{i}")}) for i in range(sum(k.startswith("row-") for k in data))]
    value = data.get("answer")
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _int_or_none(value) -> int | None:
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return None


def _json_or_empty(value: str | None) -> dict:
    try:
        parsed = json.loads(value or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
