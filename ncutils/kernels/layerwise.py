"""Per-layer Jacobian factors of a torch model, for the empirical NTK without a generic Jacobian.

For the parameters θ_l of one layer, Θ(x_i, x_j)_ab = Σ_l ⟨∂f_a(x_i)/∂θ_l, ∂f_b(x_j)/∂θ_l⟩, and
each layer's per-sample Jacobian follows from its input u and the gradient g = ∂f_a/∂z of its
output z, which one backward pass per output a gives for every layer at once:

- ``Linear`` on (B, d) inputs, z = W u + b: ∂f_a/∂W = g uᵀ, ∂f_a/∂b = g, so its term is
  (u_i·u_j + 1)(g_ai·g_bj): a Gram matrix of inputs times a Gram matrix of gradients, the
  Jacobian (d_out × d_in per sample and output) is never formed (:class:`Outer`);
- ``Conv2d`` (groups 1, zero padding): ∂f_a/∂W = Σ_p g_p ⊗ u_p over output positions p, with u_p
  the input patch (``unfold``); ∂f_a/∂b = Σ_p g_p, held as the layer's input and gradients (:class:`Patches`;
  the patches are unfolded only while they are used, into a :class:`Workspace` reused from layer to layer).
  Its term is contracted by one of two routes, whichever a count of multiply-adds says is cheaper
  (:func:`structured_is_cheaper`): the *Jacobian* route forms the layer's Jacobian Σ_p g_p u_pᵀ
  per sample and output (B·O·C_out·k_in numbers) and takes its Gram; the *structured* route takes
  Σ_{p,q} (g_a,ip·g_a,jq)(u_ip·u_jq + 1) from the Grams over all (sample, position) pairs, which is
  cheaper for Θ_aa when a layer has few positions (the late layers of a ResNet) and never forms the
  Jacobian. A layer for which the structured route cannot pay for large batches and whose Jacobian is smaller than
  its gradients and input (the early layers of a CNN) is held as its Jacobian (:class:`Dense`), formed from each
  backward pass's gradients as they come by the convolution's own weight-gradient kernel (samples as groups), so
  that its gradients for all outputs are never held; the full kernel (Θ_ab, all pairs of outputs) always takes the
  Jacobian route, forming a held :class:`Patches` layer's Jacobian one layer at a time (between two batches, a
  group of output channels at a time: :func:`channel_groups`);
- a conv layer whose output gradients factorise per channel, g_a,icp = α_ac m_icp (every operation between its
  output and the model's outputs acts channel by channel until a linear read-out: the last conv before global
  pooling and a dense layer, or the per-feature outputs of paper A's probe) is held as α and the per-channel
  products M_ic = Σ_p m_icp (u_ip, 1) (:class:`ChannelRankOne`): its term is Σ_c α_ac α_bc (M_ic·M_jc), one Gram
  per channel over samples instead of one over (sample, output) pairs, O² times fewer multiply-adds. The
  factorisation is found from the gradients themselves and checked to rounding (:func:`channel_rank_one`);
- ``BatchNorm`` in eval mode, z = γ û + β with running statistics: ∂f_a/∂γ = Σ_p g_p û_p,
  ∂f_a/∂β = Σ_p g_p (:class:`Dense`), summed as each backward pass comes (its gradients are never held).
- ``Linear`` on (B, T, d) inputs (a Linear applied per token): a 1×1 convolution over the T token positions,
  ∂f_a/∂W = Σ_t g_t u_tᵀ, held as its input and gradients (:class:`Patches`: the input (B, d_in, T, 1) a view of
  the layer's own, the gradients written per pass with tokens last) and contracted like a conv layer, its
  Jacobian formed per layer in the workspace during the contraction, never held for all layers at once (on the
  ViT workload, forming them all at collection, 0.55 GB for 100 samples, took 0.17 s more, measured);
- ``LayerNorm``, z = γ û + β with û the input normalised over its last dimensions by its own mean and
  (biased) variance: ∂f_a/∂γ = Σ_t g_t û_t, ∂f_a/∂β = Σ_t g_t over the leading positions t (:class:`Dense`);
- :class:`LearnedOffset`, z = u + p (a learned position embedding): ∂f_a/∂p = g (:class:`Dense`).

Models with any other trainable parameter (e.g. a bare ``nn.Parameter`` used in ``forward``), a
shared parameter, or a layer called twice are not handled here (:class:`NotLayerwise` names the
reason). Each computation is also checked: the factors summed over the batch's first samples must reproduce
autograd's parameter gradient of Σ_a c_a Σ_i f_a(x_i) over them (one extra backward pass), which catches
parameters used outside their layer. A layer's output is held as it is, not copied, unless an operation after the
layer changes it in place (e.g. ``ReLU(inplace=True)``): then the forward pass is run again with copies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

OutputFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


class NotLayerwise(ValueError):
    """The model has a parameter or layer that the layer-wise factors do not cover."""


class LearnedOffset(nn.Module):
    """z = u + p for a learned p of the shape of one sample's input (e.g. a position embedding (T, d)),
    broadcast over the batch: the layer-wise engine's unit for a parameter added to activations."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(shape))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.offset


@dataclass
class Outer:
    """A Linear layer's Jacobian as (inputs, output gradients): u (B, d_in) or None when the weight
    is frozen, g (B, O, d_out), and whether the bias is trainable."""

    u: torch.Tensor | None
    g: torch.Tensor
    bias: bool

    def input_gram(self, other: Outer) -> torch.Tensor:
        """(B1, B2): u_i·u_j (+1 for a trainable bias), the input factor of the layer's term."""
        B1, B2 = self.g.shape[0], other.g.shape[0]
        gram = self.u @ other.u.T if self.u is not None else self.g.new_zeros(B1, B2)
        return gram + 1.0 if self.bias else gram


@dataclass
class Dense:
    """A parameter's per-sample Jacobian, (B, O, P_l); ``channels`` = C when its columns are C blocks, one per output
    channel of a conv layer (then tried for a factorisation per channel, :func:`_held`)."""

    j: torch.Tensor
    channels: int | None = None


BLOCK_COLUMNS = 4096  # the columns of a Jacobian block formed while two batches are contracted


def channel_groups(C: int, K: int) -> list[slice]:
    """Groups of a conv layer's C output channels whose Jacobian columns (K per channel) number at most
    :data:`BLOCK_COLUMNS` (one channel when K alone exceeds it): the blocks in which the contraction of two batches
    forms a layer's Jacobian, so that the two blocks held at once stay small against the Jacobian of the samples
    (each block's Gram a product of 4096 terms or more, efficient still)."""
    step = max(1, BLOCK_COLUMNS // K)
    return [slice(c, min(c + step, C)) for c in range(0, C, step)]


class Workspace:
    """Scratch tensors reused from one layer to the next, one per named slot (each use overwrites the slot's last
    contents): on the CPU a large tensor costs a page fault per 4 kB when it is first written, and the C allocator
    returns large blocks (over 32 MB at most) to the system when they are freed, so that a fresh tensor per layer
    paid it for every layer (forming a ResNet20 last-stage layer's Jacobian, 120 samples: 77 ms fresh against 37 ms
    reused, measured)."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def take(self, slot: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """An uninitialised tensor of ``shape`` (dtype and device of ``like``) in the slot's buffer."""
        n = math.prod(shape)
        buffer = self._buffers.get(slot)
        if buffer is None or buffer.numel() < n or buffer.dtype != like.dtype or buffer.device != like.device:
            buffer = self._buffers[slot] = like.new_empty(n)
        return buffer[:n].view(shape)


@dataclass(frozen=True)
class ConvGeometry:
    """What unfolding a Conv2d's input into patches needs: kernel size, dilation, padding and stride."""

    kernel_size: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)

    @classmethod
    def of(cls, m: nn.Conv2d) -> ConvGeometry:
        return cls(tuple(m.kernel_size), tuple(m.dilation), tuple(m.padding), tuple(m.stride))

    def unfold(self, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C_in·k·k, P): the input patches at the P output positions (``F.unfold``), into ``out`` when given; for
        a 1×1 kernel with stride 1 and no padding, the input itself, (B, C_in, H·W) (a view when its layout allows)."""
        if self.kernel_size == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0):
            return x.flatten(2)
        args = (list(self.kernel_size), list(self.dilation), list(self.padding), list(self.stride))
        return F.unfold(x, *args) if out is None else torch.ops.aten.im2col.out(x, *args, out=out)


@dataclass
class Patches:
    """A Conv2d layer's Jacobian (or a per-token Linear's, as a 1×1 conv over its tokens) as (input, output
    gradients): x (B, C_in, H, W), the layer's input (None when the weight is frozen), unfolded into patches only
    when they are used (9× its numbers for a 3×3 kernel), g (B, O, C_out, P) at the P output positions, and whether
    the bias is trainable."""

    x: torch.Tensor | None
    geometry: ConvGeometry
    g: torch.Tensor
    bias: bool

    @property
    def k_in(self) -> int:
        """Entries of one input patch (C_in·k·k; 0 for a frozen weight)."""
        return 0 if self.x is None else self.x.shape[1] * math.prod(self.geometry.kernel_size)

    @property
    def width(self) -> int:
        """The Jacobian's columns per sample and output: C_out·k_in (+ C_out for a trainable bias)."""
        C = self.g.shape[2]
        return C * self.k_in + (C if self.bias else 0)

    def u(self, workspace: Workspace | None = None) -> torch.Tensor:
        """(B, k_in, P): the input patches (in the workspace's ``patches`` slot when given)."""
        B, P = self.g.shape[0], self.g.shape[3]
        out = None if workspace is None else workspace.take("patches", (B, self.k_in, P), self.g)
        return self.geometry.unfold(self.x, out)

    def jacobian(self, workspace: Workspace | None = None) -> list[Dense]:
        """The layer's Jacobian: (B, O, C_out·k_in) = Σ_p g_p u_pᵀ per sample and output, and (B, O, C_out) =
        Σ_p g_p for the bias (each when trainable); the patches and the weight's part in the workspace when one is
        given (overwritten by the next layer's)."""
        return list(self.jacobian_blocks(workspace or Workspace(), grouped=False))

    def jacobian_blocks(self, workspace: Workspace, grouped: bool = True) -> Iterator[Dense]:
        """The parts of :meth:`jacobian` (weight, then bias), a group of output channels at a time
        (:func:`channel_groups`; all channels at once unless ``grouped``): (B, O, C_g·k_in) each, the weight's formed
        in the workspace and overwritten by the next block's."""
        B, O, C, P = self.g.shape
        if self.x is not None:
            u = self.u(workspace).transpose(1, 2)
            for c in channel_groups(C, self.k_in) if grouped else [slice(0, C)]:
                Cg = c.stop - c.start
                g = self.g if Cg == C else workspace.take("gradients", (B, O, Cg, P), self.g).copy_(self.g[:, :, c])
                out = workspace.take("jacobian", (B, O * Cg, self.k_in), self.g)
                yield Dense(torch.bmm(g.reshape(B, O * Cg, P), u, out=out).reshape(B, O, -1))
        if self.bias:
            for c in channel_groups(C, 1) if grouped else [slice(0, C)]:
                yield Dense(self.g[:, :, c].sum(-1))

    def position_gram(self, other: Patches) -> torch.Tensor:
        """(B1·P, B2·P): u_ip·u_jq (+1 for a trainable bias), the input factor of the structured route."""
        B1, B2, P = self.g.shape[0], other.g.shape[0], self.g.shape[3]
        if self.x is None:
            gram = self.g.new_zeros(B1 * P, B2 * P)
        else:
            ua = self.u().transpose(1, 2).reshape(B1 * P, -1)
            gram = ua @ (ua if other is self else other.u().transpose(1, 2).reshape(B2 * P, -1)).T
        return gram + 1.0 if self.bias else gram


@dataclass
class ChannelRankOne:
    """A conv layer's Jacobian when its output gradients factorise per channel, g_a,icp = α_ac m_icp: α (O, C) and
    M (B, C, K) with M_ic = Σ_p m_icp (u_ip, 1), so that ∂f_a(x_i)/∂W_c = α_ac M_ic; ``parts`` splits K like the
    parts of :meth:`Patches.jacobian` (weight k_in, bias 1)."""

    alpha: torch.Tensor
    m: torch.Tensor
    parts: tuple[int, ...]

    def jacobian(self) -> list[Dense]:
        """The parts of :meth:`Patches.jacobian`, (B, O, C·K_part) each: α_ac M_ic[part]."""
        return list(self.jacobian_blocks(grouped=False))

    def jacobian_blocks(self, grouped: bool = True) -> Iterator[Dense]:
        """The parts of :meth:`jacobian`, a group of channels at a time (:func:`channel_groups`; all at once unless
        ``grouped``)."""
        B, (O, C) = self.m.shape[0], self.alpha.shape
        for m in self.m.split(list(self.parts), dim=2):
            for c in channel_groups(C, m.shape[2]) if grouped else [slice(0, C)]:
                yield Dense((self.alpha[None, :, c, None] * m[:, None, c]).reshape(B, O, -1))

    def channel_gram(self, other: ChannelRankOne) -> torch.Tensor:
        """(C, B1, B2): M_ic·M_jc for each channel c."""
        return torch.bmm(self.m.transpose(0, 1), other.m.permute(1, 2, 0))


Factor = Outer | Dense | Patches | ChannelRankOne


def unsupported_reason(model: nn.Module) -> str | None:
    """Why the layer-wise factors cannot cover ``model``, or None when they can."""
    owner: dict[int, str] = {}
    for mname, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            name = f"{mname}.{pname}" if mname else pname
            if id(p) in owner:
                return f"parameter {name} is shared with {owner[id(p)]}"
            owner[id(p)] = name
            reason = _module_reason(module)
            if reason:
                return f"{mname or 'the model'} ({type(module).__name__}): {reason}"
    if not owner:
        return "the model has no trainable parameters"
    return None


_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)  # exact types: their factors are summed over positions


def _module_reason(m: nn.Module) -> str | None:
    # exact types: a subclass may change forward()
    if type(m) is nn.Linear:
        return None
    if type(m) is nn.Conv2d:
        if m.groups != 1:
            return "grouped convolution"
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            return f"padding {m.padding!r} with mode {m.padding_mode!r}"
        return None
    if type(m) in _BATCHNORMS:
        if m.running_mean is None:
            return "BatchNorm without running statistics"
        return None
    if type(m) in (nn.LayerNorm, LearnedOffset):
        return None
    return "no layer-wise Jacobian for this layer type"


def _param_names(m: nn.Module) -> tuple[str, ...]:
    """The parameters a layer's factors cover, in the order of its factors."""
    return ("offset",) if type(m) is LearnedOffset else ("weight", "bias")


def _trainable(m: nn.Module, name: str) -> bool:
    p = getattr(m, name, None)
    return isinstance(p, nn.Parameter) and p.requires_grad


def _conv_factors(m: nn.Conv2d, u: torch.Tensor, g: torch.Tensor) -> list[Factor]:
    B, O, C = g.shape[:3]
    return [Patches(u if _trainable(m, "weight") else None, ConvGeometry.of(m), g.reshape(B, O, C, -1),
                    _trainable(m, "bias"))]


def _layernorm_factors(m: nn.LayerNorm, u: torch.Tensor, g: torch.Tensor) -> list[Factor]:
    B, O = g.shape[:2]
    D = math.prod(m.normalized_shape)
    u = u.reshape(B, 1, -1, D)
    g = g.reshape(B, O, -1, D)
    parts = []
    if _trainable(m, "weight"):
        normalised = (u - u.mean(-1, keepdim=True)) / torch.sqrt(u.var(-1, unbiased=False, keepdim=True) + m.eps)
        parts.append(Dense((g * normalised).sum(2)))
    if _trainable(m, "bias"):
        parts.append(Dense(g.sum(2)))
    return parts


def _offset_factors(m: LearnedOffset, u: torch.Tensor, g: torch.Tensor) -> list[Factor]:
    return [Dense(g.reshape(g.shape[0], g.shape[1], -1))] if _trainable(m, "offset") else []


def _linear_factors(m: nn.Linear, u: torch.Tensor, g: torch.Tensor) -> list[Factor]:
    """A Linear layer's factor from its input u and output gradients g: (B, O, d_out) for (B, d_in) inputs; for
    inputs with token axes (B, ..., d_in), (B, O, d_out, T) with the T tokens last (:class:`_HeldGradients`)."""
    if u.dim() == 2:
        return [Outer(u if _trainable(m, "weight") else None, g, _trainable(m, "bias"))]
    x = u.reshape(u.shape[0], -1, m.in_features).transpose(1, 2)[..., None]  # (B, d_in, T, 1): a 1×1 conv's input
    return [Patches(x if _trainable(m, "weight") else None, ConvGeometry((1, 1)), g, _trainable(m, "bias"))]


def _param_gradient(factor: Factor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_a w_a Σ_i ∂f_a(x_i)/∂θ from the factor, flat (weight, then bias)."""
    if isinstance(factor, Dense):
        return weights @ factor.j.sum(0)  # (sum over samples first: a contiguous reduction)
    if isinstance(factor, Patches):
        gw = torch.einsum("a,iacp->icp", weights, factor.g)
        parts = [] if factor.x is None else [torch.einsum("icp,ikp->ck", gw, factor.u()).reshape(-1)]
        return torch.cat(parts + ([gw.sum((0, 2))] if factor.bias else []))
    gw = torch.einsum("a,iao->io", weights, factor.g)
    parts = [] if factor.u is None else [(gw.T @ factor.u).reshape(-1)]
    return torch.cat(parts + ([gw.sum(0)] if factor.bias else []))


def _norms(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Euclidean norms along ``dim`` as the root of summed squares: on the CPU ``torch.linalg.vector_norm``
    over an inner axis took ~15× as long (148 against 10 ms for a (120, 42, 8, 196) float32 tensor)."""
    return t.square().sum(dim).sqrt()


def _norm_bound(factor: Factor, weights: torch.Tensor) -> float:
    """Σ_a w_a Σ_i ‖∂f_a(x_i)/∂θ‖: the scale of the rounding error of :func:`_param_gradient`."""
    if isinstance(factor, Dense):
        return float(torch.einsum("a,ia->", weights, _norms(factor.j, 2)))
    if isinstance(factor, Patches):  # Σ_p ‖g_p‖(‖u_p‖ + 1): the size of the terms summed into the Jacobian
        u_norm = torch.zeros_like(factor.g[:, 0, 0]) if factor.x is None else _norms(factor.u(), 1)
        return float(torch.einsum("a,iap,ip->", weights, _norms(factor.g, 2), u_norm + float(factor.bias)))
    u_norm = torch.zeros(factor.g.shape[0], dtype=factor.g.dtype, device=factor.g.device) if factor.u is None \
        else _norms(factor.u, 1)
    return float(torch.einsum("a,ia,i->", weights, _norms(factor.g, 2), u_norm + float(factor.bias)))


def _trainable_layers(model: nn.Module) -> list[nn.Module]:
    """The modules that own a trainable parameter directly (the layers that get factors)."""
    return [m for m in model.modules() if any(p.requires_grad for p in m.parameters(recurse=False))]


def output_gradient_numel(model: nn.Module, sample: torch.Tensor) -> int:
    """Entries of the output gradients g that :func:`layer_factors` holds per sample and output
    coordinate of ``model(sample)`` (before it builds the factors): the summed output sizes of the layers with
    trainable parameters, except a BatchNorm layer's sums over positions (C per trainable parameter) and a conv
    layer held as its Jacobian (:func:`_conv_jacobian_is_held`: its Jacobian's C·k_in + C columns), from one
    forward pass on ``sample`` (a batch of one)."""
    if sample.shape[0] != 1:
        raise ValueError(f"sample must be a batch of one input, got a batch of {sample.shape[0]}: pass x[:1]")
    calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
    handles = [m.register_forward_hook(lambda m, inputs, z: calls.append((m, inputs[0], z)))
               for m in _trainable_layers(model)]
    try:
        with torch.no_grad():
            n_out = model(sample).reshape(1, -1).shape[1]
    finally:
        for h in handles:
            h.remove()

    def held(module: nn.Module, u: torch.Tensor, z: torch.Tensor) -> int:
        if type(module) in _BATCHNORMS:
            return z.shape[1] * sum(_trainable(module, name) for name in ("weight", "bias"))
        if type(module) is nn.Conv2d and _conv_jacobian_is_held(module, u, z, n_out):
            return _conv_counts(module, u, z)[3]
        return z.numel()

    return sum(held(*call) for call in calls)


_BUILDERS = {nn.Linear: _linear_factors, nn.Conv2d: _conv_factors, nn.LayerNorm: _layernorm_factors,
             LearnedOffset: _offset_factors}  # a layer's factors from its input u and output gradients g (B, O, ...)


class _HeldGradients:
    """A layer's output gradients for every output coordinate, (B, O, ...), filled one backward pass at a time; its
    factors are built from them once all passes are done. A Linear layer on inputs with token axes, output
    (B, ..., d_out), holds them as (B, O, d_out, T), tokens last (the layout of a conv layer's gradients)."""

    def __init__(self, module: nn.Module, u: torch.Tensor, z: torch.Tensor, n_out: int) -> None:
        self.module, self.u = module, u
        self.tokens = type(module) is nn.Linear and z.dim() > 2
        shape = (z.shape[-1], z[0, ..., 0].numel()) if self.tokens else z.shape[1:]
        self.g = z.new_empty((z.shape[0], n_out, *shape))

    def add(self, a: int, g: torch.Tensor | None) -> None:
        if g is None:
            self.g[:, a] = 0.0
        elif self.tokens:
            self.g[:, a] = g.reshape(g.shape[0], -1, g.shape[-1]).transpose(1, 2)
        else:
            self.g[:, a] = g

    def factors(self) -> list[Factor]:
        return _BUILDERS[type(self.module)](self.module, self.u, self.g)


class _ConvJacobianSums:
    """A conv layer held as its Jacobian (:func:`_conv_jacobian_is_held`): ∂f_a/∂W = Σ_p g_p u_pᵀ (B, O, C_out·k_in)
    and ∂f_a/∂b = Σ_p g_p (B, O, C_out) formed from each backward pass's gradients as they come, the weight's by the
    convolution's own weight-gradient kernel with the samples as groups (one group per sample: its per-sample
    gradients), so that neither the layer's gradients for all outputs (O·C_out·P numbers per sample) nor its patches
    are ever held."""

    def __init__(self, module: nn.Conv2d, u: torch.Tensor, z: torch.Tensor, n_out: int) -> None:
        B, C = z.shape[:2]
        self.module = module
        self.x = self.shape = self.weight = self.bias = None
        if _trainable(module, "weight"):
            self.x = u.reshape(1, -1, *u.shape[2:])  # the samples' channels side by side: one group each
            self.shape = u.new_zeros((B * C, *module.weight.shape[1:]))  # the grouped weight's shape (not read)
            self.weight = z.new_empty((B, n_out, module.weight[0].numel() * C))
        if _trainable(module, "bias"):
            self.bias = z.new_empty((B, n_out, C))

    def add(self, a: int, g: torch.Tensor | None) -> None:
        if self.weight is not None:
            if g is None:
                self.weight[:, a] = 0.0
            else:
                self.weight[:, a] = per_sample_weight_gradients(self.module, self.x, g, self.shape)
        if self.bias is not None:
            self.bias[:, a] = 0.0 if g is None else g.sum((2, 3))

    def factors(self) -> list[Factor]:
        return [Dense(t, self.module.out_channels) for t in (self.weight, self.bias) if t is not None]


def per_sample_weight_gradients(m: nn.Conv2d, x: torch.Tensor, g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Σ_p g_p u_pᵀ for each sample, (B, C_out·k_in), of a conv layer (groups 1) with output gradients g (B, C_out, ...):
    the convolution's own weight-gradient kernel with the samples as groups, on its input x as (1, B·C_in, H, W) and
    ``like``, a (B·C_out, C_in, k, k) tensor for the grouped weight's shape (not read)."""
    return torch.ops.aten.convolution_backward(
        g.reshape(1, -1, *g.shape[2:]), x, like, None, list(m.stride), list(m.padding), list(m.dilation), False,
        [0, 0], g.shape[0], [False, True, False])[1].reshape(g.shape[0], -1)


def _collector(module: nn.Module, u: torch.Tensor, z: torch.Tensor,
               n_out: int) -> _HeldGradients | _BatchNormSums | _ConvJacobianSums:
    """What collects a layer's factors over the backward passes."""
    if type(module) in _BATCHNORMS:
        return _BatchNormSums(module, u, z, n_out)
    if type(module) is nn.Conv2d and _conv_jacobian_is_held(module, u, z, n_out):
        return _ConvJacobianSums(module, u, z, n_out)
    return _HeldGradients(module, u, z, n_out)


class _BatchNormSums:
    """A BatchNorm layer in eval mode, z = γ û + β: its factors ∂f_a/∂γ = Σ_p g_p û_p and ∂f_a/∂β = Σ_p g_p (B, O, C),
    summed over positions p as each backward pass comes, so that its gradients over positions (half of a ResNet's
    output gradients) are never held for all outputs at once."""

    def __init__(self, module: nn.BatchNorm1d | nn.BatchNorm2d, u: torch.Tensor, z: torch.Tensor, n_out: int) -> None:
        B, C = z.shape[:2]
        self.normalised = None
        if _trainable(module, "weight"):
            shape = (1, C, 1)
            self.normalised = ((u.reshape(B, C, -1) - module.running_mean.reshape(shape))
                               / torch.sqrt(module.running_var.reshape(shape) + module.eps))
        self.weight = z.new_empty((B, n_out, C)) if self.normalised is not None else None
        self.bias = z.new_empty((B, n_out, C)) if _trainable(module, "bias") else None

    def add(self, a: int, g: torch.Tensor | None) -> None:
        g = None if g is None else g.reshape(g.shape[0], g.shape[1], -1)
        if self.weight is not None:
            self.weight[:, a] = 0.0 if g is None else (g * self.normalised).sum(-1)
        if self.bias is not None:
            self.bias[:, a] = 0.0 if g is None else g.sum(-1)

    def factors(self) -> list[Factor]:
        return [Dense(t) for t in (self.weight, self.bias) if t is not None]


Record = tuple[nn.Module, torch.Tensor, int, torch.Tensor, int]  # layer, input, its version, output, its version


def _recorded_forward(forward: OutputFn, model: nn.Module, x: torch.Tensor, layers: list[nn.Module],
                      copies: bool) -> tuple[torch.Tensor, list[Record]]:
    """The outputs (B, O) of a forward pass and, for each call of a layer in ``layers``, its input and output with
    their versions (which count in-place changes); with ``copies`` each layer's output goes on as a copy, so that an
    operation after the layer may change it in place (each output then held twice while the graph lives)."""
    records: list[Record] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        records.append((module, inputs[0], inputs[0]._version, output, output._version))
        return output.clone() if copies else None

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.enable_grad():
            f = forward(model, x)
    finally:
        for h in handles:
            h.remove()
    return f.reshape(x.shape[0], -1), records


def layer_factors(model: nn.Module, x: torch.Tensor, output_fn: OutputFn | None = None) -> list[Factor]:
    """The factors of every trainable layer for a batch ``x`` (model in eval mode).

    One forward pass, one backward pass per output coordinate (to every layer's output, not to
    the parameters), and one more for the check against autograd. Raises :class:`NotLayerwise`.
    """
    reason = unsupported_reason(model)
    if reason:
        raise NotLayerwise(reason)
    forward = output_fn or (lambda m, xb: m(xb))
    layers = _trainable_layers(model)
    check = _AutogradCheck(forward, model, x, layers)  # first: its own graph is freed before the batch's is built
    f, records = _recorded_forward(forward, model, x, layers, copies=False)
    if any(z._version != version for *_, z, version in records):
        # an operation after a layer changed its output in place (e.g. ReLU(inplace=True)): again, the outputs copied
        del f
        records.clear()
        f, records = _recorded_forward(forward, model, x, layers, copies=True)
    seen = [r[0] for r in records]
    for module in layers:
        if seen.count(module) > 1:
            raise NotLayerwise(f"layer {type(module).__name__} is called {seen.count(module)} times in one forward pass")
    for module, u, version, *_ in records:
        if u._version != version:
            raise NotLayerwise(f"the input of a {type(module).__name__} layer is changed in place after the layer")
    outputs = [r[3] for r in records]
    n_out = f.shape[1]
    collectors = [_collector(module, u.detach(), z, n_out) for module, u, _, z, _ in records]
    for a in range(n_out):  # the last pass frees the graph
        for collector, g in zip(collectors, torch.autograd.grad(f[:, a].sum(), outputs, retain_graph=a < n_out - 1,
                                                                allow_unused=True)):
            collector.add(a, g)
    modules = [r[0] for r in records]
    del f, outputs
    records.clear()
    factors: list[Factor] = []
    workspace = Workspace()
    for module in modules:  # each layer's gradients are dropped once its factors are built
        layer = collectors.pop(0).factors()
        check.compare(module, layer)
        factors += [g for f in layer for g in _held(f, workspace)]
    return factors


RANK_ONE_ULPS = 2**10  # the factorisation's largest residual, in units of rounding of the channel's largest gradient


def _rank_one_coefficients(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """α (C, O) and m (B, C, P) with g_a,icp = α_ca m_icp when every channel's (O, B·P) matrix of gradients has rank
    one, to :data:`RANK_ONE_ULPS` units of rounding of its largest entry; else None. α_c· is the channel's gradient
    vector over outputs of largest norm, m the projection coefficients on it."""
    B, O, C, P = g.shape
    largest = g.square().sum(1).transpose(0, 1).reshape(C, B * P).argmax(1)
    alpha = g[largest // P, :, torch.arange(C, device=g.device), largest % P]  # (C, O)
    norm2 = alpha.square().sum(1)
    m = torch.einsum("iacp,ca->icp", g, alpha) / torch.where(norm2 > 0, norm2, 1.0)[None, :, None]
    residual = (g - alpha.T[None, :, :, None] * m[:, None]).abs_().amax((0, 1, 3))
    if bool((residual > RANK_ONE_ULPS * torch.finfo(g.dtype).eps * g.abs().amax((0, 1, 3))).any()):
        return None
    return alpha, m


def _factorisation(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """:func:`_rank_one_coefficients` of g (B, O, C, K), tried on the first sample before the batch, so that a layer
    that does not factorise costs a sample's worth of work; None in half precision, where a test to
    :data:`RANK_ONE_ULPS` units of rounding would accept anything."""
    if g.dtype not in (torch.float32, torch.float64) or _rank_one_coefficients(g[:1]) is None:
        return None
    return _rank_one_coefficients(g)


def _rank_one_jacobian(factor: Dense) -> ChannelRankOne | None:
    """A conv layer's Jacobian part (B, O, C·K) as α_ac M_ic when it factorises so per channel c (as its gradients
    do, :func:`channel_rank_one`: then M_ic = Σ_p m_icp u_ip), else None (:func:`_factorisation`)."""
    B, O = factor.j.shape[:2]
    j = factor.j.reshape(B, O, factor.channels, -1)
    found = _factorisation(j)
    return None if found is None else ChannelRankOne(found[0].T.contiguous(), found[1], (j.shape[3],))


def channel_rank_one(factor: Patches, workspace: Workspace | None = None) -> ChannelRankOne | None:
    """The layer's gradients as g_a,icp = α_ac m_icp when they factorise so for every channel c, else None
    (:func:`_factorisation`)."""
    found = _factorisation(factor.g)
    if found is None:
        return None
    alpha, m = found
    patches = [] if factor.x is None else [factor.u(workspace).transpose(1, 2)]
    M = [torch.bmm(m, p) for p in patches] + ([m.sum(2, keepdim=True)] if factor.bias else [])
    return ChannelRankOne(alpha.T.contiguous(), torch.cat(M, dim=2), tuple(part.shape[2] for part in M))


def _jacobian_is_cheaper(O: int, C: int, P: int, k_in: int, width: int) -> bool:
    """Whether the structured route cannot pay for large batches for a conv layer with O outputs, C output channels,
    P positions, patches of k_in entries and O·width Jacobian entries per sample: its cost per pair of samples,
    P²(k_in + O·C + O), at least the Jacobian Grams', O·width (a layer with many positions)."""
    return P * P * (k_in + O * C + O) >= O * width


def _jacobian_is_smaller(O: int, C: int, P: int, width: int, input_numel: int) -> bool:
    """Whether the layer's Jacobian, O·width numbers per sample, is smaller than its gradients and input,
    O·C·P + C_in·H·W (the early layers of a CNN, with many positions and few channels)."""
    return O * width < O * C * P + input_numel


def _conv_counts(module: nn.Conv2d, u: torch.Tensor, z: torch.Tensor) -> tuple[int, int, int, int]:
    """A conv layer's output channels C, positions P, patch entries k_in (0 for a frozen weight) and Jacobian columns
    per sample and output, width = C·k_in (+ C for a trainable bias), from its input u and output z."""
    C, P = z.shape[1], z[0, 0].numel()
    k_in = u.shape[1] * math.prod(module.kernel_size) if _trainable(module, "weight") else 0
    return C, P, k_in, C * k_in + (C if _trainable(module, "bias") else 0)


def _conv_jacobian_is_held(module: nn.Conv2d, u: torch.Tensor, z: torch.Tensor, n_out: int) -> bool:
    """Whether a conv layer (input u, output z, n_out outputs) is held as its Jacobian: both
    :func:`_jacobian_is_cheaper` and :func:`_jacobian_is_smaller` (which depend on the model, not the batch)."""
    C, P, k_in, width = _conv_counts(module, u, z)
    return (_jacobian_is_cheaper(n_out, C, P, k_in, width)
            and _jacobian_is_smaller(n_out, C, P, width, u[0].numel() if k_in else 0))


def _held(factor: Factor, workspace: Workspace) -> list[Factor]:
    """What a layer's factor is held as: a conv layer held as input and gradients (not as its Jacobian:
    :func:`_conv_jacobian_is_held`) as :class:`ChannelRankOne` when its gradients factorise per channel (one slot
    either way, so that the factors of any two batches of one model line up slot by slot even where one batch's
    gradients factorise and the other's do not: contracted then through their Jacobians); ``workspace`` takes the
    patches unfolded meanwhile."""
    if isinstance(factor, Patches):
        rank_one = channel_rank_one(factor, workspace)
        return [rank_one if rank_one is not None else factor]
    if isinstance(factor, Dense) and factor.channels is not None:
        found = _rank_one_jacobian(factor)
        return [found if found is not None else factor]
    return [factor]


CHECK_SAMPLES = 8  # the samples of a batch that the autograd self-check sums over


def _first_samples(factor: Factor, rows: slice) -> Factor:
    if isinstance(factor, Dense):
        return Dense(factor.j[rows])
    if isinstance(factor, Patches):
        return replace(factor, x=None if factor.x is None else factor.x[rows], g=factor.g[rows])
    return replace(factor, u=None if factor.u is None else factor.u[rows], g=factor.g[rows])


class _AutogradCheck:
    """Autograd's gradient of Σ_a w_a Σ_i f_a(x_i) over the first :data:`CHECK_SAMPLES` samples i, for each layer's
    parameters, compared with the same sum from the layer's factors (relative to Σ‖terms‖, the scale of rounding
    errors). A parameter used outside its layer shows in any sample; summing over a few keeps the check's cost
    (Σ over outputs and positions of every layer) a small part of the kernel's: over the whole batch it was 15 % of
    the ``cnn`` benchmark's full kernel. Its own forward pass on those samples (eval mode: each sample's outputs are
    its own) keeps its backward pass off the batch's graph (0.012 against 0.1 s on ``cnn``)."""

    def __init__(self, forward: OutputFn, model: nn.Module, x: torch.Tensor, modules: list[nn.Module]) -> None:
        self.rows = slice(0, min(x.shape[0], CHECK_SAMPLES))
        with torch.enable_grad():
            f = forward(model, x[self.rows])
        f = f.reshape(f.shape[0], -1)
        self.weights = torch.linspace(1.0, 2.0, f.shape[1], dtype=f.dtype, device=f.device)
        params = [[getattr(m, name) for name in _param_names(m) if _trainable(m, name)] for m in modules]
        grads = iter(torch.autograd.grad((f * self.weights).sum(), [p for ps in params for p in ps],
                                         allow_unused=True))
        self.reference = {m: torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(ps, grads)])
                          for m, ps in zip(modules, params)}
        self.tol = 1e-10 if f.dtype == torch.float64 else 1e-4

    def compare(self, module: nn.Module, factors: list[Factor]) -> None:
        reference = self.reference.pop(module)
        factors = [_first_samples(fc, self.rows) for fc in factors]
        error = float(torch.linalg.vector_norm(reference - torch.cat([_param_gradient(fc, self.weights) for fc in factors])))
        scale = sum(_norm_bound(fc, self.weights) for fc in factors)
        if not math.isfinite(error + scale):
            raise ValueError(f"the gradients of a {type(module).__name__} layer are not finite: the model's parameters "
                             "or activations hold NaN or inf")
        if error > self.tol * max(scale, 1e-30):
            raise NotLayerwise(f"the layer-wise gradient of a {type(module).__name__} layer differs from autograd's "
                               f"by {error:.1e} (scale {scale:.1e}): one of its parameters is used outside the layer")


class SymmetricGramSum:
    """Σ_k a_k a_kᵀ over row-major (R, P_k) matrices, symmetric to the last bit: each matrix's upper block triangle
    (:data:`BLOCKS` row blocks, each against the rows from its own on: 7/12 of a aᵀ's multiply-adds for 6) added in
    place by torch's GEMM, and the sum mirrored once at the end. For a (1200, 36928) float32 matrix on 2 cores of
    an Intel Xeon (AVX-512, torch's MKL): 0.28 s against 0.42 s for a aᵀ and 0.31 s for OpenBLAS's syrk (SciPy),
    measured. OpenBLAS is not used: its threads spin after each call and slowed torch's work between the calls (a
    ResNet20's unfolds, 0.35 against 0.75 s beside it)."""

    BLOCKS = 6

    def __init__(self, rows: int, like: torch.Tensor) -> None:
        self.total = like.new_zeros((rows, rows))

    def add(self, a: torch.Tensor) -> None:
        rows = a.shape[0]
        step = -(-rows // self.BLOCKS)
        for i in range(0, rows, step):
            self.total[i : i + step, i:].addmm_(a[i : i + step], a[i:].T)

    def result(self) -> torch.Tensor:
        """The sum: its upper triangle, mirrored."""
        return self.total.triu() + self.total.triu(1).T


def _gram(a: torch.Tensor) -> torch.Tensor:
    """a aᵀ of a row-major (R, P) matrix, each pair of rows once (:class:`SymmetricGramSum`)."""
    gram = SymmetricGramSum(a.shape[0], a)
    gram.add(a)
    return gram.result()


def _symmetric_full(factors: list[Factor]) -> torch.Tensor:
    """(B, O, B, O): Θ of a batch with itself, every layer held as a Jacobian accumulated into one symmetric Gram
    (a conv layer's Jacobian formed and dropped in turn); Linear layers as Gram(inputs) ⊙ Gram(output gradients)."""
    like = factors[0].j if isinstance(factors[0], Dense) else factors[0].m if isinstance(factors[0], ChannelRankOne) \
        else factors[0].g
    B, O = like.shape[0], _outputs(factors[0])
    rows = B * O
    gram = SymmetricGramSum(rows, like)
    workspace = Workspace()
    products = None
    for factor in factors:
        if isinstance(factor, ChannelRankOne):
            term = _rank_one_full(factor, factor, factor.channel_gram(factor))
            term = (term + term.permute(2, 3, 0, 1)) / 2  # symmetric to the last bit
            products = term if products is None else products + term
            continue
        if isinstance(factor, Outer):
            term = (_gram(factor.g.reshape(rows, -1)).reshape(B, O, B, O)
                    * factor.input_gram(factor)[:, None, :, None])
            products = term if products is None else products + term
            continue
        for part in _jacobian_blocks(factor, workspace, grouped=False):
            gram.add(part.j.reshape(rows, -1))
    total = gram.result().reshape(B, O, B, O)
    return total if products is None else total + products


def _outputs(factor: Factor) -> int:
    return factor.alpha.shape[0] if isinstance(factor, ChannelRankOne) else (factor.j if isinstance(factor, Dense)
                                                                             else factor.g).shape[1]


def _rank_one_full(fa: ChannelRankOne, fb: ChannelRankOne, channels: torch.Tensor) -> torch.Tensor:
    """(B1, O, B2, O): Σ_c α_ac α_bc (M_ic·M_jc) from the per-channel Grams ``channels`` (C, B1, B2)."""
    O, C = fa.alpha.shape
    B1, B2 = channels.shape[1:]
    pairs = (fa.alpha[:, None, :] * fb.alpha[None, :, :]).reshape(O * O, C)
    return (pairs @ channels.reshape(C, B1 * B2)).reshape(O, O, B1, B2).permute(2, 0, 3, 1)


def _jacobian_blocks(factor: Factor, workspace: Workspace, grouped: bool = True) -> Iterator[Dense]:
    """The factor's Jacobian, part by part and a group of channels at a time (:func:`channel_groups`; the same
    blocks for every kind of factor a slot may hold; all channels at once unless ``grouped``): a :class:`Patches`
    layer's formed in the workspace."""
    if isinstance(factor, Patches):
        yield from factor.jacobian_blocks(workspace, grouped)
    elif isinstance(factor, ChannelRankOne):
        yield from factor.jacobian_blocks(grouped)
    elif factor.channels is None or not grouped:
        yield factor
    else:
        K = factor.j.shape[2] // factor.channels
        for c in channel_groups(factor.channels, K):
            yield Dense(factor.j[:, :, c.start * K : c.stop * K])


def _gram_full(fa: Factor, fb: Factor, wa: Workspace, wb: Workspace) -> torch.Tensor:
    """(B1, O, B2, O) block of Θ between two batches (a Jacobian formed in ``wa``, ``wb``)."""
    if isinstance(fa, ChannelRankOne) and isinstance(fb, ChannelRankOne):
        return _rank_one_full(fa, fb, fa.channel_gram(fb))
    if isinstance(fa, (Patches, ChannelRankOne)) or isinstance(fb, ChannelRankOne):
        # through the Jacobians, formed here and dropped after their Gram
        return sum(_gram_full(a, b, wa, wb) for a, b in zip(_jacobian_blocks(fa, wa), _jacobian_blocks(fb, wb)))
    ta, tb = (fa.j, fb.j) if isinstance(fa, Dense) else (fa.g, fb.g)
    (B1, O, _), B2 = ta.shape, tb.shape[0]
    gram = (ta.reshape(B1 * O, -1) @ tb.reshape(B2 * O, -1).T).reshape(B1, O, B2, O)
    return gram if isinstance(fa, Dense) else gram * fa.input_gram(fb)[:, None, :, None]


STRUCTURED_ENTRY_COST = 128  # multiply-adds: the structured route's work per entry of its products, beyond its GEMM


def structured_is_cheaper(fa: Patches, fb: Patches, same: bool) -> bool:
    """Whether the structured route costs less than the Jacobian route for Θ_aa of a conv layer (or a per-token
    Linear): (B1·P)(B2·P)(k_in + O·(C_out + E)) against forming the Jacobians (B·O·C_out·P·k_in per batch, once when
    ``same``) plus their Grams O·B1·B2·C_out·k_in, in multiply-adds. E = :data:`STRUCTURED_ENTRY_COST` counts what
    each of the O·(B1·P)(B2·P) entries of its per-output products costs besides the product itself (written, multiplied
    by the position Gram, summed over position pairs: memory traffic). Measured (float32, 2 cores): on a ViT's token
    layers (4 tokens, 16 or 32 channels, 1000 samples, 26 outputs) the structured route took 4.8 ns per entry, about
    130 multiply-adds at the Jacobian route's own rate there (32 G/s), and 1.8–2.2 s against the Jacobian route's
    0.21–0.35 s, where a count of multiply-adds alone (E = 1) had picked it for 5 of the 13 layers; on VGG11's
    512-channel layers (16 and 4 positions, 60 samples, 266 outputs) it took 0.2–2.0 s against 25–53 s, and both
    counts pick it (on its 256-channel layer with 64 positions, 21 s against 20 s: now the Jacobian route)."""
    B1, O, C, P = fa.g.shape
    B2 = fb.g.shape[0]
    structured = B1 * P * B2 * P * (fa.k_in + O * (C + STRUCTURED_ENTRY_COST))
    jacobian = (B1 + (0 if same else B2)) * O * C * P * (fa.k_in + 1) + O * B1 * B2 * fa.width
    return structured < jacobian


def _structured_diagonal(fa: Patches, fb: Patches) -> torch.Tensor:
    """(O, B1, B2): Θ_aa(i, j) = Σ_{p,q} (g_a,ip·g_a,jq)(u_ip·u_jq [+ 1]), a group of outputs at a time so that
    the (outputs, B1·P, B2·P) products held never exceed the numbers of fa's Jacobian."""
    B1, O, C, P = fa.g.shape
    B2 = fb.g.shape[0]
    positions = fa.position_gram(fb)
    ga = fa.g.permute(1, 0, 3, 2).reshape(O, B1 * P, C)
    gb = ga if fb is fa else fb.g.permute(1, 0, 3, 2).reshape(O, B2 * P, C)
    step = max(1, B1 * O * fa.width // (B1 * P * B2 * P))
    out = positions.new_empty((O, B1, B2))
    for a in range(0, O, step):
        products = torch.bmm(ga[a : a + step], gb[a : a + step].transpose(1, 2)).mul_(positions)
        out[a : a + step] = products.reshape(-1, B1, P, B2, P).sum((2, 4))
    # between a batch and itself: symmetric to the last bit (the sums over (p, q) and (q, p) round differently)
    return (out + out.transpose(1, 2)) / 2 if fb is fa else out


def _summed(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """The sum of freshly computed terms, added in place into the first: one (O, B1, B2) tensor for the whole sum
    instead of a new one per addition (on the CPU each new one is written to fresh pages: summing a ViT probe's 38
    diagonal terms, 26 × 1000 × 1000 each, took 3.3 of its 8.5 s that way, measured)."""
    terms = iter(terms)
    total = next(terms)
    for term in terms:
        total += term
    return total


def _gram_diagonal(fa: Factor, fb: Factor, wa: Workspace, wb: Workspace) -> torch.Tensor:
    """(O, B1, B2): Θ_aa for each output a (a Jacobian formed in ``wa``, ``wb``)."""
    if isinstance(fa, ChannelRankOne) and isinstance(fb, ChannelRankOne):  # Σ_c α_ac² (M_ic·M_jc)
        channels = fa.channel_gram(fb)
        C, B1, B2 = channels.shape
        out = ((fa.alpha * fb.alpha) @ channels.reshape(C, B1 * B2)).reshape(-1, B1, B2)
        return (out + out.transpose(1, 2)) / 2 if fb is fa else out  # between a batch and itself: symmetric
    if isinstance(fa, ChannelRankOne) or isinstance(fb, ChannelRankOne):
        return _summed(_gram_diagonal(a, b, wa, wb) for a, b in zip(_jacobian_blocks(fa, wa), _jacobian_blocks(fb, wb)))
    if isinstance(fa, Patches):
        same = fb is fa
        if structured_is_cheaper(fa, fb, same):
            return _structured_diagonal(fa, fb)
        if same:
            return _summed(_gram_diagonal(a, a, wa, wa) for a in _jacobian_blocks(fa, wa))
        return _summed(_gram_diagonal(a, b, wa, wb) for a, b in zip(_jacobian_blocks(fa, wa), _jacobian_blocks(fb, wb)))
    ta, tb = (fa.j, fb.j) if isinstance(fa, Dense) else (fa.g, fb.g)
    gram = torch.bmm(ta.transpose(0, 1), tb.permute(1, 2, 0))
    return gram if isinstance(fa, Dense) else gram * fa.input_gram(fb)[None]


def select_outputs(factors: list[Factor], outputs: slice) -> list[Factor]:
    """The factors of the output coordinates ``outputs`` only (views of the same tensors): e.g. the full kernel of
    a model's outputs from the factors of [outputs, features] that paper A's probe computes."""
    return [Dense(f.j[:, outputs]) if isinstance(f, Dense)
            else ChannelRankOne(f.alpha[outputs], f.m, f.parts) if isinstance(f, ChannelRankOne)
            else replace(f, g=f.g[:, outputs]) for f in factors]


def contract(fa: list[Factor], fb: list[Factor], outputs: str) -> torch.Tensor:
    """Θ between two batches from their factors, summed over parameters: ``full`` (B1, B2, O, O),
    ``diagonal`` (B1, B2, O), ``trace`` (B1, B2)."""
    if outputs == "full" and fa is fb:
        return _symmetric_full(fa).permute(0, 2, 1, 3)
    wa, wb = Workspace(), Workspace()  # the Jacobians formed from each batch's factors, one layer at a time
    if outputs == "full":
        return sum(_gram_full(a, b, wa, wb) for a, b in zip(fa, fb)).permute(0, 2, 1, 3)
    diagonal = _summed(_gram_diagonal(a, b, wa, wb) for a, b in zip(fa, fb)).permute(1, 2, 0)
    return diagonal.sum(-1) if outputs == "trace" else diagonal
