"""ncutils.book.spread: the book's std, standard error and Student-t half-width."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ncutils.book.spread import halfwidth, spearman_permutation_p, standard_error, std


def test_conventions() -> None:
    v = np.array([1.0, 2.0, 4.0, 7.0])
    assert std(v) == pytest.approx(np.std(v))  # ddof = 0
    assert standard_error(v) == pytest.approx(np.std(v, ddof=1) / 2)  # sample std / sqrt(n)
    assert halfwidth(v, 0.95) == pytest.approx(stats.t.ppf(0.975, 3) * np.std(v, ddof=1) / 2)
    assert halfwidth(v) > halfwidth(v, 0.95)


def test_coverage() -> None:
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(4000, 5))
    covered = np.mean([abs(d.mean()) <= halfwidth(d, 0.9) for d in draws])
    assert covered == pytest.approx(0.9, abs=0.02)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        halfwidth([1.0])
    with pytest.raises(ValueError, match="level"):
        halfwidth([1.0, 2.0], level=1.5)
    with pytest.raises(ValueError, match="finite|NaN"):
        std([1.0, np.nan])


def test_spearman_permutation_p() -> None:
    x = np.arange(10.0)
    assert spearman_permutation_p(x, -x, 500) == pytest.approx(1 / 501)  # no permutation is as negative (1/10! chance)
    assert spearman_permutation_p(x, x, 500) == pytest.approx(1.0)
    noise = np.random.default_rng(0).standard_normal(10)
    p = spearman_permutation_p(x, noise, 2000, seed=3)
    assert p == spearman_permutation_p(x, noise, 2000, seed=3) and 0 < p < 1
    with pytest.raises(ValueError, match="pair up"):
        spearman_permutation_p(x, x[:5])
    with pytest.raises(ValueError, match="at least 3"):
        spearman_permutation_p(x[:2], x[:2])
