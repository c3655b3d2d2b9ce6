"""ncutils.train.paper_a: the official recipe's pieces, probes, and resume after an interruption."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils.data.images import balanced_batches, load_offline
from ncutils.models import build_model, initialise
from ncutils.train import paper_a

CONFIG = dict(model="mlp", data="digits", init="torch", lr=0.1, epochs=6, probe_every=2, train_per_class=40,
              test_per_class=10, checkpoint_every=2, widths=[16, 8])


def test_mse_is_half_mean_over_batch_and_classes() -> None:
    out = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert paper_a.mse(out, torch.tensor([1, 1]), 2).item() == pytest.approx(0.5 * (1 + 1 + 0 + 1) / 4)


def test_balanced_batches_have_exactly_k_per_class() -> None:
    y = load_offline("digits").y
    for idx in balanced_batches(y, 12, epoch=3, seed=0):
        assert np.all(np.bincount(y[idx], minlength=10) == 12)
        assert np.all(np.diff(y[idx]) >= 0)


def test_torch_init_is_literal() -> None:
    model = build_model("resnet8_w8", in_shape=(1, 14, 14), init="torch", seed=0)
    b = model.classifier.bias.detach()
    assert (b >= 0).all() and (b < 1 / np.sqrt(model.n_features)).all()  # one-sided bias
    conv = model.body[0].weight.detach()  # 3×3 conv: scale 1/9
    assert conv.abs().max() <= np.sqrt(3 * (1 / 9) / (1 * 9)) + 1e-7
    with pytest.raises(ValueError, match="unknown init"):
        initialise(model, "xavier", torch.Generator())


def test_probe_keys_and_resume_equals_uninterrupted(tmp_path, monkeypatch) -> None:
    torch.set_num_threads(1)
    full = paper_a.run_config(CONFIG, tmp_path / "a")
    assert set(paper_a.OFFICIAL_KEYS) <= set(full["history"][-1])
    assert [h["epoch"] for h in full["history"]] == [0, 2, 4, 6]

    real_probe, calls = paper_a.probe, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the probe of epoch 4: the checkpoint of epoch 2 exists
            raise KeyboardInterrupt("killed")
        return real_probe(*args, **kwargs)

    monkeypatch.setattr(paper_a, "probe", interrupted)
    with pytest.raises(KeyboardInterrupt):
        paper_a.run_config(CONFIG, tmp_path / "b")
    monkeypatch.setattr(paper_a, "probe", real_probe)
    resumed = paper_a.run_config(CONFIG, tmp_path / "b")
    assert resumed["resumed_from"] == 3
    assert resumed["history"] == full["history"]
    assert resumed["train_accuracy"] == full["train_accuracy"]


def test_probe_by_groups_of_outputs_gives_the_same_history(tmp_path) -> None:
    torch.set_num_threads(1)
    whole = paper_a.run_config({**CONFIG, "epochs": 2, "probe_every": 2}, tmp_path / "a")
    grouped = paper_a.run_config({**CONFIG, "epochs": 2, "probe_every": 2, "probe_output_chunk": 3}, tmp_path / "b")
    for rec_w, rec_g in zip(whole["history"], grouped["history"]):
        for key in ("gamma_dist_to_Y", "kappa_dist_to_Y", "alpha", "invariant_alignment", "NC1"):
            assert rec_g[key] == pytest.approx(rec_w[key], rel=1e-6), key
    assert whole["device"] == "cpu"


def test_unknown_config_key_is_rejected(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown config key"):
        paper_a.run_config({**CONFIG, "optimizer": "adam"}, tmp_path)


# the official grid (notes §2.3–§4): architecture per data set; VGG reads 32×32 images
OFFICIAL_RUNS = {("resnet20", "mnist"), ("resnet20", "fashion_mnist"), ("resnet20", "cifar10"),
                 ("vgg11", "mnist_32"), ("vgg11", "fashion_mnist_32"), ("vgg16", "cifar10"),
                 ("densenet40", "mnist"), ("densenet40", "fashion_mnist"), ("densenet40", "cifar10")}
IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "mnist_32": (1, 32, 32),
                "fashion_mnist_32": (1, 32, 32), "cifar10": (3, 32, 32)}
FEATURES = {"resnet20": 64, "vgg11": 256, "vgg16": 256, "densenet40": 132}


def test_paper_profile_is_the_official_grid_and_every_model_builds() -> None:
    from ncutils.data.images import DATASETS
    from ncutils.profiles import chapter_profile

    configs = paper_a.sweep_grid("paper").configs
    lrs = paper_a.PAPER_LRS
    assert len(configs) == len(OFFICIAL_RUNS) * 3 * len(lrs) == 189
    assert len({tuple(sorted(c.items())) for c in configs}) == len(configs)
    assert {(c["model"], c["data"], c["init"], c["lr"]) for c in configs} == \
        {(m, d, i, lr) for m, d in OFFICIAL_RUNS for i in ("flax", "normal_fan_out", "torch") for lr in lrs}
    a06 = {**chapter_profile("a06_ntk_block_structure", "paper"), "seed": 0}
    assert (a06["model"], a06["data"]) == ("resnet20", "mnist")
    for c in [*configs, a06]:
        assert set(c) <= paper_a.CONFIG_KEYS and c["data"] in DATASETS
        assert c["epochs"] == 400 and c["probe_every"] == 1
        assert {**paper_a.DEFAULTS, **c}["batch_per_class"] == 12
        assert c["device"] == "auto"  # CUDA when available
    for model, data in OFFICIAL_RUNS:  # one build per architecture and input shape (no data needed)
        net = build_model(model, in_shape=IMAGE_SHAPES[data], init="torch", seed=0).eval()
        x = torch.rand(2, *IMAGE_SHAPES[data])
        assert net.features(x).shape == (2, FEATURES[model]) and net(x).shape == (2, 10)


def test_sweep_takes_the_chapter_seed_and_the_boundary_part_the_next_seeds() -> None:
    main = paper_a.sweep_configs("cpu", "mlp", seed=5)
    assert {c["seed"] for c in main} == {5} and len(main) == 3 * 5
    extra = paper_a.sweep_configs("cpu", "mlp-seeds", seed=5)
    assert sorted({c["seed"] for c in extra}) == [6, 7] and {c["lr"] for c in extra} == {0.03} and len(extra) == 6
    configs = paper_a.sweep_grid("cpu", seed=5).configs
    assert len({tuple(sorted(c.items())) for c in configs}) == len(configs) == 15 + 6 + 6 + 6
    assert {c["seed"] for c in paper_a.sweep_grid("paper", seed=3).configs} == {3}
