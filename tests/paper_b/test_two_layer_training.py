"""ncutils.paper_b.two_layer_training: the official 2-layer recipe is seeded, fits, and rejects unknown keys."""

from __future__ import annotations

import pytest
import torch

from ncutils.paper_b.two_layer_training import run_config

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
