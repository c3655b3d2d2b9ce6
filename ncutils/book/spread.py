"""Claim bounds from the measured spread over draws or seeds (the book's one convention).

- A std is the population std (ddof = 0), as the official plots' ``np.std``: bands and tables use it.
- The standard error of the mean of n values is that std / √(n − 1), which equals the sample std
  (ddof = 1) / √n.
- A claim that a rank correlation is negative beyond chance uses the one-sided permutation p-value of
  Spearman's ρ (:func:`ncutils.book.rankstats.spearman_permutation_p`).
- A claim about a mean uses the two-sided Student-t half-width t_{(1+level)/2, n−1} × standard error,
  so that its threshold comes from the draws themselves, not from a pilot run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ncutils.core.checks import as_float64, real_scalar

__all__ = ["halfwidth", "standard_error", "std"]


def _values(values: Any, minimum: int) -> np.ndarray:
    v = as_float64(values, "values", ndim=1, what="1-D array of draws")
    if v.size < minimum:
        raise ValueError(f"values has {v.size} draw(s); the spread needs at least {minimum}: run more repeats")
    return v


def std(values: Any) -> float:
    """Population std (ddof = 0) of 1-D draws."""
    return float(_values(values, 1).std(ddof=0))


def standard_error(values: Any) -> float:
    """Standard error of the mean of n ≥ 2 draws: std(ddof = 0) / √(n − 1)."""
    v = _values(values, 2)
    return float(v.std(ddof=0) / np.sqrt(v.size - 1))


def halfwidth(values: Any, level: float = 0.999) -> float:
    """Two-sided Student-t half-width of the mean of n ≥ 2 draws at confidence ``level`` (in (0, 1))."""
    from scipy.stats import t

    level = real_scalar(level, "level", positive=True)
    if level >= 1:
        raise ValueError(f"level must be in (0, 1), got {level}: e.g. 0.999")
    v = _values(values, 2)
    return float(t.ppf((1 + level) / 2, v.size - 1) * standard_error(v))
