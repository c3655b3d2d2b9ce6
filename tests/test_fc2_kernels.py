"""Closed-form 2-layer kernels against neural-tangents; Gaussian data; expected-NC1 theory."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils._nt import import_neural_tangents
from ncutils.data.gaussian import gaussian_mixture
from ncutils.kernel_nc1_theory import expected_nc1, limit_nc1, monte_carlo_moments, sample_pairs
from ncutils.kernels import nngp_fc2, ntk_fc2, ntk_fc2_official_erf


@pytest.fixture(scope="module")
def stax():
    return import_neural_tangents().stax


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("d0", [1, 2, 8, 128])
def test_closed_forms_equal_neural_tangents(stax, activation, d0) -> None:
    X = gaussian_mixture([12, 12], d0, seed=d0).X
    layer = {"relu": stax.Relu, "erf": stax.Erf}[activation]
    _, _, kernel_fn = stax.serial(stax.Dense(1, W_std=1.0, b_std=None), layer(), stax.Dense(1, W_std=1.0, b_std=None))
    k = kernel_fn(X, None, ("nngp", "ntk"))
    # relative to the largest entry: arccos near ±1 limits the precision of near-zero ReLU entries to ~1e-8
    for ours, theirs in [(nngp_fc2(X, activation=activation), k.nngp), (ntk_fc2(X, activation=activation), k.ntk)]:
        theirs = np.asarray(theirs)
        assert np.abs(ours - theirs).max() <= 1e-6 * np.abs(theirs).max()


def test_official_erf_ntk_is_wrong() -> None:
    X = gaussian_mixture([32, 32], 8, seed=0).X
    assert np.abs(ntk_fc2_official_erf(X) - ntk_fc2(X, activation="erf")).max() > 0.5


def test_relu_d1_ntk_is_twice_nngp() -> None:
    X = gaussian_mixture([10, 10], 1, seed=3).X
    twice = 2 * nngp_fc2(X, activation="relu")
    assert np.abs(ntk_fc2(X, activation="relu") - twice).max() <= 1e-6 * np.abs(twice).max()


def test_gaussian_mixture_is_seeded_sorted_and_validated() -> None:
    a, b = gaussian_mixture([3, 5], 4, seed=7), gaussian_mixture([3, 5], 4, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    assert list(a.y) == [0] * 3 + [1] * 5 and set(a.targets) == {-1.0, 1.0}
    four = gaussian_mixture([2, 2, 2, 2], 3, means=(-6, -2, 2, 6), seed=0)
    assert list(four.targets[::2]) == [-3, -1, 1, 3]
    with pytest.raises(ValueError, match="class sizes"):
        gaussian_mixture([3], 4)
    with pytest.raises(ValueError, match="activation"):
        nngp_fc2(a.X, activation="tanh")
    with pytest.raises(ValueError, match="NaN"):
        nngp_fc2(np.full((2, 2), np.nan))


def test_limits_and_monte_carlo_agree() -> None:
    assert limit_nc1("linear", "relu", 2.0, 0.5) == pytest.approx(0.0625)
    pairs = sample_pairs(2.0, 0.5, 128, 20000, seed=0)
    for k in ("nngp", "ntk"):
        mc = expected_nc1(monte_carlo_moments(pairs, k, "erf"))
        assert mc == pytest.approx(limit_nc1(k, "erf", 2.0, 0.5), rel=0.05)
    with pytest.raises(ValueError, match="unknown kernel"):
        limit_nc1("rbf", "erf", 2.0, 0.5)
