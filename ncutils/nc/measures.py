"""Neural Collapse measures, each a function of the class statistics (float64).

Every measure takes either features ``H`` (N, p) with labels ``y``, or a :class:`ClassStats`
already computed (then ``y`` is omitted, e.g. ``nc3(stats, W=W)``), so in-memory and streaming
metrics share one implementation. Definitions follow the reproduction notes: paper A §1.4, §2.2
and Appendix A; paper B §1.1–1.2. The small algebra (eigenpairs of Σ_B, norms) runs in numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ncutils.core.checks import as_float64, features, finite_result
from ncutils.nc.stats import ClassStats, class_stats, like


def stats_of(H: Any, y: Any = None, *, scatter: bool = False, min_per_class: int = 1) -> ClassStats:
    """``H`` if it is a :class:`ClassStats` (checked), else the class statistics of features ``H`` and labels ``y``."""
    if isinstance(H, ClassStats):
        if y is not None:
            raise TypeError("pass labels y with features H, not with ClassStats")
        return H.require(min_per_class=min_per_class, scatter=scatter)
    if y is None:
        raise TypeError("labels y are needed with features H (or pass a ClassStats)")
    return class_stats(H, y, scatter=scatter).require(min_per_class=min_per_class, scatter=scatter)


def class_means(H: Any, y: Any = None) -> np.ndarray:
    """Class means μ_c as rows, (C, p)."""
    return stats_of(H, y).means


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
def nc1(H: Any, y: Any = None) -> float:
    """Papyan's NC1 = Tr(Σ_W Σ_B⁺)/C, Σ_B⁺ taken at its rank C−1 (float64, never negative)."""
    s = stats_of(H, y, scatter=True)
    lam, V = _between_eig(s.means - s.global_mean, s.n_classes)
    within_along = np.einsum("ki,ij,kj->k", V, s.scatter, V) / s.n_samples  # v_kᵀ Σ_W v_k
    return max(0.0, finite_result(np.sum(within_along / lam) / s.n_classes, "nc1"))  # ≥ 0 up to round-off


def nc1_trace_ratio(H: Any, y: Any = None) -> float:
    """Tr Σ_W / Tr Σ_B with Σ_W = (1/N)Σ(h−μ_c)(h−μ_c)ᵀ, Σ_B = (1/C)Σ(μ_c−μ_G)(μ_c−μ_G)ᵀ (paper B)."""
    s = stats_of(H, y)
    return finite_result(s.within_sq / s.n_samples / _trace_between(s.means - s.global_mean, s.n_classes), "nc1_trace_ratio")


def nc1_std(H: Any, y: Any = None) -> float:
    """Official paper-A NC1: mean over classes and features of the within-class std (ddof 0)."""
    s = stats_of(H, y, min_per_class=2)
    return finite_result(np.mean(np.sqrt(s.class_sq / s.counts[:, None])), "nc1_std")


def nc1_rel(H: Any, y: Any = None) -> float:
    """Scale-free NC1 of paper A's extras: (‖H_2‖²/N) / (‖M̃‖²/C), M̃ centred by the mean of class means."""
    s = stats_of(H, y, min_per_class=2)
    return finite_result(s.within_sq / s.n_samples / _trace_between(s.means - s.means.mean(axis=0), s.n_classes), "nc1_rel")


# ----------------------------------------------------------------- NC2, NC3, NC4
def _centred_means(s: ClassStats, centre: np.ndarray | None = None) -> np.ndarray:
    """Class means centred by ``centre`` (default: the mean of the class means); an error if they all coincide."""
    centred = s.means - (s.means.mean(axis=0) if centre is None else centre)
    if np.allclose(centred, 0, atol=1e-12 * max(1.0, np.abs(s.means).max())):
        raise ValueError("all class means coincide: NC2/NC3 are undefined")
    return centred


def nc2(H: Any, y: Any = None) -> float:
    """Paper A's NC2: ‖G/‖G‖_F − (I − 11ᵀ/C)/√(C−1)‖_F, G = M̃ᵀM̃ (0 for a simplex ETF)."""
    Mt = _centred_means(stats_of(H, y))
    C = Mt.shape[0]
    G = Mt @ Mt.T
    target = (np.eye(C) - np.ones((C, C)) / C) / np.sqrt(C - 1)
    return finite_result(np.linalg.norm(G / np.linalg.norm(G) - target), "nc2")


def nc2_equinorm(H: Any, y: Any = None) -> float:
    """Papyan's equinorm: std_c ‖μ_c − μ_G‖ / mean_c ‖μ_c − μ_G‖."""
    s = stats_of(H, y)
    norms = np.linalg.norm(_centred_means(s, s.global_mean), axis=1)
    return finite_result(np.std(norms) / np.mean(norms), "nc2_equinorm")


def nc2_equiangularity(H: Any, y: Any = None) -> float:
    """Papyan's equiangularity: mean over c ≠ c' of |cos(μ̃_c, μ̃_c') + 1/(C−1)| (0 for a simplex ETF)."""
    s = stats_of(H, y)
    Mt = _centred_means(s, s.global_mean)
    norms = np.linalg.norm(Mt, axis=1, keepdims=True)
    if norms.min() <= 1e-12 * norms.max():
        raise ValueError("a class mean equals the global mean: its angle, hence nc2_equiangularity, is undefined")
    U = Mt / norms
    C = s.n_classes
    cos = (U @ U.T)[~np.eye(C, dtype=bool)]
    return finite_result(np.mean(np.abs(cos + 1.0 / (C - 1))), "nc2_equiangularity")


def classifier(W: Any, n_classes: int, n_features: int) -> np.ndarray:
    """Check a last-layer weight matrix W of shape (C, p); float64 numpy."""
    W = as_float64(W, "W", ndim=2, what=f"(C, p) = ({n_classes}, {n_features})")
    if W.shape != (n_classes, n_features):
        raise ValueError(f"W must be (C, p) = ({n_classes}, {n_features}), got {W.shape}")
    if not np.abs(W).max() > 0:
        raise ValueError("W is zero: the classifier has no direction, so NC3 (and the invariant's alignment) is undefined")
    return W


def bias(b: Any, n_classes: int) -> np.ndarray:
    """Check a last-layer bias b of C entries; float64 numpy."""
    if b is None:
        raise TypeError("b is None: pass the classifier's bias (zeros if it has none)")
    b = as_float64(b, "b").reshape(-1)
    if b.shape != (n_classes,):
        raise ValueError(f"b must have C = {n_classes} entries, got {b.shape}")
    return b


def nc3(H: Any, y: Any = None, W: Any = None) -> float:
    """Paper A's NC3: ‖M̃/‖M̃‖_F − Wᵀ/‖W‖_F‖_F (W not centred, as in the official code)."""
    if W is None:
        raise TypeError("nc3 needs the classifier W")
    Mt = _centred_means(stats_of(H, y))
    W = classifier(W, *Mt.shape)
    return finite_result(np.linalg.norm(Mt / np.linalg.norm(Mt) - W / np.linalg.norm(W)), "nc3")


def nc4(H: Any, y: Any, W: Any, b: Any) -> float:
    """Fraction of samples where argmax(Wh + b) differs from the nearest class mean (needs the samples)."""
    s = stats_of(H, y)
    W, b = classifier(W, s.n_classes, s.n_features), bias(b, s.n_classes)
    H = features(H)
    return nc4_disagreements(H, s.means, W, b) / H.shape[0]


def nc4_disagreements(H: Any, means: np.ndarray, W: np.ndarray, b: np.ndarray) -> int:
    """Number of rows of H (numpy, or torch on its device) whose argmax(Wh + b) is not the nearest
    class mean (‖h − μ_c‖² compared as −2h·μ_c + ‖μ_c‖²)."""
    net = (H @ like(H, W).T + like(H, b)).argmax(1)
    nearest = (-2.0 * H @ like(H, means).T + like(H, (means**2).sum(axis=1))).argmin(1)
    return int((net != nearest).sum())


def nc_metrics(stats: ClassStats, W: Any = None) -> dict[str, float]:
    """nc1, nc1_trace_ratio, nc1_std, nc1_rel and nc2 of ``stats`` (with the scatter), and nc3 with ``W``."""
    out = {"nc1": nc1(stats), "nc1_trace_ratio": nc1_trace_ratio(stats), "nc1_std": nc1_std(stats),
           "nc1_rel": nc1_rel(stats), "nc2": nc2(stats)}
    if W is not None:
        out["nc3"] = nc3(stats, W=W)
    return out
