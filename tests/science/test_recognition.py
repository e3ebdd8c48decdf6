import torch
from torch import nn

from science.engine import invert
from science.recognition import recognise


def _classifier(seed: int = 0, classes: int = 10) -> nn.Module:
    """A small fixed classifier on 8×8 pixels (logits out), frozen."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, classes)).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def test_an_iri_that_is_its_target_is_recognised_and_its_seed_sets_the_floor():
    generator = torch.Generator().manual_seed(1)
    targets = torch.rand(40, 3, 8, 8, generator=generator)
    seeds = torch.rand(40, 3, 8, 8, generator=generator)
    same = recognise(_classifier(), targets=targets, iris=targets, seeds=seeds, input_size=8, device="cpu")
    assert (same.n, same.recognised, same.rate) == (40, 40, 1.0)
    assert same.interval[0] > 0.9
    assert same.seeds_recognised < 40  # random seeds do not all share their target's class
    assert same.seed_rate == same.seeds_recognised / 40


def test_a_classifier_inverted_at_its_logits_recognises_its_own_iris_and_another_less_so():
    own, other = _classifier(0), _classifier(7)
    generator = torch.Generator().manual_seed(2)
    targets = torch.rand(24, 3, 8, 8, generator=generator)
    seeds = torch.rand(24, 3, 8, 8, generator=generator)
    iris = invert(own, targets, seeds, steps=300, step_size=0.05, generator=generator).images
    diagonal = recognise(own, targets=targets, iris=iris, seeds=seeds, input_size=8, device="cpu")
    off = recognise(other, targets=targets, iris=iris, seeds=seeds, input_size=8, device="cpu")
    assert diagonal.rate >= 0.9, diagonal
    assert off.rate < diagonal.rate
