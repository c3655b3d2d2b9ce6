"""Paper A's block-structure assumption and its theory, measured in training (issue 15; chapter a08).

The assumption (notes §1.1): Θ(x_i^c, x_j^{c'}) = γ_• I_C and Θ^h(x_i^c, x_j^{c'}) = κ_• I_n with • = d (i = j),
c (same class), n (different classes), constant in time. How far a measured kernel is from it:

- the **best block fit** P(K): the orthogonal projection (Frobenius) onto kernels of that form with the same
  class partition, i.e. every diagonal, within-class and between-class entry replaced by the mean of its kind
  (over all outputs of a per-output stack), and every cross-output block Θ_ab (a ≠ b) by 0;
  the **relative residual** ‖K − P(K)‖_F / ‖K‖_F (0 exactly under the assumption);
- the **output isotropy** ‖Θ_ab (a ≠ b)‖_F / ‖Θ_aa‖_F of the full kernel (0 under the assumption).

The theory (notes §1.3–1.4) in SGD time: one epoch of the official recipe (batches of B samples, MSE as ½·mean
over batch and classes, learning rate η, momentum β) moves the parameters by about
−η/((1−β)BC)·∇½‖R‖²_F of the full training set, so it is the gradient-flow time τ = η/((1−β)BC) of Ṙ = −RΓ,
and the components of R decay by e^{−τλ_•} per epoch with λ_• the eigenvalues of Γ on the *full* training set
(:func:`ncutils.kernels.block.block_spectrum` with m = samples per class). Weight decay ω on W (one step:
W ← W − η(∇ + ωW)) shrinks W by e^{−ηω/(1−β)} per step, and the extension of notes §1.4 (ω on W and H) predicts
‖E‖ ∝ e^{−2ω·(steps)·η/(1−β)}.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ncutils.core.checks import as_float64, count, labels_of, real_scalar
from ncutils.kernels import empirical_ntk
from ncutils.kernels.block import BlockValues, block_spectrum
from ncutils.nc import block_values_official
from ncutils.paper_a.flow import residual_components
from ncutils.paper_a.invariant import invariant

__all__ = ["assumption_record", "block_fit", "cumulative_decay", "epoch_flow_time", "epoch_learning_rates",
           "full_block_fit_residual", "lr_milestones", "output_isotropy", "probe_epochs", "residual_norms",
           "wd_log_decay"]

LR_DECAY = 0.1  # the official step decay ×0.1 ...
LR_FRACTIONS = (0.3, 0.6, 0.9)  # ... at these fractions of the epochs


def probe_epochs(epochs: int, probe_every: int, probe_log: int | None = None) -> list[int]:
    """The epochs probed by :func:`ncutils.paper_a.training.run_config`: 0, the multiples of ``probe_every``, the
    last epoch and, with ``probe_log=k``, the distinct integers of k log-spaced points from 1 to ``epochs``
    (at most k: rounding merges the first few)."""
    epochs, probe_every = count(epochs, "epochs"), count(probe_every, "probe_every")
    grid = set(range(0, epochs + 1, probe_every)) | {epochs}
    if probe_log is not None:
        k = count(probe_log, "probe_log (log-spaced probes)", minimum=2)
        grid |= {int(e) for e in np.unique(np.round(np.geomspace(1, epochs, k)))}
    return sorted(grid)


def lr_milestones(epochs: int) -> list[int]:
    """The epochs after which the official recipe multiplies the learning rate by 0.1 (notes §2.3)."""
    return [int(np.ceil(f * count(epochs, "epochs"))) for f in LR_FRACTIONS]


def epoch_learning_rates(lr: float, epochs: int) -> np.ndarray:
    """The learning rate of each training epoch 1..``epochs`` (torch's MultiStepLR over :func:`lr_milestones`,
    stepped after every epoch)."""
    lr = real_scalar(lr, "lr", positive=True)
    done = np.arange(epochs)  # scheduler steps before epoch e = e − 1
    return lr * LR_DECAY ** np.searchsorted(lr_milestones(epochs), done, side="right")


def epoch_flow_time(lr: Any, batch: int, n_classes: int, momentum: float = 0.9) -> Any:
    """Gradient-flow time τ = η/((1−β)·B·C) of one epoch (module docstring); ``lr`` may be an array of epochs."""
    count(batch, "batch (samples per step)"), count(n_classes, "n_classes")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    return np.asarray(lr, dtype=np.float64) / ((1 - momentum) * batch * n_classes)


def wd_log_decay(lr: Any, weight_decay: float, steps_per_epoch: int, momentum: float = 0.9) -> Any:
    """Predicted log-decay per epoch of ‖E‖ under weight decay ω: 2·ω·S·η/(1−β) (module docstring; notes §1.4's
    e^{−2λt} extension with λt = ω·S·η/(1−β) per epoch); ``lr`` may be an array of epochs."""
    weight_decay = real_scalar(weight_decay, "weight_decay", nonnegative=True)
    count(steps_per_epoch, "steps_per_epoch")
    return 2 * weight_decay * steps_per_epoch * np.asarray(lr, dtype=np.float64) / (1 - momentum)


def cumulative_decay(probed: Any, gammas: Any, per_epoch: Any, C: int, m: int) -> dict[str, np.ndarray]:
    """Predicted log-decay Λ_•(e) = Σ_{k ≤ e} τ_k λ_•(k) of the residual components at each probed epoch e
    (notes §1.3 in SGD time): ``per_epoch`` the flow time τ_k of training epochs 1..T
    (:func:`epoch_flow_time`), λ_• the eigenvalues (:func:`ncutils.kernels.block.block_spectrum`, C classes of m)
    of the block NTK measured at the last probe before epoch k (``gammas``: one (γ_d, γ_c, γ_n) per probe)."""
    probed = np.asarray(probed, dtype=int)
    tau = as_float64(per_epoch, "per_epoch", ndim=1)
    if probed[0] != 0 or np.any(np.diff(probed) <= 0) or probed[-1] > len(tau):
        raise ValueError(f"probed epochs must start at 0, increase and end by epoch {len(tau)}, got {probed.tolist()}")
    if len(gammas) != len(probed):
        raise ValueError(f"got {len(gammas)} block values for {len(probed)} probes: pass one (d, c, n) per probe")
    spectra = [block_spectrum(C, m, *g) for g in gammas]
    which = np.searchsorted(probed, np.arange(len(tau)), side="right") - 1  # the probe before epoch k = index + 1
    out = {}
    for part in ("global_", "class_", "single"):
        lam = np.array([getattr(spectra[i], part) for i in which])
        out[part.rstrip("_")] = np.concatenate([[0.0], np.cumsum(tau * lam)])[probed]
    return out


def _sorted_balanced(y: Any, N: int) -> tuple[np.ndarray, int, int]:
    labels = labels_of(y, N)
    sizes = np.bincount(labels)
    if sizes.min() != sizes.max():
        raise ValueError(f"the block structure needs equally many samples per class, got class sizes {sizes.tolist()}")
    return np.argsort(labels, kind="stable"), len(sizes), int(sizes[0])


def block_fit(K: Any, y: Any) -> tuple[BlockValues, float]:
    """Best block fit of a kernel (N, N) or per-output stack (O, N, N) with labels ``y``: the block values
    (means of the diagonal, within-class off-diagonal and between-class entries, over all outputs) and the
    relative residual ‖K − P(K)‖_F/‖K‖_F (module docstring)."""
    K = as_float64(K, "K", ndim=(2, 3), what="(N, N) or a stack (O, N, N)")
    stack = K if K.ndim == 3 else K[None]
    N = stack.shape[-1]
    if stack.shape[-2] != N:
        raise ValueError(f"K must be square in its last two axes, got shape {K.shape}")
    labels = labels_of(y, N)
    same = labels[:, None] == labels[None, :]
    eye = np.eye(N, dtype=bool)
    masks = (eye, same & ~eye, ~same)
    if not masks[1].any():
        raise ValueError("every class has one sample: the within-class value is undefined; pass >= 2 per class")
    values = BlockValues(*(float(stack[:, mask].mean()) for mask in masks))
    fit = np.select(masks, values)
    total = np.linalg.norm(stack)
    if total == 0:
        raise ValueError("K is zero: its relative block-fit residual is undefined")
    return values, float(np.linalg.norm(stack - fit) / total)


def output_isotropy(theta_full: Any) -> float:
    """‖Θ_ab (a ≠ b)‖_F / ‖Θ_aa‖_F of a full kernel (N, N, O, O) (module docstring; 0 under the assumption)."""
    T = as_float64(theta_full, "theta_full", ndim=4, what="(N, N, O, O)")
    if T.shape[2] != T.shape[3] or T.shape[2] < 2:
        raise ValueError(f"theta_full must be (N, N, O, O) with O >= 2 outputs, got shape {T.shape}")
    diag = np.einsum("ijaa->ija", T)
    off = np.sqrt(max(np.sum(T**2) - np.sum(diag**2), 0.0))
    return float(off / np.linalg.norm(diag))


def full_block_fit_residual(theta_full: Any, y: Any) -> float:
    """Relative residual of the best fit Γ ⊗ I_O of a full kernel (N, N, O, O): the diagonal output blocks'
    block-fit residual and the cross-output blocks (fitted by 0) together (module docstring)."""
    T = as_float64(theta_full, "theta_full", ndim=4, what="(N, N, O, O)")
    diag = np.einsum("ijaa->aij", T)
    _, rel = block_fit(diag, y)
    total2, diag2 = np.sum(T**2), np.sum(diag**2)
    return float(np.sqrt(rel**2 * diag2 + max(total2 - diag2, 0.0)) / np.sqrt(total2))


def residual_norms(F: Any, y: Any) -> dict[str, float]:
    """‖R_global‖_F, ‖R_class‖_F, ‖R_single‖_F of R = F − Y for outputs ``F`` (N, C) of a balanced set
    (notes §1.3; the split of :func:`ncutils.paper_a.flow.residual_components`)."""
    F = as_float64(F, "F", ndim=2, what="(N samples, C outputs)")
    order, C, m = _sorted_balanced(y, F.shape[0])
    if F.shape[1] != C:
        raise ValueError(f"F has {F.shape[1]} outputs for {C} classes: pass one output per class")
    R = F[order].T - np.kron(np.eye(C), np.ones((1, m)))
    return {k: float(np.linalg.norm(v)) for k, v in residual_components(R, C, m).items()}


def _evaluate(model: torch.nn.Module, x: torch.Tensor, size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Outputs and features (float64) of a model with ``.features`` and ``.classifier`` (its forward: the classifier
    of the features) in eval mode without gradients, ``size`` samples at a time: one pass through the features."""
    model.eval()
    outputs, features = [], []
    with torch.no_grad():
        for i in range(0, len(x), size):
            h = model.features(x[i : i + size])
            features.append(h)
            outputs.append(model.classifier(h))
    return tuple(torch.cat(t).double().cpu().numpy() for t in (outputs, features))


def assumption_record(model: torch.nn.Module, x: torch.Tensor, y: np.ndarray, theta: np.ndarray,
                      theta_h: np.ndarray, x_full: torch.Tensor, y_full: np.ndarray,
                      theta_full: np.ndarray | None = None) -> dict[str, float]:
    """The probe's extra scalars (chapter a08) for a model with ``.features`` and ``.classifier``: on the probe
    batch ``x, y`` with its per-output kernels ``theta`` (C, N, N) and per-feature ``theta_h`` (n, N, N), the
    contrast ratios γ_c/γ_n and κ_c/κ_n (official estimates), block-fit residuals of Θ (diagonal output blocks,
    and full with the cross-output blocks), of Θ^h (diagonal feature blocks), the output isotropy; on the full
    training set ``x_full, y_full`` (eval mode), the residual components and the invariant E with all N samples
    (κ: the batch's official estimate, a sample-independent value under the assumption) beside the batch's
    (m = batch per class). ``theta_full``: the batch's full kernel (N, N, C, C) when the caller has it (the probe
    contracts it from its own factors: :func:`ncutils.kernels.ntk_probe` with ``full=True``), else computed here."""
    gamma, kappa = block_values_official(theta, y), block_values_official(theta_h, y)
    full = empirical_ntk(model, x, outputs="full").double().cpu().numpy() if theta_full is None else theta_full
    F_full, H_full = _evaluate(model, x_full)
    H = _evaluate(model, x)[1]
    W = model.classifier.weight.detach().double().cpu().numpy()
    E_full, E_batch = invariant(W, H_full, y_full, kappa), invariant(W, H, y, kappa)
    res = residual_norms(F_full, y_full)
    return {
        "gamma_ratio": gamma.c / gamma.n, "kappa_ratio": kappa.c / kappa.n,
        "block_residual_ntk": block_fit(theta, y)[1], "block_residual_ntk_full": full_block_fit_residual(full, y),
        "block_residual_feature": block_fit(theta_h, y)[1], "output_isotropy": output_isotropy(full),
        "residual_global": res["global"], "residual_class": res["class"], "residual_single": res["single"],
        "invariant_norm_full": float(np.linalg.norm(E_full)), "invariant_norm_batch": float(np.linalg.norm(E_batch)),
        "invariant_full_vs_batch": float(np.linalg.norm(E_full - E_batch) / np.linalg.norm(E_full)),
        "classifier_gram_norm": float(np.linalg.norm(W.T @ W)),
    }
