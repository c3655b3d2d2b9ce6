"""ncutils.paper_b.two_layer_training: the official 2-layer recipe is seeded, fits, and rejects unknown keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils.paper_b.two_layer_training import nearest_target_accuracy, run_config

CONFIG = {"N": 64, "d0": 4, "rep": 0, "activation": "erf", "epochs": 200, "width": 64}


def test_seeded_and_fits() -> None:
    torch.set_num_threads(1)
    a, b = run_config(CONFIG), run_config(CONFIG)
    assert a == b
    assert a["train_accuracy"] == 1.0
    assert a["nc1_final"] == pytest.approx(a["nc1_final_official_formula"], rel=1e-10)  # balanced classes


def test_unknown_key_and_activation() -> None:
    with pytest.raises(ValueError, match="unknown config key"):
        run_config({**CONFIG, "optimizer": "adam"})
    with pytest.raises(ValueError, match="unknown activation"):
        run_config({**CONFIG, "activation": "tanh"})


def test_loss_history_and_predictions() -> None:
    torch.set_num_threads(1)
    plain = run_config(CONFIG)
    extra = run_config({**CONFIG, "loss_every": 50, "keep_predictions": True})
    assert {k: extra[k] for k in plain} == plain  # the optional outputs change nothing else
    assert [e for e, _ in extra["loss_history"]] == [0, 50, 100, 150, 200]
    assert extra["loss_history"][-1][1] == pytest.approx(plain["final_loss"], rel=1e-12)
    assert extra["loss_history"][-1][1] < extra["loss_history"][0][1]
    assert len(extra["predictions"]) == len(extra["targets"]) == CONFIG["N"]
    assert extra["targets"][0] == -1.0 and extra["targets"][-1] == 1.0  # class 0 first
    with pytest.raises(ValueError, match="loss_every"):
        run_config({**CONFIG, "loss_every": -1})


def test_four_classes_with_scalar_targets() -> None:
    torch.set_num_threads(1)
    out = run_config({**CONFIG, "means": [-6.0, -2.0, 2.0, 6.0], "epochs": 50})
    assert 0.0 <= out["train_accuracy"] <= 1.0 and out["nc1_final"] > 0
    with pytest.raises(ValueError, match="equal classes"):
        run_config({**CONFIG, "N": 66, "means": [-6.0, -2.0, 2.0, 6.0]})


def test_nearest_target_accuracy() -> None:
    y = np.array([0, 0, 1, 1, 2])
    targets = np.array([-3.0, -3.0, -1.0, -1.0, 1.0])
    assert nearest_target_accuracy(np.array([-2.5, -1.9, -1.2, 0.1, 0.9]), targets, y) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="one target per class"):
        nearest_target_accuracy(np.zeros(5), np.array([-3.0, -2.0, -1.0, -1.0, 1.0]), y)
    with pytest.raises(ValueError, match="one target per sample"):
        nearest_target_accuracy(np.zeros(5), targets[:4], y)
