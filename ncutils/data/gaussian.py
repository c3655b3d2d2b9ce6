"""The Gaussian mixtures of paper B (notes §1.5): class-sorted, seeded, balanced or imbalanced."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ncutils.core.checks import count, real_scalar

FOUR_CLASS_MEANS: tuple[float, ...] = (-6.0, -2.0, 2.0, 6.0)  # the official `GaussiandD4NL` (notes §1.5)


class Mixture(NamedTuple):
    """Inputs X (N, d0) float64, class labels y (N,) and regression targets (N,)."""

    X: np.ndarray
    y: np.ndarray
    targets: np.ndarray


def paper_seed(rep: int, d0: int, N: int) -> int:
    """The seed convention of the book's paper-B grids: 10000·rep + 10·d0 + N."""
    return 10000 * rep + 10 * d0 + N


def gaussian_mixture(class_sizes: Sequence[int], d0: int, mu: float = 2.0, s: float = 0.5,
                     seed: int = 0, means: Sequence[float] | None = None) -> Mixture:
    """Class c ~ N(m_c·1_{d0}, s² I); by default two classes with means ∓μ and targets ∓1.

    ``means`` gives per-class mean levels for more classes (e.g. the 4-class variant
    (−6, −2, 2, 6) with targets equal to means/2, as in the official `GaussiandD4NL`).
    Samples are sorted by class.
    """
    sizes = [int(n) for n in class_sizes]
    levels = np.array([-mu, mu] if means is None else means, dtype=np.float64)
    if len(sizes) != len(levels):
        raise ValueError(f"{len(sizes)} class sizes for {len(levels)} class means: give one size per class")
    if min(sizes) < 1 or d0 < 1 or s <= 0:
        raise ValueError(f"need class sizes >= 1, d0 >= 1 and s > 0; got {sizes}, d0={d0}, s={s}")
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    X = levels[y][:, None] + s * rng.standard_normal((len(y), d0))
    targets = np.array([-1.0, 1.0])[y] if means is None else levels[y] / 2.0
    return Mixture(X, y, targets)



def four_class_mixture(N: int, d0: int, s: float = 0.5, seed: int = 0) -> Mixture:
    """The official 4-class mixture `GaussiandD4NL` (notes §1.5), balanced: N/4 samples per class.

    Class c ~ N(m_c·1_{d0}, s² I) with m = (−6, −2, 2, 6), scalar regression targets m_c/2 ∈ {−3, −1, 1, 3}.
    """
    N, d0 = count(N, "N", minimum=4), count(d0, "d0")
    if N % 4:
        raise ValueError(f"N = {N} is not a multiple of 4: the 4-class mixture is balanced, pass N = 4·(samples per class)")
    return gaussian_mixture([N // 4] * 4, d0, s=real_scalar(s, "s", positive=True), seed=seed, means=FOUR_CLASS_MEANS)
