"""NC1 and label alignment of a kernel, from its Gram matrix alone (float64).

A kernel K is an (N, N) matrix, or a stack (O, N, N) of per-output kernels (summed over O where
noted); labels ``y`` are (N,) of any values and order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ncutils.core.checks import finite_result, labels_of, square_kernel
from ncutils.kernels.block import BlockValues
from ncutils.nc.stats import one_hot


def nc1_from_kernel(K: Any, y: Any, exact: bool = True) -> float:
    """The trace-ratio NC1 of features from their Gram matrix K = HHᵀ alone (paper B, Prop. 1.2).

    ``exact=True``: exact for any class sizes (notes §1.2). ``exact=False``: the official
    paper-B formula, Tr Σ_W = TrK/N − (1/C)Σ_c 1ᵀK_cc1/n_c², Tr Σ_B = (1/C)Σ_c 1ᵀK_cc1/n_c² − 1ᵀK1/N²,
    which is exact only for balanced classes (under imbalance its between-class trace can even be
    negative, and so can the result). Labels may be in any order.
    """
    K = square_kernel(K)
    within, between = kernel_traces(K, y, exact)
    scale = max(1.0, abs(np.trace(K)) / K.shape[0])
    if exact and (within < -1e-10 * scale or between < -1e-10 * scale):
        raise ValueError(f"this kernel gives a negative {'within' if within < 0 else 'between'}-class trace "
                         f"({min(within, between):.3g}): it is not a Gram matrix (positive semi-definite)")
    if abs(between) <= 1e-15 * scale:
        raise ValueError("the between-class trace of this kernel is 0: NC1 is undefined")
    return finite_result(within / between, "nc1_from_kernel")


def kernel_traces(K: Any, y: Any, exact: bool = True) -> tuple[float, float]:
    """(Tr Σ_W, Tr Σ_B) of features from their Gram matrix K = HHᵀ (the two traces of
    :func:`nc1_from_kernel`, same ``exact`` switch; notes §1.2)."""
    K = square_kernel(K)
    if K.ndim != 2:
        raise ValueError("nc1_from_kernel takes a single (N, N) kernel")
    labels = labels_of(y, K.shape[0])
    Z = one_hot(labels)
    sizes = Z.sum(axis=0)
    N, C = K.shape[0], len(sizes)
    S = Z.T @ K @ Z  # S_cc' = 1ᵀ K_{cc'} 1
    total = float(S.sum())
    if exact:
        within = (np.trace(K) - np.sum(np.diag(S) / sizes)) / N
        between = np.sum(np.diag(S) / sizes**2) / C - 2.0 * np.sum(S.sum(axis=1) / sizes) / (C * N) + total / N**2
    else:
        tilde_b = np.sum(np.diag(S) / sizes**2) / C
        within = np.trace(K) / N - tilde_b
        between = tilde_b - total / N**2
    return float(within), float(between)


def _trace_kernel(K: Any) -> np.ndarray:
    K = square_kernel(K)
    return K.sum(axis=0) if K.ndim == 3 else K


def kernel_alignment(K: Any, y: Any) -> float:
    """Uncentred kernel-target alignment ⟨K, YᵀY⟩/(‖K‖‖YᵀY‖); a stack (O, N, N) is summed over O."""
    K = _trace_kernel(K)
    Z = one_hot(labels_of(y, K.shape[0]))
    T = Z @ Z.T
    if not np.abs(K).max() > 0:
        raise ValueError("K is zero: its alignment with the labels is undefined")
    return finite_result(np.sum(K * T) / (np.linalg.norm(K) * np.linalg.norm(T)), "kernel_alignment")


def block_values(K: Any, y: Any) -> BlockValues:
    """(d, c, n): mean diagonal, mean same-class off-diagonal and mean between-class entry (over O too)."""
    K = square_kernel(K)
    labels = labels_of(y, K.shape[-1])
    same = labels[:, None] == labels[None, :]
    diag = np.eye(len(labels), dtype=bool)
    if not (same & ~diag).any():
        raise ValueError("no class has 2 samples: the within-class block value is undefined")
    return BlockValues(float(K[..., diag].mean()), float(K[..., same & ~diag].mean()), float(K[..., ~same].mean()))


def _official_blocks(K: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The official sampling scheme (notes A.3) on a class-sorted balanced batch: diag, within, between."""
    K = square_kernel(K)
    if K.ndim == 2:
        K = K[None]
    labels = labels_of(y, K.shape[-1])
    counts = np.bincount(labels)
    if np.any(np.diff(labels) < 0) or counts.min() != counts.max():
        raise ValueError("the official estimator needs a class-sorted batch with equally many samples per class")
    C, m = len(counts), int(counts[0])
    if m < 2:
        raise ValueError("the official estimator needs at least 2 samples per class")
    k = m // 2
    B = K.reshape(K.shape[0], C, m, C, m)
    cls = np.arange(C)
    diag = B[:, cls, :, cls, :][..., np.arange(m), np.arange(m)]  # (C, O, m)
    within = B[:, cls, :k, cls, k:]  # (C, O, k, m-k)
    pairs = [(a, b) for a in range(C) for b in range(a + 1, C)]
    between = np.stack([B[:, a, :k, b, k:] for a, b in pairs])  # (P, O, k, m-k)
    return diag, within, between, C, k


def block_values_official(K: Any, y: Any) -> BlockValues:
    """Paper A's official estimates of (d, c, n): first half against second half of each class,
    unordered class pairs (notes Appendix A.3); K an (N, N) kernel or (O, N, N) stack."""
    diag, within, between, _, _ = _official_blocks(K, y)
    return BlockValues(float(diag.mean()), float(within.mean()), float(between.mean()))


def kernel_alignment_official(K: Any, y: Any) -> float:
    """The official alignment estimator of the trace kernel (1 − `gamma/kappa_dist_to_Y`, notes A.3)."""
    diag, within, between, C, k = _official_blocks(K, y)
    t_d, t_c, t_n = diag.sum(axis=1), within.sum(axis=1), between.sum(axis=1)
    norm = np.sqrt(k * C * np.mean(t_d**2) + k * (k - 1) * C * np.mean(t_c**2) + k**2 * C * (C - 1) * np.mean(t_n**2))
    if not norm > 0:
        raise ValueError("K is zero on the blocks the official estimator samples: its alignment is undefined")
    return finite_result((k * C * np.mean(t_d) + k * (k - 1) * C * np.mean(t_c)) / (norm * np.sqrt(k**2 * C)),
                         "kernel_alignment_official")
