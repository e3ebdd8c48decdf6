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
        _check_type(field, value)
        setattr(survey, field, value)
    try:
        survey.full_clean(exclude=[f.name for f in Survey._meta.fields if f.name not in changes])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise MetamerError(f"{field}: {' '.join(messages)}", field=field) from None
    survey.save(update_fields=list(changes))
    return survey


def _check_type(field: str, value: Any) -> None:
    """Each content field's own type and size: text as text within its limit (a list is not
    stored as its repr), a whole number as a whole number (never 1e400 or true), true/false."""
    model_field = Survey._meta.get_field(field)
    kind = model_field.get_internal_type()
    if kind == "TextField":
        if type(value) is not str:
            raise MetamerError(f"{field}: give text", field=field)
        if model_field.max_length and len(value) > model_field.max_length:
            raise MetamerError(f"{field}: {len(value):,} characters, more than {model_field.max_length:,}", field=field)
        if "\x00" in value:
            raise MetamerError(f"{field}: remove the NUL character", field=field)
    elif kind == "BooleanField" and type(value) is not bool:
        raise MetamerError(f"{field}: give true or false", field=field)
    elif kind.endswith("IntegerField") and type(value) is not int:
        raise MetamerError(f"{field}: give a whole number", field=field)
