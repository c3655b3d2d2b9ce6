"""Empirical NTK of a torch model from per-sample Jacobians (paper A notes, Appendix A.2).

Θ(x, x') = Σ_p ∂f(x)/∂θ_p ∂f(x')/∂θ_pᵀ over all trainable parameters θ, with BatchNorm in eval
mode (running statistics, buffers fixed). The Jacobian of each sample is computed once per
chunk of samples with ``torch.func`` (vmap over jacrev of a functional call) and contracted,
instead of re-differentiating every pair as the official code does.

Memory: with ``chunk_size=None`` every Jacobian is computed exactly once and held whole
(N·O·P numbers; O outputs, P parameters). With ``chunk_size=c`` at most two chunks of Jacobians
(2·c·O·P numbers) are held besides the result, at the price of recomputing the Jacobians of the
other chunks once per row of chunks.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import jacrev, vmap
from torch.nn.utils.stateless import _reparametrize_module

OUTPUTS = ("full", "trace", "diagonal")
OutputFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def _check_outputs(outputs: str) -> None:
    if outputs not in OUTPUTS:
        raise ValueError(f"outputs={outputs!r}: use one of {OUTPUTS}")


def _jacobian_fn(model: nn.Module, output_fn: OutputFn | None):
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

    def jacobian(x: torch.Tensor) -> torch.Tensor:
        """(B, O, P): the flattened per-sample Jacobians of a chunk."""
        parts = jac(params, x)
        return torch.cat([j.reshape(j.shape[0], j.shape[1], -1) for j in parts.values()], dim=2)

    return jacobian


def _contract(J1: torch.Tensor, J2: torch.Tensor, outputs: str) -> torch.Tensor:
    if outputs == "full":
        return torch.einsum("iap,jbp->ijab", J1, J2)
    if outputs == "trace":
        return torch.einsum("iap,jap->ij", J1, J2)
    return torch.einsum("iap,jap->ija", J1, J2)


def _chunks(x: torch.Tensor, size: int | None):
    size = x.shape[0] if size is None else size
    if size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {size}")
    return [(i, x[i : i + size]) for i in range(0, x.shape[0], size)]


def _kernel(jacobian, x1: torch.Tensor, x2: torch.Tensor | None, outputs: str, chunk_size: int | None):
    if chunk_size is None:  # every Jacobian once
        J1 = jacobian(x1)
        return _contract(J1, J1 if x2 is None else jacobian(x2), outputs)
    other = x1 if x2 is None else x2
    rows = []
    for i, xa in _chunks(x1, chunk_size):  # bounded memory: the Jacobians of two chunks at a time
        Ja = jacobian(xa)
        rows.append(torch.cat([_contract(Ja, Ja if (x2 is None and j == i) else jacobian(xb), outputs)
                               for j, xb in _chunks(other, chunk_size)], dim=1))
    return torch.cat(rows, dim=0)


def empirical_ntk(
    model: nn.Module,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    outputs: str = "full",
    output_fn: OutputFn | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """The empirical NTK of ``model`` (all trainable parameters, BatchNorm in eval mode).

    Shapes: ``full`` (N1, N2, O, O), ``trace`` (N1, N2) = Σ_a Θ_aa, ``diagonal`` (N1, N2, O) = Θ_aa.
    ``output_fn(model, x)`` selects what is differentiated (default ``model(x)``), e.g.
    ``lambda m, x: m.features(x)`` for the feature kernel Θ^h. Computed on the device
    and in the dtype of the model.
    """
    _check_outputs(outputs)
    if x2 is not None and x2.shape[1:] != x1.shape[1:]:
        raise ValueError(f"x1 and x2 must have the same sample shape, got {tuple(x1.shape[1:])} and {tuple(x2.shape[1:])}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _kernel(_jacobian_fn(model, output_fn), x1, x2, outputs, chunk_size)
    finally:
        model.train(was_training)


def feature_kernel(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None = None, *, layer: str,
                   outputs: str = "trace", chunk_size: int | None = None) -> torch.Tensor:
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

    return empirical_ntk(model, x1, x2, outputs=outputs, output_fn=output_fn, chunk_size=chunk_size)


def ntk_probe(model: nn.Module, x: torch.Tensor, *, chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-output and per-feature diagonal kernels (N, N, C) and (N, N, n) of a model with
    ``.features`` and ``.classifier``, from one Jacobian of [f(x), h(x)] per sample (paper A's probe)."""
    if not (hasattr(model, "features") and hasattr(model, "classifier")):
        raise ValueError("ntk_probe needs a model with .features and .classifier")
    n_out = model.classifier.out_features

    def both(m: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        h = m.features(xb)
        return torch.cat([m.classifier(h), h], dim=1)

    K = empirical_ntk(model, x, outputs="diagonal", output_fn=both, chunk_size=chunk_size)
    return K[..., :n_out], K[..., n_out:]
