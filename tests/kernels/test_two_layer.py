"""Closed-form 2-layer kernels against neural-tangents; Gaussian data; expected-NC1 theory."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data.gaussian import gaussian_mixture
from ncutils.kernels import import_neural_tangents, nngp_fc2, ntk_fc2, ntk_fc2_official_erf


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
