import pytest
from django.core.management import CommandError, call_command

from metamer.errors import MetamerError
from surveys import services
from surveys.models import Publication
from surveys.recruitment.links import LinksRecruiter, slot_links
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch, settings):
    # MTurk studies need credentials and an HTTPS address before anything else; these never
    # reach a network.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    settings.METAMER_PUBLIC_URL = "https://metamer.example.org"


def test_mturk_without_credentials_is_refused_before_anything_is_created(iris, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    study = StudyFactory(recruiter="mturk")
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5)
    with pytest.raises(MetamerError, match="no AWS credentials for Mechanical Turk"):
        services.study_publish(study=study, base_url="https://m.example.org", confirm=True)
    assert not Publication.objects.exists() and study.surveys.get().status == "draft"


@pytest.fixture
def links_study(iris):
    study = StudyFactory(name="pilot")
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5, workers_per_survey=2)
    return study


def test_plain_links_cost_nothing_and_give_one_link_per_slot(links_study):
    [publication] = services.study_publish(study=links_study, base_url="http://lab.local")  # no confirmation: free
    survey = links_study.surveys.get()
    assert publication.status == "published" and survey.status == "open"
    links = slot_links("http://lab.local", survey)
    tokens = [link.split("?link=")[1] for link in links]
    assert len(links) == 2 and all(link.startswith(f"http://lab.local/s/{survey.uuid}/?link=") for link in links)
    assert len(set(tokens)) == 2 and all(len(t) >= 32 for t in tokens)  # long, random, not sequential
    with pytest.raises(MetamerError, match="move no money"):
        LinksRecruiter().bonus(None)


def test_recruit_command_asks_for_yes_before_spending(iris, capsys):
    study = StudyFactory(name="paid", recruiter="mturk")
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5)
    call_command("recruit", "cost", "paid")
    assert "3 × 7.50 + fee 4.50" in capsys.readouterr().out
    with pytest.raises(CommandError, match=r"confirm to go ahead \(add --yes\)"):
        call_command("recruit", "publish", "paid", "--base-url", "https://m.example.org")
    assert not Publication.objects.exists()


def test_recruit_links(links_study, capsys):
    with pytest.raises(CommandError, match="publish it first"):
        call_command("recruit", "links", "pilot", "--base-url", "http://lab.local")
    services.study_publish(study=links_study, base_url="http://lab.local")
    call_command("recruit", "links", "pilot", "--base-url", "http://lab.local")
    assert capsys.readouterr().out.count("?link=") == 2


def test_admin_publish_shows_the_cost_before_money_moves(admin_client, iris):
    study = StudyFactory(recruiter="mturk")
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5)
    page = admin_client.post("/admin/surveys/study/", {"action": "publish", "_selected_action": [study.pk]})
    html = page.content.decode()
    assert "Confirm: publish" in html and "3 × 7.50 + fee 4.50 (20.0%)" in html and "Yes, go ahead" in html
    assert not Publication.objects.exists()


def test_admin_flags_and_asks_for_the_bonus_amount(admin_client, survey):
    a = services.assignment_start(survey=survey, external_id="w1")
    admin_client.post("/admin/surveys/assignment/", {"action": "flag", "_selected_action": [a.pk]})
    a.refresh_from_db()
    assert a.flagged
    page = admin_client.post("/admin/surveys/assignment/", {"action": "bonus", "_selected_action": [a.pk]})
    assert "Pay a bonus" in page.content.decode() and "amount_cents" in page.content.decode()


def test_api_spending_needs_an_explicit_confirm(admin_client, iris):
    study = StudyFactory(recruiter="mturk")
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5)
    cost = admin_client.get(f"/api/studies/{study.pk}/cost/").json()
    assert cost["total_cents"] == 2700
    refused = admin_client.post(f"/api/studies/{study.pk}/publish/", {}, content_type="application/json")
    assert refused.status_code == 409 and refused.json()["code"] == "confirm" and "27.00" in refused.json()["detail"]
    assert not Publication.objects.exists()


def test_a_study_budget_is_checked_before_anything_is_created(iris):
    study = StudyFactory(recruiter="mturk", budget_cents=2000)
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5)
    with pytest.raises(MetamerError, match=r"over the study's budget of 20\.00") as refused:
        services.study_publish(study=study, base_url="https://m.example.org", confirm=True)
    assert refused.value.field == "budget_cents"
    assert not Publication.objects.exists()


def test_admin_approve_and_reject_one_by_one(admin_client, survey):
    from surveys.models import Assignment

    a = services.assignment_start(survey=survey, external_id="w1")
    b = services.assignment_start(survey=survey, external_id="w2")
    Assignment.objects.update(status="submitted")
    page = admin_client.post("/admin/surveys/assignment/", {"action": "reject", "_selected_action": [b.pk]})
    assert "hurts a worker" in page.content.decode()
    admin_client.post(
        "/admin/surveys/assignment/",
        {"action": "reject", "_selected_action": [b.pk], "confirm": "yes", "feedback": "Random answers."},
    )
    admin_client.post("/admin/surveys/assignment/", {"action": "approve", "_selected_action": [a.pk], "confirm": "yes"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("approved", "rejected")


def test_once_links_are_listed_the_bare_address_admits_nobody_else(links_study, client):
    services.study_publish(study=links_study, base_url="http://lab.local")
    survey = links_study.surveys.get()
    refused = client.post(f"/s/{survey.uuid}/", {"pid": "made-up"})
    assert refused.status_code == 404 and "invited people only" in refused.content.decode()
    assert not survey.assignments.exists()
    token = survey.links.first().token
    assert client.post(f"/s/{survey.uuid}/?link={token}", {}).status_code == 302


def test_with_open_entry_each_walk_in_takes_a_listed_place_and_no_more(links_study, client):
    from django.test import Client

    links_study.open_entry = True
    links_study.save()
    services.study_publish(study=links_study, base_url="http://lab.local")
    survey = links_study.surveys.get()
    replies = [Client().post(f"/s/{survey.uuid}/", {"pid": f"walk-in {n}"}) for n in range(3)]
    assert [r.status_code for r in replies] == [302, 302, 409]
    taken = list(survey.assignments.values_list("link__token", flat=True))
    assert sorted(taken) == sorted(survey.links.values_list("token", flat=True))  # both places, as listed
    # A listed link whose place a walk-in took is taken, not a second way in.
    assert Client().post(f"/s/{survey.uuid}/?link={taken[0]}", {}).status_code == 403


def test_the_api_lists_the_links_from_the_requests_own_address(links_study, admin_client, settings):
    settings.METAMER_PUBLIC_URL = ""
    services.study_publish(study=links_study, base_url="http://lab.local")
    rows = admin_client.get(f"/api/studies/{links_study.pk}/links/", HTTP_HOST="localhost:8123").json()
    survey = links_study.surveys.get()
    assert [r["status"] for r in rows] == ["unused", "unused"]
    assert all(r["link"].startswith(f"http://localhost:8123/s/{survey.uuid}/?link=") for r in rows)
