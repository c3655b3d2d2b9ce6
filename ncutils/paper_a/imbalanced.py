"""Block kernels with unequal class sizes m_1, …, m_C (an extension of paper A, issue 16).

With classes contiguous and sizes m_c (N = Σ m_c), the scalar block kernel with values (d, c, n) is

    K = (d − c) I_N + (c − n) blockdiag(1_{m_c} 1_{m_c}ᵀ) + n 1_N 1_Nᵀ.

Its spectrum (our derivation, chapter e01):

- every within-class zero-sum vector is an eigenvector with λ_single = d − c (multiplicity N − C);
- on the class-indicator space, in the orthonormal basis u_c = 1_{class c}/√m_c, K acts as the
  symmetric C×C matrix S = diag(a) + n s sᵀ with a_c = d − c + m_c (c − n) and s_c = √m_c
  (in the unnormalised indicator basis the matrix is diag(a) + n 1 mᵀ, not symmetric);
- a diagonal-plus-rank-one S has, for each value a shared by k classes, the eigenvalue a with
  multiplicity k − 1 (indicator combinations with Σ m_c z_c = 0 inside the group), and one root
  per distinct value of the secular equation 1 + n Σ_g w_g / (a_g − λ) = 0, w_g = Σ_{c in group g} m_c,
  with eigenvector constant on each class, equal to 1/(λ − a_c) there.

Equal sizes give paper A's Table 1 (λ_class = a with multiplicity C − 1, λ_global = a + nN).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.optimize import brentq

from ncutils.core.checks import count, features_and_labels, finite_result, real_scalar
from ncutils.kernels.block import BlockValues


def _sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Check the class sizes: at least 2 classes, each a positive integer."""
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"need class sizes of at least 2 classes, got {sizes}")
    return tuple(count(s, f"class size m_{i + 1}", minimum=1) for i, s in enumerate(sizes))


def _values(d: float, c: float, n: float) -> tuple[float, float, float]:
    return real_scalar(d, "d"), real_scalar(c, "c"), real_scalar(n, "n")


def sized_block_kernel(sizes: Sequence[int], d: float, c: float, n: float) -> np.ndarray:
    """The dense (N, N) block kernel with class sizes ``sizes`` (classes contiguous), float64."""
    sizes = _sizes(sizes)
    d, c, n = _values(d, c, n)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    K = np.where(labels[:, None] == labels[None, :], c, n).astype(np.float64)
    K[np.diag_indices(len(labels))] = d
    return K


def class_subspace_matrix(sizes: Sequence[int], d: float, c: float, n: float) -> np.ndarray:
    """S = diag(a) + n s sᵀ, a_c = d − c + m_c(c − n), s_c = √m_c: K on the orthonormal indicators."""
    sizes = _sizes(sizes)
    d, c, n = _values(d, c, n)
    m = np.asarray(sizes, dtype=np.float64)
    s = np.sqrt(m)
    return np.diag(d - c + m * (c - n)) + n * np.outer(s, s)


def _groups(sizes: tuple[int, ...], d: float, c: float, n: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct diagonal values a_g (ascending), the number of classes sharing each, their total size w_g."""
    m = np.asarray(sizes, dtype=np.float64)
    a = d - c + m * (c - n)
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    return values, counts, np.bincount(inverse, weights=m)


def secular_roots(sizes: Sequence[int], d: float, c: float, n: float) -> np.ndarray:
    """The roots of 1 + n Σ_g w_g/(a_g − λ) = 0, one per distinct a_g, ascending (n = 0: the a_g).

    For n > 0 one root lies in each gap (a_g, a_{g+1}) and one in (a_max, a_max + nN]; for n < 0
    one in [a_min + nN, a_min) and one in each gap. Found by Brent's method to machine precision.
    """
    sizes = _sizes(sizes)
    d, c, n = _values(d, c, n)
    a, _, w = _groups(sizes, d, c, n)
    if n == 0.0:
        return a.copy()
    N = float(sum(sizes))
    gap = 1e-12 * max(1.0, float(np.abs(a).max()), abs(n) * N)  # keep off the poles a_g
    inner = [(lo + gap, hi - gap) for lo, hi in zip(a[:-1], a[1:])]
    reach = n * N + np.sign(n) * gap  # f(a_max + nN) >= 0 (= 0 for one group): step past it
    outer = [(a[-1] + gap, a[-1] + reach)] if n > 0 else [(a[0] + reach, a[0] - gap)]
    brackets = inner + outer if n > 0 else outer + inner

    def f(lam: float) -> float:
        return 1.0 + n * float(np.sum(w / (a - lam)))

    roots = []
    for left, right in brackets:
        if f(left) * f(right) > 0:
            raise RuntimeError(f"secular equation: no sign change on ({left}, {right}); sizes {sizes}, values {(d, c, n)}")
        roots.append(brentq(f, left, right, xtol=1e-15 * max(1.0, abs(right)), rtol=4 * np.finfo(float).eps))
    return np.array(roots)


def sized_block_spectrum(sizes: Sequence[int], d: float, c: float, n: float) -> np.ndarray:
    """All N eigenvalues of :func:`sized_block_kernel`, ascending, in closed form (module docstring).

    λ_single = d − c (N − C times), each shared a_g (count_g − 1 times), the secular roots.
    """
    sizes = _sizes(sizes)
    d, c, n = _values(d, c, n)
    a, counts, _ = _groups(sizes, d, c, n)
    parts = [np.full(sum(sizes) - len(sizes), d - c), np.repeat(a, counts - 1), secular_roots(sizes, d, c, n)]
    return np.sort(np.concatenate(parts))


def class_eigenvector(sizes: Sequence[int], d: float, c: float, n: float, lam: float) -> np.ndarray:
    """The unit eigenvector of a secular root ``lam``: constant 1/(λ − a_c) on class c (needs λ ≠ every a_c)."""
    sizes = _sizes(sizes)
    d, c, n = _values(d, c, n)
    a = d - c + np.asarray(sizes, dtype=np.float64) * (c - n)
    if np.any(a == lam):
        raise ValueError(f"λ = {lam} equals a diagonal value a_c: not a secular root (use the group's eigenvectors)")
    v = np.repeat(1.0 / (lam - a), sizes)
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class SizedBlockOperator:
    """The block kernel with values (d, c, n) and class sizes m_1..m_C, applied through its spectrum.

    X f(K) = f(d − c) (X − X P_1) + (X U) Q f(Λ) Qᵀ Uᵀ with U the orthonormal indicators and S = QΛQᵀ;
    O(N) per row, no N×N matrix. Same interface as :class:`ncutils.paper_a.flow.BlockOperator`
    (``m`` is the tuple of sizes).
    """

    m: tuple[int, ...]
    values: BlockValues

    def __post_init__(self) -> None:
        object.__setattr__(self, "m", _sizes(self.m))
        object.__setattr__(self, "values", BlockValues(*_values(*self.values)))

    @property
    def C(self) -> int:
        return len(self.m)

    @property
    def N(self) -> int:
        return sum(self.m)

    def _indicator_coords(self, X: np.ndarray) -> np.ndarray:
        """X U: class sums divided by √m_c (rows × C)."""
        ends = np.cumsum(self.m)
        sums = np.add.reduceat(X, ends - np.asarray(self.m), axis=1)
        return sums / np.sqrt(np.asarray(self.m, dtype=np.float64))

    @cached_property
    def _class_eigh(self) -> tuple[np.ndarray, np.ndarray]:
        return np.linalg.eigh(class_subspace_matrix(self.m, *self.values))

    def apply_function(self, X: np.ndarray, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """X f(K) for a function f of the eigenvalues (K symmetric)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.N:
            raise ValueError(f"expected a (rows, N={self.N}) array with samples as columns, got shape {X.shape}")
        lam, Q = self._class_eigh
        Z = self._indicator_coords(X)
        inv_sqrt = np.repeat(1.0 / np.sqrt(np.asarray(self.m, dtype=np.float64)), self.m)
        within = X - np.repeat(Z, self.m, axis=1) * inv_sqrt
        single = self.values.d - self.values.c
        return f(np.array(single)) * within + np.repeat((Z @ Q) * f(lam) @ Q.T, self.m, axis=1) * inv_sqrt

    def eigenvalues(self) -> np.ndarray:
        """The distinct spectrum used by the operator: d − c and the eigenvalues of S."""
        return np.concatenate([[self.values.d - self.values.c], self._class_eigh[0]])

    def apply(self, X: np.ndarray) -> np.ndarray:
        """X K."""
        return self.apply_function(X, lambda lam: lam)

    def apply_inverse(self, X: np.ndarray) -> np.ndarray:
        """X K⁻¹ (needs every eigenvalue > 0)."""
        if self.eigenvalues().min() <= 0:
            raise ValueError(f"kernel {self.values} with sizes {self.m} is not positive definite: "
                             f"eigenvalues {np.sort(self.eigenvalues())}")
        return self.apply_function(X, lambda lam: 1.0 / lam)

    def apply_sqrt(self, X: np.ndarray) -> np.ndarray:
        """X K^{1/2} (needs every eigenvalue ≥ 0)."""
        if self.eigenvalues().min() < 0:
            raise ValueError(f"kernel {self.values} with sizes {self.m} has a negative eigenvalue: no square root")
        return self.apply_function(X, np.sqrt)


def _sized_invariant_sides(W: np.ndarray, H: np.ndarray, y: np.ndarray, kappa: Sequence[float]
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(WᵀW, H K⁻¹ Hᵀ) of :func:`sized_invariant`, the kernel's inverse through its class-subspace matrix S."""
    H, classes, y_idx, counts = features_and_labels(H, y)
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape != (len(classes), H.shape[1]):
        raise ValueError(f"W must be (C, p) = ({len(classes)}, {H.shape[1]}) (one row per class), got shape {W.shape}")
    sizes = _sizes(int(k) for k in counts)
    kd, kc, kn = _values(*kappa)
    S = class_subspace_matrix(sizes, kd, kc, kn)
    if kd - kc <= 0 or np.linalg.eigvalsh(S).min() <= 0:
        raise ValueError(f"kernel values {(kd, kc, kn)} with class sizes {sizes} are not positive definite "
                         f"(d − c = {kd - kc:.4g}, eigenvalues of S {np.linalg.eigvalsh(S)}): K has no inverse")
    means = np.stack([H[y_idx == k].mean(axis=0) for k in range(len(classes))])
    within = H - means[y_idx]
    s = np.sqrt(np.asarray(sizes, dtype=np.float64))
    weights = np.outer(s, s) * np.linalg.inv(S)
    return W.T @ W, within.T @ within / (kd - kc) + means.T @ weights @ means


def sized_invariant(W: np.ndarray, H: np.ndarray, y: np.ndarray, kappa: Sequence[float]) -> np.ndarray:
    """E = WᵀW − H K⁻¹ Hᵀ from class means, for any class sizes (features as rows, H ∈ ℝ^{N×p}).

    With K⁻¹ = P_s/(κ_d − κ_c) + U S⁻¹ Uᵀ and Hᵀ U = [√m_c μ_c]:
    E = WᵀW − Σ_i (h_i − μ_{y_i})(h_i − μ_{y_i})ᵀ/(κ_d − κ_c) − Σ_{c,c'} √(m_c m_c') (S⁻¹)_{cc'} μ_c μ_{c'}ᵀ.
    The class weighting of the second term is √(m_c m_c')(S⁻¹)_{cc'}; equal sizes give the official formula.
    """
    lhs, rhs = _sized_invariant_sides(W, H, y, kappa)
    return lhs - rhs


def sized_invariant_alignment(W: np.ndarray, H: np.ndarray, y: np.ndarray, kappa: Sequence[float]) -> float:
    """The invariant alignment ⟨WᵀW, HK⁻¹Hᵀ⟩_F / (‖WᵀW‖_F ‖HK⁻¹Hᵀ‖_F) for any class sizes, K the block kernel
    with values ``kappa`` on the classes of ``y`` (:func:`sized_invariant`; equal sizes: the official
    `invariant_alignment`, :func:`ncutils.paper_a.invariant.invariant_alignment`)."""
    lhs, rhs = _sized_invariant_sides(W, H, y, kappa)
    return finite_result(np.sum(lhs * rhs) / (np.linalg.norm(lhs) * np.linalg.norm(rhs)), "sized_invariant_alignment")


def collapsed_mean_gram(sizes: Sequence[int], kappa: Sequence[float], b: np.ndarray) -> np.ndarray:
    """The class-mean Gram MᵀM at a collapsed zero-loss point with E = 0, given the bias b (our derivation).

    With H = M 1_cᵀ per class (NC1), WH + b1ᵀ = Y gives WM = I − b1ᵀ, and E = 0 gives
    WᵀW = H K⁻¹ Hᵀ = A S⁻¹ Aᵀ with A = MD, D = diag(√m_c). Hence G = AᵀA solves
    G S⁻¹ G = T := D(I − 1bᵀ)(I − b1ᵀ)D, so G = S^{1/2}(S^{−1/2} T S^{−1/2})^{1/2} S^{1/2} and
    MᵀM = D⁻¹ G D⁻¹. Equal sizes and b = 1/C give √(μ_class/m)(I − 11ᵀ/C) (chapter a04).
    """
    sizes = _sizes(sizes)
    b = np.asarray(b, dtype=np.float64)
    if b.shape != (len(sizes),):
        raise ValueError(f"b must have one entry per class ({len(sizes)}), got shape {b.shape}")
    lam, Q = np.linalg.eigh(class_subspace_matrix(sizes, *kappa))
    if lam.min() <= 0:
        raise ValueError(f"kernel {tuple(kappa)} with sizes {sizes} is not positive definite: eigenvalues {lam}")
    half, inv_half = (Q * np.sqrt(lam)) @ Q.T, (Q / np.sqrt(lam)) @ Q.T
    D = np.diag(np.sqrt(np.asarray(sizes, dtype=np.float64)))
    B = (np.eye(len(sizes)) - np.outer(b, np.ones(len(sizes)))) @ D
    mu, V = np.linalg.eigh(inv_half @ B.T @ B @ inv_half)
    G = half @ ((V * np.sqrt(np.clip(mu, 0.0, None))) @ V.T) @ half
    D_inv = np.diag(1.0 / np.diag(D))
    return D_inv @ G @ D_inv
