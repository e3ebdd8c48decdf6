"""What workers read and answer besides the trials: instructions, consent, practice, exit
questions and thanks, changeable until a survey closes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from metamer.errors import MetamerError
from surveys.models import Survey

CONTENT_FIELDS = (
    "instructions_text",
    "consent_text",
    "n_practice",
    "exit_questions",
    "ask_demographics",
    "thank_you_text",
)
"""What workers read and answer besides the trials: changeable until the survey closes."""


@transaction.atomic
def survey_content_update(*, survey: Survey, changes: dict[str, Any]) -> Survey:
    """Change what workers read (``CONTENT_FIELDS``); each value is checked against its field's
    bounds, and nothing is stored unless all pass. A closed survey keeps what its workers saw."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.status == Survey.Status.CLOSED:
        raise MetamerError(f"{survey.name} is closed: what its workers read stays as they read it", code="conflict")
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise MetamerError(f"not changeable here: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    for field, value in changes.items():
        setattr(survey, field, value)
    try:
        survey.full_clean(exclude=[f.name for f in Survey._meta.fields if f.name not in changes])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise MetamerError(f"{field}: {' '.join(messages)}", field=field) from None
    survey.save(update_fields=list(changes))
    return survey
