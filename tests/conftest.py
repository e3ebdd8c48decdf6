from pathlib import Path

import pytest
import torch

from inversion.models import Stimulus
from science import images as imageio
from surveys import services
from surveys.recruitment import recruiters_reset
from tests.factories import IRIFactory, StudyFactory

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    yield
    # On PostgreSQL the Celery worker beside the suite (scripts/test-services.sh) still holds a
    # connection to the test database; end it so pytest can drop the database.
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_recruiters():
    # Recruiters live per process and study; study ids repeat across tests.
    recruiters_reset()
    yield
    recruiters_reset()


@pytest.fixture(autouse=True)
def _few_threads():
    # The suite runs on 2 cores; torch's intra-op pool would fight pytest-xdist workers.
    torch.set_num_threads(1)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent: the shared data sets are not beside this checkout")
    return SHARED


@pytest.fixture
def iris(db):
    first = IRIFactory()
    job = first.job
    return [first, *(IRIFactory(job=job) for _ in range(19))]


@pytest.fixture
def survey(iris):
    survey = services.survey_assemble(study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=20, seed=5)
    return services.survey_open(survey=survey)


@pytest.fixture
def paired_iris(db):
    """A job with 9 targets, each with two IRIs (seeds 0 and 1): what clustering needs."""
    from tests.factories import TargetFactory

    first = IRIFactory(target__index=0)
    job = first.job
    iris = [first, IRIFactory(job=job, target=first.target, seed_index=1)]
    for index in range(1, 9):
        target = TargetFactory(target_set=job.target_set, index=index)
        iris += [IRIFactory(job=job, target=target, seed_index=k) for k in (0, 1)]
    return iris


def _stim(x, role):
    from inversion.services import stimulus_create

    return stimulus_create(role=role, image=x)


@pytest.fixture
def two_conditions(db):
    """Condition A's IRIs are copies of their targets (aligned); B's copy their seeds."""
    g = torch.Generator().manual_seed(0)
    jobs = []
    for aligned in (True, False):
        first = None
        for _ in range(6):
            t, s = torch.rand(3, 32, 32, generator=g), torch.rand(3, 32, 32, generator=g)
            kwargs = {"job": first.job} if first else {}
            iri = IRIFactory(
                target__stimulus=_stim(t, Stimulus.Role.TARGET),
                seed=_stim(s, Stimulus.Role.SEED),
                stimulus=_stim(imageio.quantize(t if aligned else s), Stimulus.Role.IRI),
                **kwargs,
            )
            first = first or iri
        jobs.append(first.job)
    return jobs


@pytest.fixture(scope="session")
def alexnet_features():
    """Unit-length ImageNet AlexNet features (its default layer) of images N×3×H×W in [0, 1]:
    what simulated participants judge by."""
    import numpy as np

    from science.networks import BUILTINS, LayerRepresentation, build_network, default_layer

    net = build_network("builtin", "alexnet-imagenet")
    builtin = BUILTINS["alexnet-imagenet"]
    g = LayerRepresentation(net, default_layer(net), builtin.mean, builtin.std)

    def features(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            f = g(x).flatten(1).numpy()
        return f / np.linalg.norm(f, axis=1, keepdims=True)

    return features
