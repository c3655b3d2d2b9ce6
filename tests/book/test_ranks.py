"""ncutils.book.ranks: Spearman's ρ with a seeded one-sided permutation p-value."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.book.ranks import spearman_permutation_p


def test_a_perfect_negative_trend_has_the_smallest_p_and_the_opposite_test_the_largest() -> None:
    x = np.arange(8.0)
    rho, p = spearman_permutation_p(x, -x ** 3, n_permutations=999)
    assert rho == pytest.approx(-1.0)
    assert p < 0.01  # only the identity re-pairing (1/8!) reaches ρ = −1
    assert spearman_permutation_p(x, -x ** 3, alternative="greater", n_permutations=999)[1] == 1.0


def test_no_trend_is_not_significant_and_the_seed_fixes_p() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30), rng.normal(size=30)
    first = spearman_permutation_p(x, y, seed=4)
    assert first == spearman_permutation_p(x, y, seed=4)
    assert 0.05 < first[1] < 0.95


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 3 runs"):
        spearman_permutation_p([1.0, 2.0], [2.0, 1.0])
    with pytest.raises(ValueError, match="at least 3 runs"):
        spearman_permutation_p([1.0, 2.0, 3.0], [2.0, 1.0])
    with pytest.raises(ValueError, match="alternative"):
        spearman_permutation_p([1.0, 2.0, 3.0], [2.0, 1.0, 0.0], alternative="two-sided")
    with pytest.raises(ValueError, match="NaN|finite"):
        spearman_permutation_p([1.0, np.nan, 3.0], [2.0, 1.0, 0.0])
