"""Rank statistics for claims over a table of runs: Spearman's ρ with a permutation p-value (optionally
within strata, i.e. controlling for a factor such as the learning rate) and a bootstrap interval.

All are seeded (same inputs, same numbers) and threshold-free: a claim compares a p-value with its
level or an interval's end with 0, not a statistic with a pilot's number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata, spearmanr

__all__ = ["spearman", "spearman_bootstrap_interval", "spearman_permutation_p", "stratified_spearman"]


def _arrays(x: Sequence[float], y: Sequence[float], strata: Sequence | None = None) -> tuple[np.ndarray, ...]:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of the same length, got shapes {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"a rank correlation needs at least 3 runs, got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (drop the runs that diverged first)")
    s = np.zeros(len(x), int) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    if len(s) != len(x):
        raise ValueError(f"strata has {len(s)} entries for {len(x)} runs")
    return x, y, s


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ of x and y (ties get average ranks)."""
    x, y, _ = _arrays(x, y)
    return float(spearmanr(x, y).statistic)


def stratified_spearman(x: Sequence[float], y: Sequence[float], strata: Sequence) -> float:
    """Spearman's ρ within each stratum, averaged with weights = stratum sizes (strata of < 3 runs, or with a
    constant x or y, are skipped): the association of x and y at a fixed value of the strata's factor."""
    x, y, s = _arrays(x, y, strata)
    return _stratified(_rankdata_by(x, s), _rankdata_by(y, s), s)


def _rankdata_by(v: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Ranks of ``v`` within each stratum of ``s``."""
    out = np.empty(len(v))
    for k in np.unique(s):
        out[s == k] = rankdata(v[s == k])
    return out


def _stratified(rx: np.ndarray, ry: np.ndarray, s: np.ndarray) -> float:
    total, weight = 0.0, 0
    for k in np.unique(s):
        a, b = rx[s == k], ry[s == k]
        if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        total += len(a) * float(np.corrcoef(a, b)[0, 1])
        weight += len(a)
    if weight == 0:
        raise ValueError("no stratum has 3 runs with varying x and y: nothing to correlate")
    return total / weight


def spearman_permutation_p(x: Sequence[float], y: Sequence[float], strata: Sequence | None = None, *,
                           alternative: str = "less", n: int = 10_000, seed: int = 0) -> float:
    """One-sided permutation p-value of (stratified) Spearman's ρ: the share of ``n`` permutations of y
    (within each stratum when ``strata`` is given) whose ρ is at most (``"less"``) or at least
    (``"greater"``) the observed one, counting the observed labelling itself ((k + 1)/(n + 1))."""
    if alternative not in ("less", "greater"):
        raise ValueError(f"alternative must be 'less' or 'greater', got {alternative!r}")
    x, y, s = _arrays(x, y, strata)
    rx, ry = _rankdata_by(x, s), _rankdata_by(y, s)
    observed = _stratified(rx, ry, s)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(s == k) for k in np.unique(s)]
    hits = 0
    for _ in range(n):
        perm = ry.copy()
        for g in groups:
            perm[g] = ry[rng.permutation(g)]
        rho = _stratified(rx, perm, s)
        hits += rho <= observed + 1e-12 if alternative == "less" else rho >= observed - 1e-12
    return (hits + 1) / (n + 1)


def spearman_bootstrap_interval(x: Sequence[float], y: Sequence[float], *, level: float = 0.99, n: int = 4_000,
                                seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's ρ at ``level``, resampling runs with replacement
    (resamples with a constant x or y are redrawn)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x, y, _ = _arrays(x, y)
    rng = np.random.default_rng(seed)
    rhos: list[float] = []
    while len(rhos) < n:
        i = rng.integers(0, len(x), len(x))
        if np.ptp(x[i]) == 0 or np.ptp(y[i]) == 0:
            continue
        rhos.append(float(spearmanr(x[i], y[i]).statistic))
    lo, hi = np.quantile(rhos, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
