"""Rank correlation across runs with a permutation p-value (the claims' test of a monotone trend)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr

from ncutils.core.checks import as_float64, count

__all__ = ["spearman_permutation_p"]

ALTERNATIVES = ("less", "greater")


def spearman_permutation_p(x: Any, y: Any, *, alternative: str = "less", n_permutations: int = 2000,
                           seed: int = 0) -> tuple[float, float]:
    """Spearman's ρ of paired values and its one-sided permutation p-value (add-one estimate).

    ``alternative="less"`` tests a negative trend: p = (1 + #{ρ_perm ≤ ρ}) / (n_permutations + 1) over
    random re-pairings of ``y`` (seeded by ``seed``); ``"greater"`` counts ρ_perm ≥ ρ.
    """
    xs = as_float64(x, "x", ndim=1, what="1-D array of values, one per run")
    ys = as_float64(y, "y", ndim=1, what="1-D array of values, one per run")
    if xs.size != ys.size or xs.size < 3:
        raise ValueError(f"x and y must pair at least 3 runs, got {xs.size} and {ys.size} values: a rank "
                         "correlation needs 3")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative={alternative!r}: use one of {ALTERNATIVES}")
    count(n_permutations, "n_permutations")
    rho = float(spearmanr(xs, ys).statistic)
    rng = np.random.default_rng(seed)
    null = np.array([spearmanr(xs, rng.permutation(ys)).statistic for _ in range(n_permutations)])
    hits = np.sum(null <= rho) if alternative == "less" else np.sum(null >= rho)
    return rho, float((1 + hits) / (n_permutations + 1))
