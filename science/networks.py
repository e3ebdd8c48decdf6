"""Build a registered network and expose one layer as ``g``. Plain PyTorch, no Django."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.fx.experimental.optimization import fuse
from torchvision import models
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from science.backbones import EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD, efficientnet_lite, imagenet_features
from science.names import random_twin_name

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Builtin:
    """A network whose weights ship with Metamer's dependencies (nothing downloads)."""

    build: Callable[[Path | None], nn.Module]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    lpips_backbone: str | None
    """The LPIPS backbone built on the same weights (``alex``/``vgg``), if any: an LPIPS judge
    on it agrees with this network by construction."""
    description: str
    twin_of: str | None = None
    """For a random-weight control: the trained built-in with the same architecture."""
    within: str = ""
    """Where this module sits in the library's whole network (``features`` for the AlexNet and
    VGG16 trunks): its layers are shown by their full names there (``features.12``)."""

    def layer_shown(self, layer: str) -> str:
        """A layer's name as the network's library names it."""
        return f"{self.within}.{layer}" if self.within and layer != "input" else layer


RANDOM_TWIN_SEED = 0
"""The seed of every random-weight twin's initialisation (recorded in its description)."""

_TRAINED: dict[str, Builtin] = {
    "alexnet-imagenet": Builtin(
        lambda cache: imagenet_features("alex", cache),
        IMAGENET_MEAN,
        IMAGENET_STD,
        "alex",
        "ImageNet AlexNet, convolutional trunk (the weights LPIPS alex uses)",
        within="features",
    ),
    "vgg16-imagenet": Builtin(
        lambda cache: imagenet_features("vgg", cache),
        IMAGENET_MEAN,
        IMAGENET_STD,
        "vgg",
        "ImageNet VGG16, convolutional trunk (the weights LPIPS vgg uses)",
        within="features",
    ),
    **{
        f"efficientnet-{variant}-imagenet": Builtin(
            lambda cache, variant=variant: efficientnet_lite(variant),
            EFFICIENTNET_LITE_MEAN,
            EFFICIENTNET_LITE_STD,
            None,
            f"ImageNet EfficientNet-{variant.capitalize()}, full classifier (no LPIPS is built on it)",
        )
        for variant in ("lite0", "lite1", "lite2")
    },
}


def _twin(name: str, trained: Builtin) -> Builtin:
    if name.startswith("efficientnet-"):
        variant = name.split("-")[1]

        def build(cache: Path | None) -> nn.Module:
            return efficientnet_lite(variant, random_seed=RANDOM_TWIN_SEED)
    else:
        arch = trained.lpips_backbone

        def build(cache: Path | None) -> nn.Module:
            return imagenet_features(arch, random_seed=RANDOM_TWIN_SEED)

    architecture = trained.description.split(",")[0].removeprefix("ImageNet ")
    return Builtin(
        build,
        trained.mean,
        trained.std,
        None,
        f"{architecture} with random weights (its library's initialisation, seed {RANDOM_TWIN_SEED}): "
        f"the untrained control for {name}",
        twin_of=name,
        within=trained.within,
    )


BUILTINS: dict[str, Builtin] = {
    **_TRAINED,
    **{random_twin_name(name): _twin(name, trained) for name, trained in _TRAINED.items()},
}
"""Built-in networks, by the name a model spec's architecture gives: the trained ones and
their random-weight twins (same architecture and input scaling, untrained)."""


class NetworkError(ValueError):
    pass


def build_network(
    source: str,
    architecture: str,
    checkpoint: Path | None = None,
    *,
    cifar_stem: bool = False,
    cache_dir: Path | None = None,
) -> nn.Module:
    """The frozen network (``eval()``, no gradients) for a registered spec; ``cache_dir`` is
    where the built-ins' converted weights are kept."""
    if source == "builtin":
        if architecture not in BUILTINS:
            raise NetworkError(f"unknown built-in network {architecture!r}; choose one of {', '.join(BUILTINS)}")
        net = BUILTINS[architecture].build(cache_dir)
    elif source == "torchscript":
        if checkpoint is None:
            raise NetworkError("a TorchScript network needs its file")
        try:
            net = torch.jit.load(str(checkpoint), map_location="cpu")
        except RuntimeError as exc:
            raise NetworkError(f"not a TorchScript file: {exc}") from None
    elif source == "torchvision":
        net = _torchvision(architecture, checkpoint, cifar_stem=cifar_stem)
    elif source == "timm":
        net = _timm(architecture, checkpoint)
    else:
        raise NetworkError(f"unknown network source {source!r}")
    return freeze(net)


def architecture_names(source: str) -> list[str]:
    """The architectures a source can build: the built-ins, torchvision's classifiers or timm's
    models (TorchScript files name none)."""
    if source == "builtin":
        return list(BUILTINS)
    if source == "torchvision":
        return sorted(models.list_models(module=models))
    if source == "timm":
        import timm

        return timm.list_models()
    return []


def freeze(module: nn.Module) -> nn.Module:
    """``eval()`` and no parameter gradients (ScriptModules refuse ``requires_grad_``)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _torchvision(architecture: str, checkpoint: Path | None, *, cifar_stem: bool) -> nn.Module:
    if architecture not in models.list_models(module=models):
        raise NetworkError(f"{architecture!r} is not a torchvision classification architecture")
    state = _load_state_dict(checkpoint) if checkpoint is not None else None
    net = models.get_model(architecture, weights=None, **_head_size(architecture, state))
    if cifar_stem:
        if not hasattr(net, "conv1") or not hasattr(net, "maxpool"):
            raise NetworkError("the CIFAR 3×3 stem applies to ResNet-style networks only")
        # The usual CIFAR variant: a 3×3 stride-1 stem and no max-pool, for 32×32 inputs.
        net.conv1 = nn.Conv2d(3, net.conv1.out_channels, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    if state is not None:
        _load_into(net, state, architecture)
    return net


def _load_into(net: nn.Module, state: dict[str, Tensor], architecture: str) -> None:
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise NetworkError(f"the checkpoint does not fit {architecture}: {str(exc)[:400]}") from None


def _classes(state: dict[str, Tensor], head: str) -> dict[str, int]:
    """``num_classes`` from the checkpoint's classifier head ``<head>.weight``, if it has one."""
    weight = state.get(f"{head}.weight")
    if weight is None:
        return {}
    if weight.dim() != 2 or not 0 < weight.shape[0] <= MAX_CLASSES:
        raise NetworkError(
            f"the checkpoint's classifier head {head}.weight has shape {tuple(weight.shape)}; "
            f"expected (classes, features) with 1 to {MAX_CLASSES:,} classes"
        )
    return {"num_classes": int(weight.shape[0])}


def _timm(architecture: str, checkpoint: Path | None) -> nn.Module:
    """A ``timm`` architecture (as the second paper's zoo), built without downloading anything,
    with the checkpoint's weights; the class count is read from its classifier head."""
    import timm

    if not timm.is_model(architecture):
        raise NetworkError(f"{architecture!r} is not a timm architecture (timm.list_models() names them)")
    state = _load_state_dict(checkpoint) if checkpoint is not None else None
    kwargs: dict[str, int] = {}
    if state is not None:
        classifier = timm.create_model(architecture, pretrained=False).pretrained_cfg.get("classifier")
        kwargs = _classes(state, classifier) if isinstance(classifier, str) else {}
    net = timm.create_model(architecture, pretrained=False, **kwargs)
    if state is not None:
        _load_into(net, state, architecture)
    return net


def _load_state_dict(checkpoint: Path) -> dict[str, Tensor]:
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise NetworkError(f"the checkpoint is not a plain state dict (only tensors are accepted): {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise NetworkError("the checkpoint is not a plain state dict of tensors")
    for key, value in state.items():
        # A tensor may claim far more elements than its stored bytes (an expanded view):
        # refuse it before anything is built to its claimed size.
        if value.numel() * value.element_size() > value.untyped_storage().nbytes():
            raise NetworkError(f"the checkpoint's {key} claims more values than it stores; save plain tensors")
    return state


MAX_CLASSES = 100_000


def _head_size(architecture: str, state: dict[str, Tensor] | None) -> dict[str, int]:
    """The class count of the checkpoint's classifier head (its last Linear layer)."""
    if state is None:
        return {}
    probe = models.get_model(architecture, weights=None)
    linears = [name for name, m in probe.named_modules() if isinstance(m, nn.Linear)]
    return _classes(state, linears[-1]) if linears else {}


def _tracer_kwargs() -> dict[str, list]:
    """What FX must not trace into: timm's registered leaf modules and functions (its
    TensorFlow "same" padding, for one, branches on the input size)."""
    from timm.layers import get_notrace_functions, get_notrace_modules

    return {"leaf_modules": [*get_notrace_modules(), FakeReLU], "autowrap_functions": get_notrace_functions()}


SCRIPTED_OUTPUT = "output"
"""The one layer a TorchScript network offers: its output (FX cannot trace into it)."""


def layer_names(net: nn.Module) -> list[str]:
    """The names a layer can be chosen by (torchvision's graph node names, eval mode)."""
    if isinstance(net, torch.jit.ScriptModule):
        return ["input", SCRIPTED_OUTPUT]
    return get_graph_node_names(net, tracer_kwargs=_tracer_kwargs())[1]


def default_layer(net: nn.Module) -> str:
    """The penultimate layer: the input of the classifier head, else the last node."""
    names = [n for n in layer_names(net) if n != "input"]
    return names[-2] if len(names) > 1 and isinstance(_last_module(net), nn.Linear) else names[-1]


def layer_role(names: Sequence[str], layer: str, has_head: bool) -> str:
    """What a layer is, in words: "penultimate" only where a classifier head exists.
    ``names``: the network's layer names in order; ``has_head``: it ends in a linear classifier."""
    nodes = [n for n in names if n != "input"]
    if has_head and layer == nodes[-1]:
        return "the classifier's output (logits)"
    if has_head and len(nodes) > 1 and layer == nodes[-2]:
        return "penultimate: the classifier head's input"
    if not has_head and layer == nodes[-1]:
        return "the last layer (a convolutional trunk: no classifier head)"
    return "an intermediate layer"


def has_classifier_head(net: nn.Module) -> bool:
    return isinstance(_last_module(net), nn.Linear)


def _last_module(net: nn.Module) -> nn.Module | None:
    leaves = [m for m in net.modules() if not list(m.children())]
    return leaves[-1] if leaves else None


class _FakeReLU(torch.autograd.Function):
    """ReLU forward, identity backward: the authors' ``fake_relu`` on a representation's last ReLU."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad


def fake_relu(x: Tensor) -> Tensor:
    return _FakeReLU.apply(x)


class FakeReLU(nn.Module):
    """``fake_relu`` as a module, to stand where a network's ReLU module stood."""

    def forward(self, x: Tensor) -> Tensor:
        return fake_relu(x)


FAKE_RELU_RULES = ("last", "authors")
"""Where ``fake_relu`` goes: ``last``, the last ReLU on the way to the layer read (walking back
through pooling and flattening); ``authors``, as the authors' ``inference.py`` sets it on timm
networks: every ``layer4`` block's ``act3`` (Bottleneck ResNets; BasicBlock ones have none, so
nothing changes), DenseNet's ``features.norm5.act``, or ``pre_logits.act2``."""


def _authors_fake_relu(net: nn.Module) -> None:
    """Put ``FakeReLU`` where the authors' ``inference.py`` does (in place)."""
    if isinstance(getattr(net, "layer4", None), nn.Sequential):
        for block in net.layer4:
            if hasattr(block, "act3"):
                block.act3 = FakeReLU()
        return
    norm5 = getattr(getattr(net, "features", None), "norm5", None)
    if norm5 is not None and hasattr(norm5, "act"):
        norm5.act = FakeReLU()
        return
    if hasattr(getattr(net, "pre_logits", None), "act2"):
        net.pre_logits.act2 = FakeReLU()
        return
    raise NetworkError(
        "the authors' fake_relu rule applies to timm ResNets, DenseNets and networks with pre_logits.act2; "
        "choose the 'last' rule for this network"
    )


_RELU_FUNCTIONS = {F.relu, torch.relu}
_SHAPE_ONLY = (nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.Flatten, nn.Dropout, nn.Identity)
_SHAPE_ONLY_FUNCTIONS = {torch.flatten, F.adaptive_avg_pool2d, F.avg_pool2d, F.max_pool2d, F.dropout}


def _make_last_relu_fake(extractor: torch.fx.GraphModule) -> bool:
    """Turn the last ReLU on the way to the extractor's output into ``fake_relu``, walking back
    through pooling, flattening and dropout; False when there is none."""
    output = next(n for n in extractor.graph.nodes if n.op == "output")
    node = next(iter(output.args[0].values()))
    while isinstance(node, torch.fx.Node):
        if node.op == "call_module":
            module = extractor.get_submodule(node.target)
            if isinstance(module, nn.ReLU):
                break
            if not isinstance(module, _SHAPE_ONLY):
                return False
        elif node.op == "call_function" and node.target in _RELU_FUNCTIONS:
            break
        elif not (
            (node.op == "call_function" and node.target in _SHAPE_ONLY_FUNCTIONS)
            or (node.op == "call_method" and node.target in ("view", "flatten", "reshape"))
        ):
            return False
        node = node.args[0] if node.args else None
    else:
        return False
    node.op, node.target, node.args, node.kwargs = "call_function", fake_relu, node.args[:1], {}
    extractor.recompile()
    return True


class LayerRepresentation(nn.Module):
    """``g``: pixels in [0, 1] → the chosen layer's activation (normalisation applied inside).

    ``fake_relu=True``: ReLUs pass gradients unchanged (forward values exact), as the authors'
    code reads representations: the layer's last ReLU (``fake_relu_rule="last"``) or where
    their ``inference.py`` puts it on timm networks (``"authors"``; ``FAKE_RELU_RULES``).

    ``optimize=True`` folds eval-mode batch norms into their convolutions and runs in
    channels-last layout: the same function up to float rounding, faster on CPU and GPU.
    """

    def __init__(
        self,
        net: nn.Module,
        layer: str,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        optimize: bool = True,
        fake_relu: bool = False,
        fake_relu_rule: str = "last",
    ) -> None:
        nn.Module.__init__(self)
        if fake_relu and fake_relu_rule == "authors":
            _authors_fake_relu(net)
        if layer not in layer_names(net):
            raise NetworkError(f"no layer named {layer!r}; available: {', '.join(layer_names(net)[1:])}")
        self.net = net if isinstance(net, torch.jit.ScriptModule) else None
        self.extractor = (
            None
            if self.net is not None
            else create_feature_extractor(net, return_nodes={layer: "g"}, tracer_kwargs=_tracer_kwargs())
        )
        if (
            fake_relu
            and fake_relu_rule == "last"
            and (self.extractor is None or not _make_last_relu_fake(self.extractor))
        ):
            raise NetworkError(
                f"fake_relu needs a ReLU at layer {layer!r} (or before it, through pooling and flattening)"
            )
        self.channels_last = optimize
        if optimize and self.extractor is not None:
            self.extractor.eval()
            try:
                # In place: fuse's deep copy would bring back training mode. The extractor is ours.
                self.extractor = fuse(self.extractor, inplace=True)
            except Exception:
                self.extractor.eval()
        if optimize:
            self.to(memory_format=torch.channels_last)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        freeze(self)

    def forward(self, x: Tensor) -> Tensor:
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x) if self.extractor is None else self.extractor(x)["g"]
