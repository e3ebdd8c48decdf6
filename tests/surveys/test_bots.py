import pytest
from django.core.wsgi import get_wsgi_application

from surveys import bots
from surveys.models import Assignment, Response

pytestmark = pytest.mark.django_db(transaction=True)


def test_bots_take_the_survey_over_real_http(survey):
    with bots.serve(get_wsgi_application()) as base_url:
        careful = bots.run_bot(base_url, str(survey.uuid), "lpips", bots.lpips_decider("alex-lin"))
        careless = bots.run_bot(base_url, str(survey.uuid), "careless", bots.adversarial_decider())
    assert careful.answered == careless.answered == survey.trials.count()
    assert survey.study.completion_code in careful.completion_text
    checks = Response.objects.filter(trial__is_attention_check=True)
    # LPIPS sees the identical image at distance 0 and passes; the adversary fails.
    assert all(r.correct for r in checks.filter(assignment__participant__external_id="lpips"))
    assert not any(r.correct for r in checks.filter(assignment__participant__external_id="careless"))
    assert set(Assignment.objects.values_list("status", flat=True)) == {Assignment.Status.SUBMITTED}


def test_a_random_bot_answers_every_trial_reproducibly(survey):
    with bots.serve(get_wsgi_application()) as base_url:
        run = bots.run_bot(base_url, str(survey.uuid), "random", bots.random_decider(seed=3))
    answers = list(
        Response.objects.filter(assignment__participant__external_id="random").values_list("answer", flat=True)
    )
    assert run.answered == len(answers) == survey.trials.count()
    assert set(answers) == {0, 1}
