import pytest

from inversion import services
from inversion.config import InversionConfig
from inversion.selectors import stimulus_tensor

pytestmark = pytest.mark.django_db


def test_a_job_in_the_authors_fourier_form_starts_from_spectra_and_stores_the_seed_people_see():
    spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
    targets = services.target_set_create_noise(name="n", n=2, law="normal-0-1", image_size=32, seed=0)
    config = InversionConfig(steps=4, fourier=True, penalty_form="authors", tv_weight=0.0)
    assert config.fourier_form == "authors"
    job = services.inversion_job_create(model_spec=spec, target_set=targets, config=config, enqueue=False)
    job = services.inversion_job_run(job_id=job.pk)
    assert job.iris.count() == 2
    for iri in job.iris.select_related("seed"):
        seed = stimulus_tensor(iri.seed)
        assert seed.shape == (3, 32, 32)
        # A decoded spectrum (a sigmoid of smooth noise), not a clamped pixel draw: no saturated pixels.
        assert seed.min() > 0.0 and seed.max() < 1.0
