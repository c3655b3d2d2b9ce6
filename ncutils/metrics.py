"""Neural Collapse metrics, kernel statistics and paper A's invariant, in float64.

Features ``H`` are (N, n) with rows = samples; labels ``y`` are (N,) of any values and order
(classes are taken in sorted order, which is also the order of the rows of a classifier ``W``).
numpy or torch inputs; Python floats or float64 arrays out. Definitions follow the reproduction
notes: paper A §1.4, §1.6, §2.2 and Appendix A; paper B §1.1–1.2.

Where it computes: the reductions over samples (class means, within-class scatter, NC4's
decisions) run where ``H`` lives, in float64: a torch tensor on its device (e.g. CUDA), numpy on
the CPU; only C × n and n × n summaries leave the device. The small algebra that follows
(eigenpairs of Σ_B, norms) and the kernel statistics on (N, N) matrices run in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ncutils._validate import as_float64, features_and_labels, float64_where_it_lives, labels_of, square_kernel

KernelValues = tuple[float, float, float]


# ----------------------------------------------------------------- building blocks
def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(labels.max() + 1)[labels]


@dataclass
class _Moments:
    """Per-sample reductions of features, computed where they live (see the module docstring)."""

    counts: np.ndarray  # (C,) class sizes
    means: np.ndarray  # (C, n) class means
    global_mean: np.ndarray  # (n,) sample-weighted global mean μ_G
    within_sq: float  # Σ_i ‖h_i − μ_{y_i}‖²
    class_sq: np.ndarray  # (C, n) Σ_{i in c} (h_i − μ_c)²
    scatter: np.ndarray | None  # (n, n) Σ_i (h_i − μ_{y_i})(h_i − μ_{y_i})ᵀ, when asked for


def _numpy(x: Any) -> np.ndarray:
    return x.cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _like(H: Any, a: np.ndarray) -> Any:
    """``a`` in the array library and on the device of ``H``."""
    if hasattr(H, "detach"):
        import torch

        return torch.as_tensor(a, device=H.device, dtype=torch.float64 if a.dtype.kind == "f" else None)
    return a


def _moments(H: Any, y: Any, *, min_per_class: int = 1, scatter: bool = False) -> _Moments:
    H, labels, counts = features_and_labels(H, y, min_per_class=min_per_class)
    onehot = _like(H, _one_hot(labels).astype(np.float64))
    means = (onehot.T @ H) / _like(H, counts.astype(np.float64))[:, None]
    dev = H - means[_like(H, labels)]
    return _Moments(counts, _numpy(means), _numpy(H.mean(0)), float((dev**2).sum()), _numpy(onehot.T @ dev**2),
                    _numpy(dev.T @ dev) if scatter else None)


def class_means(H: Any, y: Any) -> np.ndarray:
    """Class means μ_c as rows, (C, n)."""
    return _moments(H, y).means


def _between_eig(centred_means: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of Σ_B = M̃ᵀM̃/C kept at its rank (≤ C−1), from the SVD of M̃."""
    _, s, Vt = np.linalg.svd(centred_means / np.sqrt(C), full_matrices=False)
    lam = s**2
    if lam.size == 0 or lam[0] <= 0:
        raise ValueError("all class means coincide: the between-class covariance is 0 and NC1 is undefined")
    keep = lam > 1e-12 * lam[0]
    keep[C - 1 :] = False
    return lam[keep], Vt[keep]


def _trace_between(centred_means: np.ndarray, C: int) -> float:
    tb = float(np.sum(centred_means**2) / C)
    if tb <= 0:
        raise ValueError("all class means coincide: Tr Σ_B = 0 and NC1 is undefined")
    return tb


# ----------------------------------------------------------------- NC1
def nc1(H: Any, y: Any) -> float:
    """Papyan's NC1 = Tr(Σ_W Σ_B⁺)/C, Σ_B⁺ taken at its rank C−1 (float64, never negative)."""
    m = _moments(H, y, scatter=True)
    C, N = len(m.counts), m.counts.sum()
    lam, V = _between_eig(m.means - m.global_mean, C)
    within_along = np.einsum("ki,ij,kj->k", V, m.scatter, V) / N  # v_kᵀ Σ_W v_k
    return max(0.0, float(np.sum(within_along / lam) / C))


def nc1_trace_ratio(H: Any, y: Any) -> float:
    """Tr Σ_W / Tr Σ_B with Σ_W = (1/N)Σ(h−μ_c)(h−μ_c)ᵀ, Σ_B = (1/C)Σ(μ_c−μ_G)(μ_c−μ_G)ᵀ (paper B)."""
    m = _moments(H, y)
    return m.within_sq / m.counts.sum() / _trace_between(m.means - m.global_mean, len(m.counts))


def nc1_from_kernel(K: Any, y: Any, exact: bool = True) -> float:
    """The trace-ratio NC1 of features from their Gram matrix K = HHᵀ alone (paper B, Prop. 1.2).

    ``exact=True``: exact for any class sizes (notes §1.2). ``exact=False``: the official
    paper-B formula, Tr Σ_W = TrK/N − (1/C)Σ_c 1ᵀK_cc1/n_c², Tr Σ_B = (1/C)Σ_c 1ᵀK_cc1/n_c² − 1ᵀK1/N²,
    which is exact only for balanced classes (under imbalance its between-class trace can even be
    negative, and so can the result). Labels may be in any order.
    """
    K = square_kernel(K)
    if K.ndim != 2:
        raise ValueError("nc1_from_kernel takes a single (N, N) kernel")
    labels = labels_of(y, K.shape[0])
    Z = _one_hot(labels)
    n = Z.sum(axis=0)
    N, C = K.shape[0], len(n)
    S = Z.T @ K @ Z  # S_cc' = 1ᵀ K_{cc'} 1
    total = float(S.sum())
    if exact:
        within = (np.trace(K) - np.sum(np.diag(S) / n)) / N
        between = np.sum(np.diag(S) / n**2) / C - 2.0 * np.sum(S.sum(axis=1) / n) / (C * N) + total / N**2
    else:
        tilde_b = np.sum(np.diag(S) / n**2) / C
        within = np.trace(K) / N - tilde_b
        between = tilde_b - total / N**2
    if abs(between) <= 1e-15 * max(1.0, abs(np.trace(K)) / N):
        raise ValueError("the between-class trace of this kernel is 0: NC1 is undefined")
    return float(within / between)


def nc1_std(H: Any, y: Any) -> float:
    """Official paper-A NC1: mean over classes and features of the within-class std (ddof 0)."""
    m = _moments(H, y, min_per_class=2)
    return float(np.mean(np.sqrt(m.class_sq / m.counts[:, None])))


def nc1_rel(H: Any, y: Any) -> float:
    """Scale-free NC1 of paper A's extras: (‖H_2‖²/N) / (‖M̃‖²/C), M̃ centred by the mean of class means."""
    m = _moments(H, y, min_per_class=2)
    return m.within_sq / m.counts.sum() / _trace_between(m.means - m.means.mean(axis=0), len(m.counts))


# ----------------------------------------------------------------- NC2, NC3, NC4
def _centred_means(H: Any, y: Any) -> np.ndarray:
    means = class_means(H, y)
    centred = means - means.mean(axis=0)
    if np.allclose(centred, 0):
        raise ValueError("all class means coincide: NC2/NC3 are undefined")
    return centred


def nc2(H: Any, y: Any) -> float:
    """Paper A's NC2: ‖G/‖G‖_F − (I − 11ᵀ/C)/√(C−1)‖_F, G = M̃ᵀM̃ (0 for a simplex ETF)."""
    Mt = _centred_means(H, y)
    C = Mt.shape[0]
    G = Mt @ Mt.T
    target = (np.eye(C) - np.ones((C, C)) / C) / np.sqrt(C - 1)
    return float(np.linalg.norm(G / np.linalg.norm(G) - target))


def nc2_equinorm(H: Any, y: Any) -> float:
    """Papyan's equinorm: std_c ‖μ_c − μ_G‖ / mean_c ‖μ_c − μ_G‖."""
    m = _moments(H, y)
    norms = np.linalg.norm(m.means - m.global_mean, axis=1)
    return float(np.std(norms) / np.mean(norms))


def nc2_equiangularity(H: Any, y: Any) -> float:
    """Papyan's equiangularity: mean over c ≠ c' of |cos(μ̃_c, μ̃_c') + 1/(C−1)| (0 for a simplex ETF)."""
    m = _moments(H, y)
    Mt = m.means - m.global_mean
    U = Mt / np.linalg.norm(Mt, axis=1, keepdims=True)
    C = len(m.counts)
    cos = (U @ U.T)[~np.eye(C, dtype=bool)]
    return float(np.mean(np.abs(cos + 1.0 / (C - 1))))


def _classifier(W: Any, C: int, n: int) -> np.ndarray:
    W = as_float64(W, "W")
    if W.shape != (C, n):
        raise ValueError(f"W must be (C, n) = ({C}, {n}), got {W.shape}")
    return W


def nc3(H: Any, y: Any, W: Any) -> float:
    """Paper A's NC3: ‖M̃/‖M̃‖_F − Wᵀ/‖W‖_F‖_F (W not centred, as in the official code)."""
    Mt = _centred_means(H, y)
    W = _classifier(W, *Mt.shape)
    return float(np.linalg.norm(Mt / np.linalg.norm(Mt) - W / np.linalg.norm(W)))


def nc4(H: Any, y: Any, W: Any, b: Any) -> float:
    """Fraction of samples where argmax(Wh + b) differs from the nearest class mean."""
    m = _moments(H, y)
    C, n = m.means.shape
    W = _classifier(W, C, n)
    b = as_float64(b, "b").reshape(-1)
    if b.shape != (C,):
        raise ValueError(f"b must have C = {C} entries, got {b.shape}")
    H = float64_where_it_lives(H, "H")
    return nc4_disagreements(H, m.means, W, b) / H.shape[0]


def nc4_disagreements(H: Any, means: np.ndarray, W: np.ndarray, b: np.ndarray) -> int:
    """Number of rows of H (numpy, or torch on its device) whose argmax(Wh + b) is not the nearest
    class mean (‖h − μ_c‖² compared as −2h·μ_c + ‖μ_c‖²)."""
    net = (H @ _like(H, W).T + _like(H, b)).argmax(1)
    nearest = (-2.0 * H @ _like(H, means).T + _like(H, (means**2).sum(axis=1))).argmin(1)
    return int((net != nearest).sum())


# ----------------------------------------------------------------- kernel statistics
def _trace_kernel(K: Any) -> np.ndarray:
    K = square_kernel(K)
    return K.sum(axis=0) if K.ndim == 3 else K


def kernel_alignment(K: Any, y: Any) -> float:
    """Uncentred kernel-target alignment ⟨K, YᵀY⟩/(‖K‖‖YᵀY‖); a stack (O, N, N) is summed over O."""
    K = _trace_kernel(K)
    Z = _one_hot(labels_of(y, K.shape[0]))
    T = Z @ Z.T
    return float(np.sum(K * T) / (np.linalg.norm(K) * np.linalg.norm(T)))


def block_stats(K: Any, y: Any) -> tuple[float, float, float]:
    """(d, c, n): mean diagonal, mean same-class off-diagonal and mean between-class entry (over O too)."""
    K = square_kernel(K)
    labels = labels_of(y, K.shape[-1])
    same = labels[:, None] == labels[None, :]
    diag = np.eye(len(labels), dtype=bool)
    if not (same & ~diag).any():
        raise ValueError("no class has 2 samples: the within-class block value is undefined")
    return float(K[..., diag].mean()), float(K[..., same & ~diag].mean()), float(K[..., ~same].mean())


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


def block_stats_official(K: Any, y: Any) -> tuple[float, float, float]:
    """Paper A's official estimates of (d, c, n): first half against second half of each class,
    unordered class pairs (notes Appendix A.3); K an (N, N) kernel or (O, N, N) stack."""
    diag, within, between, _, _ = _official_blocks(K, y)
    return float(diag.mean()), float(within.mean()), float(between.mean())


def kernel_alignment_official(K: Any, y: Any) -> float:
    """The official alignment estimator of the trace kernel (1 − `gamma/kappa_dist_to_Y`, notes A.3)."""
    diag, within, between, C, k = _official_blocks(K, y)
    t_d, t_c, t_n = diag.sum(axis=1), within.sum(axis=1), between.sum(axis=1)
    norm = np.sqrt(k * C * np.mean(t_d**2) + k * (k - 1) * C * np.mean(t_c**2) + k**2 * C * (C - 1) * np.mean(t_n**2))
    return float((k * C * np.mean(t_d) + k * (k - 1) * C * np.mean(t_c)) / (norm * np.sqrt(k**2 * C)))


# ----------------------------------------------------------------- the invariant (paper A)
def invariant_alpha(kernel_values: KernelValues, C: int, m: int) -> float:
    """α = κ_n / ((κ_d − κ_c)/m + κ_c + (C−1)κ_n) = mκ_n/μ_global ∈ [0, 1/C) (notes §1.4)."""
    kd, kc, kn = (float(v) for v in kernel_values)
    return kn / ((kd - kc) / m + kc + (C - 1) * kn)


def _invariant_sides(W: Any, H: Any, y: Any, kernel_values: KernelValues) -> tuple[np.ndarray, np.ndarray]:
    mo = _moments(H, y, min_per_class=2, scatter=True)
    counts, means = mo.counts, mo.means
    if counts.min() != counts.max():
        raise ValueError("the invariant's class-mean formula needs equally many samples per class")
    C, m = len(counts), int(counts[0])
    W = _classifier(W, C, means.shape[1])
    kd, kc, kn = (float(v) for v in kernel_values)
    mu_s = kd - kc
    mu_c = mu_s + m * (kc - kn)
    if mu_s <= 0 or mu_c <= 0:
        raise ValueError(f"kernel values {kernel_values} give non-positive eigenvalues μ_single={mu_s}, μ_class={mu_c}")
    alpha = invariant_alpha(kernel_values, C, m)
    h_bar = means.mean(axis=0)
    rhs = m * means.T @ means / mu_c + mo.scatter / mu_s - alpha * C**2 * m * np.outer(h_bar, h_bar) / mu_c
    return W.T @ W, rhs


def invariant(W: Any, H: Any, y: Any, kernel_values: KernelValues) -> np.ndarray:
    """E = WᵀW − H(K^h)⁻¹Hᵀ for a block feature kernel (κ_d, κ_c, κ_n), by the official class-mean
    formula E = WᵀW − (m/μ_class)(MMᵀ − αC²h̄h̄ᵀ) − H_2H_2ᵀ/μ_single (notes §1.4)."""
    lhs, rhs = _invariant_sides(W, H, y, kernel_values)
    return lhs - rhs


def invariant_alignment(W: Any, H: Any, y: Any, kernel_values: KernelValues) -> float:
    """Official `invariant_alignment`: cosine ⟨WᵀW, HK⁻¹Hᵀ⟩_F / (‖·‖_F‖·‖_F)."""
    lhs, rhs = _invariant_sides(W, H, y, kernel_values)
    return float(np.sum(lhs * rhs) / (np.linalg.norm(lhs) * np.linalg.norm(rhs)))


def invariant_norm(W: Any, H: Any, y: Any, kernel_values: KernelValues) -> float:
    """Official `invariant_norm`: ‖E‖_F (raw, not normalised)."""
    return float(np.linalg.norm(invariant(W, H, y, kernel_values)))


def invariant_relative_norm(W: Any, H: Any, y: Any, kernel_values: KernelValues) -> float:
    """‖E‖_F / ‖WᵀW‖_F (extra: the raw norm mostly tracks the classifier's norm)."""
    lhs, rhs = _invariant_sides(W, H, y, kernel_values)
    return float(np.linalg.norm(lhs - rhs) / np.linalg.norm(lhs))
