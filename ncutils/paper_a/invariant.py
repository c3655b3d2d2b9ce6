"""Paper A's invariant E of trained features, by the official class-mean formula (notes §1.4).

Features ``H`` are (N, p) with rows = samples (the measures' convention), ``W`` is (C, p), and
``kappa`` the block values (κ_d, κ_c, κ_n) of the feature kernel on C balanced classes of m samples.
The matrix form E = WᵀW − H(K^h)⁻¹Hᵀ of the gradient flow is :func:`ncutils.paper_a.invariant_matrix`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ncutils.core.checks import count, finite_result, real_scalar
from ncutils.kernels.block import BlockValues
from ncutils.nc import classifier, stats_of


def _kappa(kappa: BlockValues) -> tuple[float, float, float]:
    if not isinstance(kappa, (tuple, list, np.ndarray)) or len(kappa) != 3:
        raise ValueError(f"kappa must be the three block values (κ_d, κ_c, κ_n), got {kappa!r}")
    return tuple(real_scalar(v, f"kappa_{part}") for v, part in zip(kappa, "dcn"))


def invariant_alpha(kappa: BlockValues, C: int, m: int) -> float:
    """α = κ_n / ((κ_d − κ_c)/m + κ_c + (C−1)κ_n) = mκ_n/μ_global ∈ [0, 1/C) (notes §1.4)."""
    kd, kc, kn = _kappa(kappa)
    C, m = count(C, "C", minimum=2), count(m, "m", minimum=1)
    return finite_result(kn / ((kd - kc) / m + kc + (C - 1) * kn), "invariant_alpha")


def _invariant_sides(W: Any, H: Any, y: Any, kappa: BlockValues) -> tuple[np.ndarray, np.ndarray]:
    s = stats_of(H, y, scatter=True, min_per_class=2)
    if s.counts.min() != s.counts.max():
        raise ValueError("the invariant's class-mean formula needs equally many samples per class")
    C, m = s.n_classes, int(s.counts[0])
    W = classifier(W, C, s.n_features)
    kd, kc, kn = _kappa(kappa)
    mu_s = kd - kc
    mu_c = mu_s + m * (kc - kn)
    if mu_s <= 0 or mu_c <= 0:
        raise ValueError(f"kernel values {tuple(kappa)} give non-positive eigenvalues μ_single={mu_s}, μ_class={mu_c}")
    alpha = invariant_alpha(kappa, C, m)
    h_bar = s.means.mean(axis=0)
    rhs = m * s.means.T @ s.means / mu_c + s.scatter / mu_s - alpha * C**2 * m * np.outer(h_bar, h_bar) / mu_c
    return W.T @ W, rhs


def invariant(W: Any, H: Any, y: Any, kappa: BlockValues) -> np.ndarray:
    """E = WᵀW − H(K^h)⁻¹Hᵀ for a block feature kernel κ, by the official class-mean formula
    E = WᵀW − (m/μ_class)(MMᵀ − αC²h̄h̄ᵀ) − H_2H_2ᵀ/μ_single (notes §1.4)."""
    lhs, rhs = _invariant_sides(W, H, y, kappa)
    return lhs - rhs


def invariant_alignment(W: Any, H: Any, y: Any, kappa: BlockValues) -> float:
    """Official `invariant_alignment`: cosine ⟨WᵀW, HK⁻¹Hᵀ⟩_F / (‖·‖_F‖·‖_F)."""
    lhs, rhs = _invariant_sides(W, H, y, kappa)
    return finite_result(np.sum(lhs * rhs) / (np.linalg.norm(lhs) * np.linalg.norm(rhs)), "invariant_alignment")


def invariant_norm(W: Any, H: Any, y: Any, kappa: BlockValues) -> float:
    """Official `invariant_norm`: ‖E‖_F (raw, not normalised)."""
    return finite_result(np.linalg.norm(invariant(W, H, y, kappa)), "invariant_norm")


def invariant_relative_norm(W: Any, H: Any, y: Any, kappa: BlockValues) -> float:
    """‖E‖_F / ‖WᵀW‖_F (extra: the raw norm mostly tracks the classifier's norm)."""
    lhs, rhs = _invariant_sides(W, H, y, kappa)
    return finite_result(np.linalg.norm(lhs - rhs) / np.linalg.norm(lhs), "invariant_relative_norm")


def declared_feature_kernels(theta_h: Any, declared: int) -> np.ndarray:
    """The feature kernels the official code averages when it declares ``declared`` features but the network
    has n = len(theta_h) (notes B3: its DenseNet40 on CIFAR-10 declares 184 and has 132). Inside ``jit`` a
    feature index j ≥ n is clamped to n − 1, so the stack holds kernels 0 … n−2 once and kernel n−1
    ``declared − n + 1`` times: its block values κ (and, through κ, the invariant) over-weight the last feature.
    ``theta_h``: the (n, N, N) per-feature kernels; returns the (declared, N, N) stack."""
    theta_h = np.asarray(theta_h)
    if theta_h.ndim != 3:
        raise ValueError(f"theta_h must be the (n, N, N) per-feature kernels, got shape {theta_h.shape}")
    n = theta_h.shape[0]
    declared = count(declared, "declared", minimum=n)
    return theta_h[np.minimum(np.arange(declared), n - 1)]
