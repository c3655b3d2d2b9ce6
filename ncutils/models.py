"""Networks of paper A's experiments, with the official code's three initialisations (notes §2.3).

Every model is an :class:`NCModel`: ``features(x)`` is the last-layer feature map h(x) ∈ ℝ^n and
``classifier`` the linear layer on it, ``forward(x) = classifier(features(x))``.

Implemented (notes §2.3 "Architectures", official ``*_ntk_collapse.py``):

- ``mlp``: the CPU profile's MLP (Linear+BN+ReLU blocks; ours, not the paper's).
- ``resnet8_w8`` (stem conv 8, 3 stages × 1 basic block, widths 8/16/32, n = 32; ours, CPU scale)
  and ``resnet20`` (3 × 3 blocks, widths 16/32/64, n = 64), both with the official shortcut
  (1×1 stride-2 conv with bias, no BN).
- ``vgg11`` / ``vgg16``: conv blocks 64-128-256-512-512 with 1,1,2,2,2 / 2,2,3,3,3 convs
  (3×3 conv with bias + BN + ReLU), a 2×2 max-pool after each block, flatten, fc 512 and fc 256
  (Linear+BN+ReLU each), n = 256. Inputs must be 32×32: the official code resizes MNIST and
  FashionMNIST bilinearly to 32×32 (data sets ``mnist_32``, ``fashion_mnist_32``). After five
  pools the map is 1×1, so torch's NCHW flatten equals the official flatten (which transposes
  NHWC to NCHW first).
- ``densenet40``: stem conv3×3(2k) without BN, 3 dense blocks × 6 bottleneck layers
  BN-ReLU-conv1×1(2k)-BN-ReLU-conv3×3(k), growth k = 12, transitions BN-ReLU-conv1×1(c/2)-avgpool2,
  final BN-ReLU-global average pool: n = 132. The official script declares 184 features for
  CIFAR-10 (bug B3); ``n_features`` is always the real dimension.

BatchNorm: eps 1e-5; torch momentum 0.1 for VGG (Flax 0.9), 0.01 (Flax 0.99) for the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ncutils.kernels.layerwise import LearnedOffset

__all__ = ["INITS", "NCModel", "build_model", "initialise"]

INITS = ("flax", "normal_fan_out", "torch")
_TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated at ±2
BN_EPS = 1e-5
BN_MOMENTUM = 0.01  # torch convention; Flax's default momentum 0.99 (ResNet, DenseNet, our MLP)
BN_MOMENTUM_VGG = 0.1  # Flax momentum 0.9 in the official VGG
VGG_CONVS = {"vgg11": (1, 1, 2, 2, 2), "vgg16": (2, 2, 3, 3, 3)}  # convs per block
VGG_WIDTHS = (64, 128, 256, 512, 512, 512, 256)  # five conv blocks, then the two fc layers
VGG_INPUT = (32, 32)
DENSENET_LAYERS = (6, 6, 6)
DENSENET_GROWTH = 12
DENSENET_BN_SIZE = 2


class NCModel(nn.Module):
    """h = features(x); f = classifier(h).

    ``bias_everywhere``: the official ``torch`` init draws the one-sided bias on every conv and
    Linear layer (VGG) rather than on the classifier only (ResNet, DenseNet).
    """

    def __init__(self, body: nn.Module, n_features: int, n_classes: int, bias_everywhere: bool = False) -> None:
        super().__init__()
        self.body = body
        self.classifier = nn.Linear(n_features, n_classes)
        self.n_features = n_features
        self.bias_everywhere = bias_everywhere

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _bn(channels: int, momentum: float = BN_MOMENTUM, dim: int = 2) -> nn.Module:
    bn = nn.BatchNorm2d if dim == 2 else nn.BatchNorm1d
    return bn(channels, momentum=momentum, eps=BN_EPS)


def _fc_blocks(d_in: int, widths: Sequence[int], momentum: float = BN_MOMENTUM) -> list[nn.Module]:
    """Linear+BN+ReLU per width."""
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Linear(d_in, w), _bn(w, momentum, dim=1), nn.ReLU()]
        d_in = w
    return layers


def _mlp_body(d_in: int, widths: Sequence[int]) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), *_fc_blocks(d_in, widths))


class BasicBlock(nn.Module):
    """conv3×3-BN-ReLU-conv3×3-BN + shortcut, ReLU; the official shortcut is a 1×1 stride-2 conv with bias."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = _bn(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = _bn(c_out)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, 0, bias=True) if (stride != 1 or c_in != c_out) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.shortcut is None else self.shortcut(x)))


def _resnet_body(in_channels: int, widths: Sequence[int], blocks_per_stage: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), _bn(widths[0]), nn.ReLU()]
    c = widths[0]
    for stage, w in enumerate(widths):
        for b in range(blocks_per_stage):
            layers.append(BasicBlock(c, w, 2 if (stage > 0 and b == 0) else 1))
            c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


def _vgg_body(in_channels: int, convs: Sequence[int], widths: Sequence[int]) -> nn.Sequential:
    """Official VGG features: per block ``convs[i]`` × (conv3×3 with bias, BN, ReLU) then a 2×2
    max-pool; flatten; Linear+BN+ReLU for each of the last two widths (BN momentum 0.1)."""
    layers: list[nn.Module] = []
    c = in_channels
    for n_convs, w in zip(convs, widths[:5], strict=True):
        for _ in range(n_convs):
            layers += [nn.Conv2d(c, w, 3, 1, 1, bias=True), _bn(w, BN_MOMENTUM_VGG), nn.ReLU()]
            c = w
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), *_fc_blocks(c, widths[5:], BN_MOMENTUM_VGG))


class DenseLayer(nn.Module):
    """Bottleneck layer BN-ReLU-conv1×1(bn_size·k)-BN-ReLU-conv3×3(k), output concatenated to the input."""

    def __init__(self, c_in: int, growth: int, bn_size: int) -> None:
        super().__init__()
        width = bn_size * growth
        self.branch = nn.Sequential(_bn(c_in), nn.ReLU(), nn.Conv2d(c_in, width, 1, bias=False),
                                    _bn(width), nn.ReLU(), nn.Conv2d(width, growth, 3, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.branch(x)], dim=1)


def _densenet_body(in_channels: int, layers: Sequence[int], growth: int, bn_size: int) -> tuple[nn.Sequential, int]:
    """Official DenseNet features and their dimension: stem conv3×3(bn_size·k) without BN, dense
    blocks joined by transitions BN-ReLU-conv1×1(c/2)-avgpool2, final BN-ReLU-global average pool."""
    c = bn_size * growth
    modules: list[nn.Module] = [nn.Conv2d(in_channels, c, 3, 1, 1, bias=False)]
    for i, n_layers in enumerate(layers):
        for _ in range(n_layers):
            modules.append(DenseLayer(c, growth, bn_size))
            c += growth
        if i < len(layers) - 1:
            modules += [_bn(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
            c //= 2
    modules += [_bn(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*modules), c


VIT_PATCH = 7
VIT_HEADS = 2
VIT_POSITION_STD = 0.02  # the position embedding's N(0, 0.02²), the usual ViT choice, in every init


class Patches(nn.Module):
    """(B, C, H, W) images to (B, T, C·p·p) tokens of non-overlapping p×p patches, row by row."""

    def __init__(self, patch: int) -> None:
        super().__init__()
        self.patch = patch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.unfold(x, self.patch, stride=self.patch).transpose(1, 2)


class SelfAttention(nn.Module):
    """Multi-head softmax(q kᵀ/√d_head) v on (B, T, d), with q, k, v and the output as separate Linear layers."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = (lin(x).reshape(B, T, self.heads, -1).transpose(1, 2) for lin in (self.q, self.k, self.v))
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(B, T, d))


class TransformerBlock(nn.Module):
    """Pre-LN: x + Attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP of width 2d applied per token."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(d), SelfAttention(d, heads)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TokenMean(nn.Module):
    """(B, T, d) to (B, d): the mean over tokens."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


def _vit_body(in_shape: Sequence[int], d: int, depth: int, patch: int, heads: int) -> nn.Sequential:
    C, H, W = in_shape
    if H % patch or W % patch:
        raise ValueError(f"vit_tiny cuts {patch}×{patch} patches: the image size {H}×{W} must be a multiple of {patch}")
    if d % heads:
        raise ValueError(f"vit_tiny's width {d} must be a multiple of its {heads} heads")
    tokens = (H // patch) * (W // patch)
    return nn.Sequential(Patches(patch), nn.Linear(C * patch * patch, d), LearnedOffset(tokens, d),
                         *(TransformerBlock(d, heads) for _ in range(depth)), nn.LayerNorm(d), TokenMean())


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    """Flax fan convention: Dense (in, out); conv (kh·kw·in, kh·kw·out)."""
    receptive = math.prod(weight.shape[2:]) if weight.ndim > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@torch.no_grad()
def initialise(model: NCModel, scheme: str, generator: torch.Generator) -> None:
    """Apply the official initialisation ``flax``, ``normal_fan_out`` or ``torch`` (notes §2.3), literally.

    flax: truncated normal, variance 1/fan_in, zero biases. normal_fan_out: N(0, 2/fan_out), zero biases.
    torch: U(±√(3/fan_in)) for dense and 1×1 convs (``kernel_init_1``), U(±√(1/(3 fan_in))) (scale 1/9)
    for 3×3 convs (``kernel_init_2``), and the one-sided bias U[0, 1/√n) on the classifier; on every
    conv and Linear layer when ``model.bias_everywhere`` (VGG); other biases (the ResNet shortcut) zero.
    BatchNorm and LayerNorm keep scale 1 and shift 0 (Flax's defaults). A learned offset (the ViT's
    position embedding) is drawn N(0, 0.02²) in every scheme; no official code covers it (ours).
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
                if scheme == "torch" and model.bias_everywhere:
                    _one_sided_bias(module.bias, model.n_features, generator)
        elif isinstance(module, LearnedOffset):
            p = module.offset
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * VIT_POSITION_STD)
    if scheme == "torch" and not model.bias_everywhere:
        _one_sided_bias(model.classifier.bias, model.n_features, generator)


def _one_sided_bias(b: torch.Tensor, n_features: int, generator: torch.Generator) -> None:
    """Flax's ``uniform(scale=√(1/NUM_H))``: U[0, 1/√NUM_H), NUM_H = the feature dimension."""
    b.copy_(torch.rand(b.shape, generator=generator, dtype=b.dtype) / math.sqrt(n_features))


MODELS = ("mlp", "resnet8_w8", "resnet20", "vgg11", "vgg16", "densenet40", "vit_tiny")


def build_model(name: str, *, n_classes: int = 10, in_shape: Sequence[int], init: str = "flax", seed: int = 0,
                widths: Sequence[int] | None = None) -> NCModel:
    """Build one of :data:`MODELS` for inputs of ``in_shape`` ((C, H, W) or (d,)), initialised by ``init``.

    ``widths`` (default: the official sizes) are the hidden widths of ``mlp``, the stage widths of
    the ResNets, the five conv-block widths then the two fc widths of VGG (64, 128, 256, 512, 512,
    512, 256), ``(k,)``, the growth rate 12 of DenseNet40 (stem and bottleneck width 2k), and
    ``(d, depth)`` of ``vit_tiny`` (default (16, 2); patches 7×7, 2 heads).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: use one of {MODELS}")
    if name != "mlp" and len(in_shape) != 3:
        raise ValueError(f"{name} needs image inputs (C, H, W), got in_shape={tuple(in_shape)}")
    bias_everywhere = False
    if name == "mlp":
        widths = list(widths or (128, 128, 32))
        body, n = _mlp_body(math.prod(in_shape), widths), widths[-1]
    elif name in ("resnet8_w8", "resnet20"):
        widths = list(widths or ((8, 16, 32) if name == "resnet8_w8" else (16, 32, 64)))
        body, n = _resnet_body(in_shape[0], widths, 1 if name == "resnet8_w8" else 3), widths[-1]
    elif name in VGG_CONVS:
        if tuple(in_shape[1:]) != VGG_INPUT:
            raise ValueError(f"{name} needs 32×32 inputs, got {tuple(in_shape[1:])}: the official code resizes "
                             "MNIST/FashionMNIST bilinearly to 32×32 (use the data sets 'mnist_32' or 'fashion_mnist_32')")
        widths = list(widths or VGG_WIDTHS)
        if len(widths) != len(VGG_WIDTHS):
            raise ValueError(f"{name} takes 7 widths (5 conv blocks, 2 fc layers), got {widths}")
        body, n, bias_everywhere = _vgg_body(in_shape[0], VGG_CONVS[name], widths), widths[-1], True
    elif name == "vit_tiny":
        widths = list(widths or (16, 2))
        if len(widths) != 2:
            raise ValueError(f"vit_tiny takes two widths, (d, depth), got {widths}")
        body, n = _vit_body(in_shape, widths[0], widths[1], VIT_PATCH, VIT_HEADS), widths[0]
    else:
        widths = list(widths or (DENSENET_GROWTH,))
        if len(widths) != 1:
            raise ValueError(f"{name} takes one width, the growth rate, got {widths}")
        body, n = _densenet_body(in_shape[0], DENSENET_LAYERS, widths[0], DENSENET_BN_SIZE)
    model = NCModel(body, n, n_classes, bias_everywhere)
    initialise(model, init, torch.Generator().manual_seed(seed))
    return model
