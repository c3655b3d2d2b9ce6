"""ncutils.paper_a.training: the official recipe's pieces, probes, tables of runs, and resume after an interruption."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils.data import balanced_batches, load_offline
from ncutils.models import build_model, initialise
from ncutils.paper_a import training as paper_a

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


def test_run_frames_flatten_the_records(tmp_path) -> None:
    torch.set_num_threads(1)
    result = paper_a.run_config({**CONFIG, "epochs": 2, "probe_every": 1}, tmp_path)
    records = [{"config": {**CONFIG, "seed": 0}, "status": "ok", "result": result},
               {"config": {**CONFIG, "seed": 1}, "status": "failed", "result": None}]
    final, curves = paper_a.run_frames(records)
    assert len(final) == 1 and len(curves) == 3
    assert final.loc[0, "setting"] == "mlp-digits" and final.loc[0, "train acc"] == result["train_accuracy"]
    assert final.loc[0, "wd"] == "recipe" and set(curves["wd"]) == {"recipe"}
    assert final.loc[0, "NC1_rel"] == result["history"][-1]["NC1_rel"]
    assert final.loc[0, "NTK alignment"] == 1 - result["history"][-1]["gamma_dist_to_Y"]
    history = paper_a.history_frame(result)
    assert list(history.index) == [0, 1, 2]
    assert history["kappa_n"].iloc[-1] == result["history"][-1]["kappa"][2]


def test_cross_entropy_trains_and_differs_from_mse(tmp_path) -> None:
    torch.set_num_threads(1)
    ce = paper_a.run_config({**CONFIG, "epochs": 10, "probe_every": 10, "loss": "cross_entropy"}, tmp_path / "ce")
    ms = paper_a.run_config({**CONFIG, "epochs": 10, "probe_every": 10}, tmp_path / "mse")
    out = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    assert paper_a.training_loss("cross_entropy")(out, y, 2).item() == pytest.approx(
        float(np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0))])))
    assert ce["train_accuracy"] > 0.3  # trained from chance (0.1) on 10 classes (measured 0.56)
    assert ce["history"][-1]["NC1"] != ms["history"][-1]["NC1"]  # the loss is used
    assert ce["history"][0] == ms["history"][0]  # same model, init and probe batch


def test_default_loss_leaves_the_config_unchanged(tmp_path) -> None:
    from ncutils.core.versioning import config_hash

    assert paper_a.DEFAULTS["loss"] == "mse"
    assert config_hash(CONFIG) != config_hash({**CONFIG, "loss": "mse"})  # why the key is added only when not MSE
    with pytest.raises(ValueError, match="unknown loss"):
        paper_a.run_config({**CONFIG, "loss": "hinge"}, tmp_path)


def test_part_kernels_add_up_to_the_probe_and_leave_the_model_trainable(tmp_path) -> None:
    torch.manual_seed(0)
    x = torch.rand(24, 1, 14, 14, dtype=torch.float64)
    y = torch.arange(24) // 6  # 4 classes of 6, class-sorted
    model = build_model("vit_tiny", n_classes=4, in_shape=(1, 14, 14), widths=(4, 1), init="torch").double()
    model.body[2].offset.requires_grad_(False)  # a frozen parameter stays out of every part and stays frozen
    # every trainable parameter in exactly one part (body.1: patch embedding, body.4: final LayerNorm)
    parts = ["attention", "mlp", "norm", "body.1.", "body.4.", "classifier"]
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(sum(part in n for part in parts) == 1 for n in names)
    rec = paper_a.part_probe(model, x, y, parts)
    whole = paper_a.probe(model, x, y, (x, y), 4)
    total = np.sum([rec[f"gamma_{part}"] for part in parts], axis=0)
    np.testing.assert_allclose(total, whole["gamma"], rtol=1e-10)
    assert [p.requires_grad for p in model.parameters()] == [n in names for n, _ in model.named_parameters()]
    with pytest.raises(ValueError, match="names no trainable parameter"):
        paper_a.part_probe(model, x, y, ["offset"])
    with pytest.raises(TypeError, match="list of non-empty strings"):
        paper_a.part_probe(model, x, y, "attention")
    assert model.body[2].offset.requires_grad is False


def test_a_run_with_probe_parts_records_them(tmp_path) -> None:
    torch.set_num_threads(1)
    config = {"model": "vit_tiny", "data": "mnist5k_14", "init": "flax", "lr": 0.03, "epochs": 1, "probe_every": 1,
              "train_per_class": 12, "test_per_class": 2, "widths": [4, 1], "probe_parts": ["attention"]}
    history = paper_a.run_config(config, tmp_path)["history"]
    assert all(len(h["gamma_attention"]) == 3 and 0 <= h["attention_dist_to_Y"] <= 1 for h in history)


def test_class_sizes_train_on_an_imbalanced_split_and_probe_per_class(tmp_path) -> None:
    from ncutils.core.versioning import config_hash

    torch.set_num_threads(1)
    assert paper_a.DEFAULTS["class_sizes"] is None and "class_sizes" not in CONFIG  # existing store keys unchanged
    assert config_hash(CONFIG) != config_hash({**CONFIG, "class_sizes": None})  # why the key is added only when used
    sizes = [40, 40, 40, 40, 40, 8, 8, 8, 8, 8]
    result = paper_a.run_config({**CONFIG, "epochs": 2, "probe_every": 2, "batch_per_class": 10,
                                 "class_sizes": sizes}, tmp_path / "a")
    last = result["history"][-1]
    assert last["class_counts"] == [10] * 5 + [2] * 5  # the probe batch keeps the shares
    assert np.array(last["class_mean_gram"]).shape == np.array(last["classifier_gram"]).shape == (10, 10)
    assert len(last["class_within_sq"]) == len(last["test_accuracy_per_class"]) == 10
    assert last["alpha"] is None and 0 < last["invariant_alignment"] <= 1
    # the ratio-1 control goes through the same estimators (sized=True) as the imbalanced runs
    control = paper_a.run_config({**CONFIG, "epochs": 2, "probe_every": 2, "class_sizes": [40] * 10}, tmp_path / "b")
    assert "class_mean_gram" in control["history"][-1] and control["history"][-1]["alpha"] is None
    plain = paper_a.run_config({**CONFIG, "epochs": 2, "probe_every": 2}, tmp_path / "c")
    assert "class_mean_gram" not in plain["history"][-1] and plain["history"][-1]["alpha"] is not None
    assert control["train_accuracy"] == plain["train_accuracy"]  # same data and batches: only the probe differs


def test_class_geometry_of_a_known_configuration() -> None:
    # (centred) class means: majority 0, 1 antipodal on e1 (length 2); minority 2, 3 at 90° (length 1)
    M = np.array([[2.0, 0, 0], [-2.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    W = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 0.5, 0], [0, 0.5, 0]])  # minority rows equal: collapsed
    rec = {"class_mean_gram": (M @ M.T).tolist(), "classifier_gram": (W @ W.T).tolist(),
           "class_within_sq": [0.5, 0.5, 1.0, 1.0], "test_accuracy_per_class": [1.0, 1.0, 0.5, 0.0]}
    g = paper_a.class_geometry(rec, np.array([False, False, True, True]))
    assert g["cos(major, major)"] == pytest.approx(-1) and g["cos(minor, minor)"] == pytest.approx(0)
    assert g["cos(w minor, w minor)"] == pytest.approx(1) and g["cos(w major, w major)"] == pytest.approx(-1)
    assert g["minor/major mean norm"] == pytest.approx(0.5) and g["minor/major ‖w_c‖"] == pytest.approx(0.5)
    # a class's NC1 term: its mean squared distance over tr(Gram)/C = (4 + 4 + 1 + 1)/4
    assert g["NC1 term minor"] == pytest.approx(1.0 / 2.5) and g["test acc minor"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="at least 2 classes on each side"):
        paper_a.class_geometry(rec, np.array([True, False, False, False]))
    with pytest.raises(ValueError, match="per-class extras"):
        paper_a.class_geometry({}, np.array([False, False, True, True]))
