import io
import logging

import pytest

from metamer.logs import RedactTokens, redact

pytestmark = pytest.mark.django_db


@pytest.fixture
def written():
    """What the configured console handler writes, in a buffer."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactTokens) for f in h.filters))
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    yield buffer
    handler.setStream(old)


def test_a_worker_page_that_is_not_found_is_logged_without_its_token(client, written):
    token = "Zq3secretTOKEN9"
    assert client.get(f"/a/{token}/").status_code == 404
    assert client.get(f"/a/{token}/trial.json?link=LinkSecret42").status_code == 404
    logged = written.getvalue()
    assert "Not Found: /a/…/" in logged
    assert token not in logged and "LinkSecret42" not in logged


def test_redact_masks_tokens_and_participant_ids_and_nothing_else():
    line = '"GET /a/abc123/answer?link=L1&PROLIFIC_PID=p9&x=1 HTTP/1.1" 404'
    assert redact(line) == '"GET /a/…/answer?link=…&PROLIFIC_PID=…&x=1 HTTP/1.1" 404'
    assert redact("/admin/surveys/survey/3/") == "/admin/surveys/survey/3/"
