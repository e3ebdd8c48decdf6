"""The one check of what a worker's browser sends: types, ranges and sizes, before anything is
stored. Every failure is a ``MetamerError`` naming the field and what to send instead."""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

from metamer.errors import MetamerError

MAX_BODY_BYTES = 16 * 1024
"""An answer is a few hundred bytes; its viewing conditions a few kB."""
MAX_VIEWING_BYTES = 8 * 1024
MAX_RESPONSE_MS = 24 * 3600 * 1000
MAX_ID_LENGTH = 200
MAX_KEY_LENGTH = 64


def _unprintable(ch: str) -> bool:
    # C1 controls and the Unicode line and paragraph separators: spreadsheets and logs break on them.
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def clean_text(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    """A printable string of at most ``max_length`` characters (no NUL or control characters,
    which PostgreSQL refuses and spreadsheets misread)."""
    if value is None or value == "":
        if required:
            raise MetamerError(f"{field} is missing", field=field)
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise MetamerError(f"{field} must be text", field=field)
    text = str(value)
    if len(text) > max_length:
        raise MetamerError(f"{field} is longer than {max_length} characters", field=field)
    if any(ord(ch) < 32 or ord(ch) == 127 or (ord(ch) > 127 and _unprintable(ch)) for ch in text):
        raise MetamerError(f"{field} contains control characters or line separators", field=field)
    return text


def check_body_length(content_length: str | None) -> None:
    """Refuse an oversize answer from its declared length, before the body is read."""
    try:
        length = int(content_length or 0)
    except ValueError:
        raise MetamerError("the Content-Length header is not a number", field="body") from None
    if length > MAX_BODY_BYTES:
        raise MetamerError(
            f"the answer is {length:,} bytes; an answer is at most {MAX_BODY_BYTES // 1024} kB: reload the page",
            field="body",
            code="too_large",
        )


def answer_body(raw: bytes, *, is_json: bool, form: dict[str, str]) -> dict[str, Any]:
    """``{trial, answer, idempotency_key, response_ms, viewing}`` from a JSON or form post."""
    if len(raw) > MAX_BODY_BYTES:
        raise MetamerError(f"the answer is larger than {MAX_BODY_BYTES // 1024} kB", field="body")
    if is_json:
        try:
            data = json.loads(raw, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError):
            raise MetamerError("the body is not valid JSON", field="body") from None
        if not isinstance(data, dict):
            raise MetamerError("the body must be a JSON object with trial, answer and idempotency_key", field="body")
    else:
        data = form
    return {
        "trial": _trial(data.get("trial")),
        "answer": _answer(data, from_form=not is_json),
        "idempotency_key": clean_text(data.get("idempotency_key"), field="idempotency_key", max_length=MAX_KEY_LENGTH),
        "response_ms": _response_ms(data.get("response_ms")),
        "viewing": _viewing(data.get("viewing"), is_json=is_json),
    }


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _trial(value: Any) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise MetamerError("trial must be the id of a trial (a positive whole number)", field="trial")
    return value


def _answer(data: dict[str, Any], *, from_form: bool) -> Any:
    """JSON carries the answer as it is (a string is not a number there); form posts carry text
    (``answer``, or ``row-N`` for clustering), read as whole numbers. Its meaning is checked
    against the trial by the kind's spec."""
    if from_form and "answer" not in data and "row-0" in data:
        rows = sum(1 for k in data if k.startswith("row-"))
        if rows > 12:
            raise MetamerError("too many rows in the answer", field="answer")
        return [_answer({"answer": data.get(f"row-{i}")}, from_form=True) for i in range(rows)]
    value = data.get("answer")
    if from_form and isinstance(value, str):
        return int(value) if value.isascii() and value.isdigit() and len(value) < 3 else value[:20]
    if isinstance(value, list) and len(value) > 12:
        raise MetamerError("too many rows in the answer", field="answer")
    return value


def _response_ms(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MetamerError("response_ms must be a number of milliseconds", field="response_ms") from None
    if isinstance(value, bool) or not math.isfinite(number) or not 0 <= number <= MAX_RESPONSE_MS:
        raise MetamerError(f"response_ms must be between 0 and {MAX_RESPONSE_MS}", field="response_ms")
    return int(number)


def _viewing(value: Any, *, is_json: bool) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not is_json:
        try:
            value = json.loads(value, parse_constant=_no_constants)
        except (TypeError, ValueError):
            raise MetamerError("viewing must be a JSON object", field="viewing") from None
    if not isinstance(value, dict):
        raise MetamerError("viewing must be a JSON object", field="viewing")
    encoded = json.dumps(value)
    if len(encoded) > MAX_VIEWING_BYTES:
        raise MetamerError(f"viewing is larger than {MAX_VIEWING_BYTES // 1024} kB", field="viewing")
    if "\\u0000" in encoded:
        raise MetamerError("viewing contains NUL characters", field="viewing")
    return value


MAX_EXIT_ANSWER = 2000
DEMOGRAPHICS = {
    "age": ("", "18–24", "25–34", "35–44", "45–54", "55–64", "65 or over"),
    "gender": ("", "Woman", "Man", "Non-binary", "Another gender"),
    "vision": ("", "Normal", "Corrected to normal (glasses or lenses)", "Not corrected"),
}
"""The optional demographic questions and their choices ("" is "prefer not to say")."""


def exit_answers(form: dict[str, str], *, questions: list[str], demographics: bool) -> dict[str, str]:
    """A worker's exit answers: free text to each question (line breaks kept, nothing else
    unprintable, at most ``MAX_EXIT_ANSWER`` characters each) and, when asked, the demographic
    choices. Unanswered questions are left out."""
    answers = {}
    for n, question in enumerate(questions):
        text = (form.get(f"q{n}") or "").replace("\r\n", "\n").strip()
        if text:
            clean_text(text.replace("\n", " ").replace("\t", " "), field=f"answer {n + 1}", max_length=MAX_EXIT_ANSWER)
            answers[question] = text
    if demographics:
        for key, choices in DEMOGRAPHICS.items():
            value = form.get(key) or ""
            if value not in choices:
                raise MetamerError(f"{key}: choose one of the listed answers", field=key)
            if value:
                answers[key] = value
    return answers
