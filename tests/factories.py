"""factory_boy factories for the domain model, with real (tiny) PNG stimuli."""

import factory
import torch
from django.core.files.base import ContentFile

from inversion.models import IRI, InversionJob, ModelSpec, Stimulus, Target, TargetSet
from science import images as imageio
from surveys.models import Study


def _png(seed: int, size: int = 32) -> ContentFile:
    x = torch.rand(3, size, size, generator=torch.Generator().manual_seed(seed))
    return ContentFile(imageio.png_bytes(x), name=f"s{seed}.png")


class StimulusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stimulus

    role = Stimulus.Role.TARGET
    image = factory.Sequence(_png)
    sha256 = factory.LazyAttribute(lambda o: imageio.sha256(o.image.read()))
    width = 32
    height = 32


class ModelSpecFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelSpec

    name = factory.Sequence(lambda n: f"spec-{n}")
    source = ModelSpec.Source.BUILTIN
    architecture = "alexnet-imagenet"
    layer = "3"
    input_size = 16
    mean = [0.485, 0.456, 0.406]
    std = [0.229, 0.224, 0.225]


class TargetSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TargetSet

    name = factory.Sequence(lambda n: f"targets-{n}")
    image_size = 16


class TargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Target

    target_set = factory.SubFactory(TargetSetFactory)
    index = factory.Sequence(int)
    label = "cat"
    stimulus = factory.SubFactory(StimulusFactory)


class InversionJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InversionJob

    model_spec = factory.SubFactory(ModelSpecFactory)
    target_set = factory.SubFactory(TargetSetFactory)
    config = factory.LazyFunction(dict)
    status = InversionJob.Status.DONE


class IRIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IRI

    job = factory.SubFactory(InversionJobFactory)
    target = factory.SubFactory(TargetFactory, target_set=factory.SelfAttribute("..job.target_set"))
    seed = factory.SubFactory(StimulusFactory, role=Stimulus.Role.SEED)
    stimulus = factory.SubFactory(StimulusFactory, role=Stimulus.Role.IRI)
    rep_distance = 0.01
    converged = True
    steps = 10
    best_step = 10
    wall_time = 0.1
    device = "cpu"


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study

    name = factory.Sequence(lambda n: f"study-{n}")
