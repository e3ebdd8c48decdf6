"""The worker's pages. Thin: every decision is in services and selectors.

The assignment token in the URL is the credential (a capability link), so answer posts are
CSRF-exempt: recruiters frame these pages on their own sites, where cookies are not sent.
"""

from __future__ import annotations

import json

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from metamer.errors import MetamerError
from surveys import recruiters, services
from surveys.models import Assignment, Survey, Trial
from surveys.presentation import answer_from_shown, assignment_sequence
from surveys.selectors import assignment_next_trial, assignment_presentations, assignment_progress, trial_payload

REFUSAL_STATUS = {"full": 409, "taken": 403, "expired": 410, "link": 404, "conflict": 409}


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
    context = {"survey": survey, "params": params, "link": link_token}
    try:
        who = recruiters.arrival(survey.study, params)
    except MetamerError as exc:
        return render(request, "surveys/landing.html", {**context, "error": exc.message}, status=400)
    context.update(preview=who.preview, pid=who.external_id)
    if request.method == "POST" and not who.preview:
        if request.session.session_key is None:
            request.session.save()
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
    answered, total = assignment_progress(assignment)
    payload = trial_payload(upcoming.trial, upcoming.presentation, upcoming.position) if upcoming else None
    return JsonResponse({"answered": answered, "total": total, "trial": payload})


@staff_member_required
@require_http_methods(["GET", "POST"])
def survey_preview(request: HttpRequest, survey_uuid: str) -> HttpResponse:
    """The real worker pages for staff, on a survey in any status, recording nothing: no
    participant, assignment or answer is made, so no result, report, export or payment sees it.
    ``?i=N`` shows the N-th trial of a first worker's sequence; answering moves on."""
    survey = get_object_or_404(Survey.objects.select_related("study"), uuid=survey_uuid)
    kind = "2afc" if survey.kind == Survey.Kind.TWO_AFC else "clustering"
    sequence = assignment_sequence(
        [(pk, kind) for pk in survey.trials.order_by("position").values_list("pk", flat=True)],
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


@csrf_exempt
@require_POST
def assignment_answer(request: HttpRequest, token: str) -> HttpResponse:
    """Save one answer (JSON or form post). JSON callers get JSON; forms are redirected back."""
    assignment = get_object_or_404(Assignment.objects.select_related("survey"), token=token)
    is_json = request.content_type == "application/json"
    try:
        data = json.loads(request.body) if is_json else request.POST.dict()
        trial_id = int(data.get("trial", 0))
        shown = {e["trial"]: e for e in assignment_presentations(assignment)}.get(trial_id)
        answer = _answer(data)
        response, created = services.response_record(
            assignment=assignment,
            trial_id=trial_id,
            # The page sends what was clicked; the service stores it in the trial's own terms.
            answer=answer_from_shown(shown, answer) if shown else answer,
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
