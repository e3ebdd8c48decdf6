import json

import pytest
from django.db import OperationalError
from django.urls import reverse

from surveys.models import Assignment, Response

pytestmark = pytest.mark.django_db


def test_a_dropped_database_connection_is_a_503_to_retry_and_stores_nothing(client, survey, monkeypatch):
    client.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": "w1"})
    assignment = Assignment.objects.get()
    trial = survey.trials.first()
    body = json.dumps({"trial": trial.pk, "answer": 0, "idempotency_key": "k1"})
    url = reverse("surveys:answer", args=[assignment.token])

    def dropped(token):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("surveys.views.assignment_for_answer", dropped)
    reply = client.post(url, body, content_type="application/json")
    assert reply.status_code == 503 and reply["Retry-After"] == "1"
    assert reply.json()["code"] == "unavailable" and "nothing was stored" in reply.json()["detail"]
    page = client.post(url, {"trial": trial.pk, "answer": 0, "idempotency_key": "k1"})
    assert page.status_code == 503 and page["Content-Type"].startswith("text/plain")
    assert not Response.objects.exists()
    monkeypatch.undo()
    retried = client.post(url, body, content_type="application/json")  # the page's retry, same key
    assert retried.status_code == 200 and Response.objects.count() == 1
