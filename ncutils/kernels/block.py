"""Block-structured kernels of paper A (Assumption 1.1) and their eigendecomposition (Table 1)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ncutils.core.checks import count, real_scalar


class BlockValues(NamedTuple):
    """The three values of a block-structured kernel (paper A, Assumption 1.1): the diagonal ``d``,
    between two samples of the same class ``c``, between samples of different classes ``n``
    (γ_d, γ_c, γ_n for the NTK, κ_d, κ_c, κ_n for the feature kernel)."""

    d: float
    c: float
    n: float


class BlockSpectrum(NamedTuple):
    """The three eigenvalues of a block kernel (paper A, Table 1) and their multiplicities."""

    global_: float
    class_: float
    single: float
    mult_global: int
    mult_class: int
    mult_single: int

    def sorted_values(self) -> np.ndarray:
        """All N eigenvalues in ascending order (as ``numpy.linalg.eigvalsh`` returns them)."""
        vals = np.concatenate(
            [
                np.full(self.mult_single, self.single),
                np.full(self.mult_class, self.class_),
                np.full(self.mult_global, self.global_),
            ]
        )
        return np.sort(vals)


def _check(C: int, m: int, d: float, c: float, n: float) -> tuple[float, float, float]:
    """Check the sizes (integers, C >= 2 classes, m >= 2 samples each) and the finite block values."""
    count(C, "C (classes)", minimum=2)
    count(m, "m (samples per class)", minimum=2)
    return real_scalar(d, "d"), real_scalar(c, "c"), real_scalar(n, "n")


def block_kernel(C: int, m: int, d: float, c: float, n: float) -> np.ndarray:
    """The (Cm, Cm) scalar block kernel, classes contiguous (paper A, Assumption 1.1).

    K = (d - c) I_N + (c - n) (I_C ⊗ 1_m 1_mᵀ) + n 1_N 1_Nᵀ: diagonal ``d``, within-class
    off-diagonal ``c``, between-class ``n``. Float64.
    """
    d, c, n = _check(C, m, d, c, n)
    N = C * m
    K = np.full((N, N), n)
    K += np.kron(np.eye(C), np.full((m, m), c - n))
    K[np.diag_indices(N)] = d
    return K


def block_spectrum(C: int, m: int, d: float, c: float, n: float) -> BlockSpectrum:
    """Closed-form eigenvalues of :func:`block_kernel` (paper A, Table 1).

    λ_single = d − c (multiplicity C(m−1)), λ_class = λ_single + m(c − n) (C−1),
    λ_global = λ_class + N n (1).
    """
    d, c, n = _check(C, m, d, c, n)
    single = d - c
    class_ = single + m * (c - n)
    global_ = class_ + C * m * n
    return BlockSpectrum(global_, class_, single, 1, C - 1, C * (m - 1))


def within_class_basis(m: int) -> np.ndarray:
    """The official orthonormal basis B_m ∈ ℝ^{m×(m−1)} of zero-sum vectors (paper A, §1.2).

    Column i is [s+1, 1 (i times), 1 − s(s+1), 1 (m−i−2 times)] / (s(s+1)) with s = √m;
    the columns are orthonormal and each sums to zero. Q_2 = I_C ⊗ B_m.
    """
    count(m, "m (samples per class)", minimum=2)
    s = np.sqrt(m)
    B = np.ones((m, m - 1))
    B[0, :] = s + 1.0
    B[np.arange(1, m), np.arange(m - 1)] = 1.0 - s * (s + 1.0)
    return B / (s * (s + 1.0))
