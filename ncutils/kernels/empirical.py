"""Empirical NTK of a torch model (paper A notes, Appendix A.2), computed once per sample, never per pair.

Θ(x, x')_ab = Σ_p ∂f_a(x)/∂θ_p ∂f_b(x')/∂θ_p over all trainable parameters θ, with BatchNorm in
eval mode (running statistics, buffers fixed). Two engines give the same kernel:

- ``layerwise`` (:mod:`ncutils.kernels.layerwise`): per-layer factors from one backward pass per
  output; Linear layers contribute Gram(inputs) ⊙ Gram(output gradients) without forming their
  Jacobian. Covers Linear (also per token), Conv2d, BatchNorm, LayerNorm and learned offsets such as
  position embeddings (the models of :mod:`ncutils.models`).
- ``jacobian``: the per-sample Jacobians of all parameters by ``torch.func`` (vmap over jacrev of
  a functional call), for any model.

``method="auto"`` uses ``layerwise`` when it covers the model and otherwise ``jacobian`` with a
warning that names the reason.

Memory: with ``chunk_size=None`` every sample's factors are computed once and held together.
With ``chunk_size=c`` (c ≥ 2) the factors of at most c samples are held at once besides the
result (blocks of ⌊c/2⌋ samples, a row block against each column block), at the price of
recomputing the factors of the column blocks once per row block.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.func import jacrev, vmap
from torch.nn.utils.stateless import _reparametrize_module

from ncutils.core.checks import count
from ncutils.kernels.layerwise import (
    Dense,
    Factor,
    NotLayerwise,
    contract,
    layer_factors,
    select_outputs,
    unsupported_reason,
)

OUTPUTS = ("full", "trace", "diagonal")
METHODS = ("auto", "layerwise", "jacobian")
OutputFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]
FactorFn = Callable[[torch.Tensor], list[Factor]]


def _check_arguments(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None, outputs: str, method: str,
                     chunk_size: int | None, output_chunk_size: int | None) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if outputs not in OUTPUTS:
        raise ValueError(f"outputs={outputs!r}: use one of {OUTPUTS}")
    if method not in METHODS:
        raise ValueError(f"method={method!r}: use one of {METHODS}")
    if chunk_size is not None:
        count(chunk_size, "chunk_size (samples held at once)", minimum=2)
    if output_chunk_size is not None:
        count(output_chunk_size, "output_chunk_size")
        if outputs == "full":
            raise ValueError("output_chunk_size needs outputs='diagonal' or 'trace' (the full kernel couples every pair "
                             "of outputs: bound its memory with chunk_size)")
    for name, x in (("x1", x1), ("x2", x2)):
        if x is None and name == "x2":
            continue
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor (a batch of samples), got {type(x).__name__}")
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty batch (N, ...) of samples, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must hold floating-point inputs, got dtype {x.dtype}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or inf: the kernel of such inputs is undefined")
    if x2 is not None and x2.shape[1:] != x1.shape[1:]:
        raise ValueError(f"x1 and x2 must have the same sample shape, got {tuple(x1.shape[1:])} and {tuple(x2.shape[1:])}")


def _tensor_output(forward: OutputFn) -> OutputFn:
    """``forward``, refusing an output that is not a tensor (e.g. a tuple) with a clear error."""
    def checked(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = forward(m, x)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"output_fn must return a tensor of outputs (N, ...), got {type(out).__name__}")
        return out

    return checked


@contextmanager
def _in_eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode (BatchNorm's running statistics) for the block, then back to its own mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _finite(*kernels: torch.Tensor) -> None:
    if not all(bool(torch.isfinite(k).all()) for k in kernels):
        raise ValueError("the empirical NTK is not finite: the model's parameters or outputs hold NaN or inf")


def _jacobian_factors(model: nn.Module, output_fn: OutputFn | None) -> FactorFn:
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    if not params:
        raise ValueError("the model has no trainable parameters")
    forward = output_fn or (lambda m, x: m(x))

    def single(p: dict, x: torch.Tensor) -> torch.Tensor:
        # the mechanism of torch.func.functional_call, so that output_fn may call any method
        with _reparametrize_module(model, {**p, **buffers}):
            return forward(model, x.unsqueeze(0)).reshape(-1)

    jac = vmap(jacrev(single), in_dims=(None, 0))

    def factors(x: torch.Tensor) -> list[Factor]:
        """One Dense factor per parameter: its (B, O, P) per-sample Jacobians."""
        with torch.no_grad():
            parts = jac(params, x)
        return [Dense(j.reshape(j.shape[0], j.shape[1], -1)) for j in parts.values()]

    return factors


def _factor_fn(model: nn.Module, output_fn: OutputFn | None, method: str) -> FactorFn:
    if method == "jacobian":
        return _jacobian_factors(model, output_fn)
    if method == "layerwise":
        reason = unsupported_reason(model)
        if reason:
            raise NotLayerwise(f"method='layerwise' does not cover this model: {reason}; use method='jacobian'")
        return lambda x: layer_factors(model, x, output_fn)
    engine: list[FactorFn] = []  # auto: decided on the first block, then kept (factors of both kinds never mix)

    def auto(x: torch.Tensor) -> list[Factor]:
        if not engine:
            try:
                factors = layer_factors(model, x, output_fn)
                engine.append(lambda xb: layer_factors(model, xb, output_fn))
                return factors
            except NotLayerwise as exc:
                warnings.warn(f"empirical_ntk: per-sample Jacobians instead of layer-wise factors ({exc})", stacklevel=4)
                engine.append(_jacobian_factors(model, output_fn))
        return engine[0](x)

    return auto


def _blocks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _transpose(block: torch.Tensor, outputs: str) -> torch.Tensor:
    """Θ(x2, x1) from Θ(x1, x2)."""
    return block.permute(1, 0, 3, 2) if outputs == "full" else block.transpose(0, 1)


def _kernel(factors: FactorFn, x1: torch.Tensor, x2: torch.Tensor | None, outputs: str,
            chunk_size: int | None) -> torch.Tensor:
    symmetric = x2 is None
    n_held = len(x1) + (0 if symmetric else len(x2))
    if chunk_size is None or n_held <= chunk_size:  # every sample's factors once
        F1 = factors(x1)
        return contract(F1, F1 if symmetric else factors(x2), outputs)
    other = x1 if symmetric else x2
    half = chunk_size // 2
    rows, cols = _blocks(len(x1), half), _blocks(len(other), half)
    result: torch.Tensor | None = None
    for p, rp in enumerate(rows):
        Fa = factors(x1[rp])
        for q, cq in enumerate(cols):
            if symmetric and q < p:
                continue
            block = contract(Fa, Fa if (symmetric and p == q) else factors(other[cq]), outputs)
            if result is None:
                result = block.new_empty((len(x1), len(other), *block.shape[2:]))
            result[rp, cq] = block
            if symmetric and q > p:
                result[cq, rp] = _transpose(block, outputs)
        del Fa
    return result


def empirical_ntk(
    model: nn.Module,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    outputs: str = "full",
    output_fn: OutputFn | None = None,
    chunk_size: int | None = None,
    output_chunk_size: int | None = None,
    method: str = "auto",
) -> torch.Tensor:
    """The empirical NTK of ``model`` (all trainable parameters, BatchNorm in eval mode).

    Shapes: ``full`` (N1, N2, O, O), ``trace`` (N1, N2) = Σ_a Θ_aa, ``diagonal`` (N1, N2, O) = Θ_aa.
    ``output_fn(model, x)`` selects what is differentiated (default ``model(x)``), e.g.
    ``lambda m, x: m.features(x)`` for the feature kernel Θ^h. ``chunk_size`` bounds the samples
    whose factors are held at once; ``output_chunk_size`` (``diagonal`` and ``trace`` only, whose
    outputs do not couple) bounds the output coordinates, one forward pass per group of them.
    ``method`` picks the engine (see the module docstring). Computed on the device and in the
    dtype of the model.
    """
    _check_arguments(model, x1, x2, outputs, method, chunk_size, output_chunk_size)
    forward = _tensor_output(output_fn or (lambda m, xb: m(xb)))
    with _in_eval_mode(model):
        groups: list[slice | None] = [None]
        if output_chunk_size is not None:
            with torch.no_grad():
                n_out = forward(model, x1[:1]).reshape(1, -1).shape[1]
            groups = [slice(a, min(a + output_chunk_size, n_out)) for a in range(0, n_out, output_chunk_size)]
        parts = []
        for group in groups:
            fn = forward if group is None else (lambda m, xb, g=group: forward(m, xb).reshape(xb.shape[0], -1)[:, g])
            parts.append(_kernel(_factor_fn(model, fn, method), x1, x2, outputs, chunk_size).detach())
        kernel = torch.cat(parts, dim=-1) if outputs == "diagonal" else sum(parts)
    _finite(kernel)
    return kernel


def feature_kernel(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None = None, *, layer: str,
                   outputs: str = "trace", chunk_size: int | None = None, method: str = "auto") -> torch.Tensor:
    """The kernel Θ^h of the (flattened) output of the submodule named ``layer``."""
    modules = dict(model.named_modules())
    if layer not in modules:
        raise ValueError(f"no submodule {layer!r}; known: {[n for n in modules if n][:20]}")
    target = modules[layer]

    def output_fn(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        captured = []
        handle = target.register_forward_hook(lambda mod, inp, out: captured.append(out))
        try:
            m(x)
        finally:
            handle.remove()
        return captured[0].reshape(x.shape[0], -1)

    return empirical_ntk(model, x1, x2, outputs=outputs, output_fn=output_fn, chunk_size=chunk_size, method=method)


def ntk_probe(model: nn.Module, x: torch.Tensor, *, chunk_size: int | None = None, output_chunk_size: int | None = None,
              method: str = "auto", full: bool = False) -> tuple[torch.Tensor, ...]:
    """Per-output and per-feature diagonal kernels (N, N, C) and (N, N, n) of a model with
    ``.features`` and ``.classifier``, from the factors of [f(x), h(x)] per sample (paper A's probe);
    ``chunk_size`` and ``output_chunk_size`` bound memory as in :func:`empirical_ntk`. With ``full=True`` also
    the full kernel (N, N, C, C) of the outputs f, contracted from the same factors (one set of backward passes
    for both; the whole batch's factors at once, so without chunks)."""
    if not (hasattr(model, "features") and hasattr(model, "classifier")):
        raise ValueError("ntk_probe needs a model with .features and .classifier")
    n_out = model.classifier.out_features

    def both(m: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        h = m.features(xb)
        return torch.cat([m.classifier(h), h], dim=1)

    if not full:
        K = empirical_ntk(model, x, outputs="diagonal", output_fn=both, chunk_size=chunk_size,
                          output_chunk_size=output_chunk_size, method=method)
        return K[..., :n_out], K[..., n_out:]
    if chunk_size is not None or output_chunk_size is not None:
        raise ValueError("ntk_probe(full=True) contracts the factors of the whole batch: pass no chunk_size or "
                         "output_chunk_size (or compute the full kernel apart with empirical_ntk(outputs='full'))")
    _check_arguments(model, x, None, "full", method, None, None)
    with _in_eval_mode(model):
        factors = _factor_fn(model, _tensor_output(both), method)(x)
        K = contract(factors, factors, "diagonal").detach()
        outputs = select_outputs(factors, slice(0, n_out))
        K_full = contract(outputs, outputs, "full").detach()
    _finite(K, K_full)
    return K[..., :n_out], K[..., n_out:], K_full
