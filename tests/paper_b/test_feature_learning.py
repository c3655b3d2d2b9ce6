"""ncutils.paper_b.feature_learning: digits pairs, the mean-field network and its training task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils.paper_b.feature_learning import MeanFieldNet, digits_pair, run_config

CONFIG = {"data": "gaussian", "N": 32, "d0": 4, "rep": 0, "width": 64, "epochs": 100}


def test_digits_pair() -> None:
    X, y = digits_pair([0, 1], 20, 8, seed=3)
    assert X.shape == (40, 8) and X.dtype == np.float64
    assert list(y) == [0] * 20 + [1] * 20
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_array_equal(X, digits_pair([0, 1], 20, 8, seed=3)[0])
    assert not np.array_equal(X, digits_pair([0, 1], 20, 8, seed=4)[0])
    with pytest.raises(ValueError, match="two different digits"):
        digits_pair([1, 1], 20, 8, seed=0)
    with pytest.raises(ValueError, match="fewer than per_class"):
        digits_pair([0, 1], 500, 8, seed=0)


def test_mean_field_output_scale() -> None:
    net = MeanFieldNet(3, 1000, "erf", torch.Generator().manual_seed(0))
    x = torch.randn(50, 3, dtype=torch.float64)
    manual = (torch.erf(x @ net.hidden.weight.T) @ net.a) / 1000
    torch.testing.assert_close(net(x), manual)
    assert net(x).abs().max() < 0.2  # O(1/sqrt(width)) at initialisation


def test_runs_seeded_and_mean_field_learns_features() -> None:
    torch.set_num_threads(1)
    lazy = run_config(CONFIG)
    assert lazy == run_config(CONFIG)
    mf = run_config({**CONFIG, "parameterisation": "mean_field", "lr": 0.1})
    assert mf["nc1_data"] == lazy["nc1_data"] and mf["nc1_nngp"] == lazy["nc1_nngp"]  # same draw
    assert abs(np.log10(lazy["nc1_final"] / lazy["nc1_init"])) < abs(np.log10(mf["nc1_final"] / mf["nc1_init"]))
    digits = run_config({**CONFIG, "data": "digits", "parameterisation": "mean_field", "lr": 0.1})
    assert digits["train_accuracy"] == 1.0


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="parameterisation"):
        run_config({**CONFIG, "parameterisation": "ntk"})
    with pytest.raises(ValueError, match="unknown data"):
        run_config({**CONFIG, "data": "mnist"})
    with pytest.raises(ValueError, match="even"):
        run_config({**CONFIG, "N": 33})
