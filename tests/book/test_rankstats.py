"""ncutils.book.rankstats: Spearman's ρ, its stratified form, permutation p-values and bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from ncutils.book import rankstats as rs


def test_spearman_is_scipys() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=20), rng.normal(size=20)
    assert rs.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)


def test_stratified_spearman_removes_a_confounder() -> None:
    rng = np.random.default_rng(1)
    strata = np.repeat([0, 1, 2, 3], 30)
    x, y = strata + 0.1 * rng.normal(size=120), strata + 0.1 * rng.normal(size=120)  # related only through the strata
    assert rs.spearman(x, y) > 0.8
    assert abs(rs.stratified_spearman(x, y, strata)) < 0.4  # sd about 0.09
    assert rs.spearman_permutation_p(x, y, strata, n=500) > 0.05
    anti = strata - 0.01 * x  # within every stratum y falls as x rises
    assert rs.stratified_spearman(x, anti, strata) == pytest.approx(-1.0)
    assert rs.spearman_permutation_p(x, anti, strata, n=500) == pytest.approx(1 / 501)


def test_permutation_p_counts_the_observed_labelling() -> None:
    x = np.arange(8.0)
    assert rs.spearman_permutation_p(x, -x, n=999) == pytest.approx(1 / 1000)
    assert rs.spearman_permutation_p(x, -x, alternative="greater", n=999) == pytest.approx(1.0)
    assert rs.spearman_permutation_p(x, -x, n=200, seed=3) == rs.spearman_permutation_p(x, -x, n=200, seed=3)
    with pytest.raises(ValueError, match="alternative"):
        rs.spearman_permutation_p(x, x, alternative="two")


def test_bootstrap_interval_brackets_rho() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=40)
    y = -x + 0.5 * rng.normal(size=40)
    lo, hi = rs.spearman_bootstrap_interval(x, y, n=500)
    assert -1 <= lo < rs.spearman(x, y) < hi < 0
    with pytest.raises(ValueError, match="level"):
        rs.spearman_bootstrap_interval(x, y, level=1.5)


@pytest.mark.parametrize(("x", "y", "strata", "match"), [
    ([1.0, 2.0], [1.0, 2.0], None, "at least 3"),
    ([1.0, 2.0, 3.0], [1.0, 2.0], None, "same length"),
    ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], None, "finite"),
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0, 1], "strata has 2"),
])
def test_bad_input_is_named(x, y, strata, match) -> None:
    with pytest.raises(ValueError, match=match):
        rs.spearman_permutation_p(x, y, strata, n=10)
    with pytest.raises(ValueError, match="nothing to correlate"):
        rs.stratified_spearman([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [0, 0, 1, 1])
