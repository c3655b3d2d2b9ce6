"""Networks of paper A's experiments, with the official code's three initialisations (notes §2.3).

Every model is an :class:`NCModel`: ``features(x)`` is the last-layer feature map h(x) ∈ ℝ^n and
``classifier`` the linear layer on it, ``forward(x) = classifier(features(x))``.

Implemented: ``mlp`` (the CPU profile's MLP: Linear+BN+ReLU blocks), ``resnet8_w8`` (stem conv
8, 3 stages × 1 basic block, widths 8/16/32, n = 32) and ``resnet20`` (3 × 3 blocks, widths
16/32/64, n = 64), both with the official shortcut (1×1 stride-2 conv with bias, no BN) and
BatchNorm momentum 0.01 (Flax 0.99). VGG11/16 and DenseNet40 are not implemented yet.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

INITS = ("flax", "normal_fan_out", "torch")
_TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated at ±2


class NCModel(nn.Module):
    """h = features(x); f = classifier(h)."""

    def __init__(self, body: nn.Module, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.body = body
        self.classifier = nn.Linear(n_features, n_classes)
        self.n_features = n_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _mlp_body(d_in: int, widths: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for w in widths:
        layers += [nn.Linear(d_in, w), nn.BatchNorm1d(w, momentum=0.01, eps=1e-5), nn.ReLU()]
        d_in = w
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN + shortcut, ReLU; the official shortcut is a 1×1 stride-2 conv with bias."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out, momentum=0.01, eps=1e-5)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, momentum=0.01, eps=1e-5)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, 0, bias=True) if (stride != 1 or c_in != c_out) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.shortcut is None else self.shortcut(x)))


def _resnet_body(in_channels: int, widths: Sequence[int], blocks_per_stage: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                               nn.BatchNorm2d(widths[0], momentum=0.01, eps=1e-5), nn.ReLU()]
    c = widths[0]
    for stage, w in enumerate(widths):
        for b in range(blocks_per_stage):
            layers.append(BasicBlock(c, w, 2 if (stage > 0 and b == 0) else 1))
            c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    """Flax fan convention: Dense (in, out); conv (kh·kw·in, kh·kw·out)."""
    receptive = math.prod(weight.shape[2:]) if weight.ndim > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@torch.no_grad()
def initialise(model: NCModel, scheme: str, generator: torch.Generator) -> None:
    """Apply the official initialisation ``flax``, ``normal_fan_out`` or ``torch`` (notes §2.3), literally.

    flax: truncated normal, variance 1/fan_in, zero biases. normal_fan_out: N(0, 2/fan_out), zero biases.
    torch: U(±√(3/fan_in)) for dense and 1×1 convs, U(±√(1/(3 fan_in))) (scale 1/9) for 3×3 convs,
    and the one-sided classifier bias U[0, 1/√n); other biases (the ResNet shortcut) zero.
    """
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}: use one of {INITS}")
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            w = module.weight
            fan_in, fan_out = _fans(w)
            if scheme == "flax":
                std = math.sqrt(1.0 / fan_in) / _TRUNC_STD
                w.copy_(torch.nn.init.trunc_normal_(torch.empty_like(w), 0.0, 1.0, -2.0, 2.0, generator=generator) * std)
            elif scheme == "normal_fan_out":
                w.copy_(torch.randn(w.shape, generator=generator, dtype=w.dtype) * math.sqrt(2.0 / fan_out))
            else:
                scale = 1.0 / 9.0 if (w.ndim == 4 and w.shape[-1] == 3) else 1.0
                bound = math.sqrt(3.0 * scale / fan_in)
                w.copy_((torch.rand(w.shape, generator=generator, dtype=w.dtype) * 2 - 1) * bound)
            if module.bias is not None:
                module.bias.zero_()
    if scheme == "torch":
        b = model.classifier.bias
        b.copy_(torch.rand(b.shape, generator=generator, dtype=b.dtype) / math.sqrt(model.n_features))


def build_model(name: str, *, n_classes: int = 10, in_shape: Sequence[int], init: str = "flax", seed: int = 0,
                widths: Sequence[int] | None = None) -> NCModel:
    """Build ``mlp``, ``resnet8_w8`` or ``resnet20`` for inputs of ``in_shape`` ((C, H, W) or (d,))."""
    if name == "mlp":
        widths = list(widths or (128, 128, 32))
        body, n = _mlp_body(math.prod(in_shape), widths), widths[-1]
    elif name in ("resnet8_w8", "resnet20"):
        if len(in_shape) != 3:
            raise ValueError(f"{name} needs image inputs (C, H, W), got in_shape={tuple(in_shape)}")
        widths = list(widths or ((8, 16, 32) if name == "resnet8_w8" else (16, 32, 64)))
        body, n = _resnet_body(in_shape[0], widths, 1 if name == "resnet8_w8" else 3), widths[-1]
    else:
        raise ValueError(f"unknown model {name!r}: use 'mlp', 'resnet8_w8' or 'resnet20' "
                         "(VGG11/16 and DenseNet40 are not implemented yet)")
    model = NCModel(body, n, n_classes)
    initialise(model, init, torch.Generator().manual_seed(seed))
    return model
