"""ncutils.paper_a.ensemble: a group trains each member as its single run would, resumes, and keeps members apart."""

from __future__ import annotations

import pytest
import torch

from ncutils.paper_a import ensemble, training

BASE = dict(model="mlp", data="digits", epochs=4, probe_every=2, train_per_class=40, test_per_class=10,
            checkpoint_every=2, widths=[16, 8])
MEMBERS = [dict(BASE, init="flax", lr=0.1, seed=0), dict(BASE, init="torch", lr=0.03, seed=1, weight_decay=0.0),
           dict(BASE, init="normal_fan_out", lr=0.3, seed=0)]
SCALARS = ("loss", "accuracy", "test_accuracy", "NC1", "NC2", "NC3", "invariant_alignment", "alpha")


def _close(a: dict, b: dict, rtol: float) -> None:
    for k in SCALARS:
        assert a[k] == pytest.approx(b[k], rel=rtol, abs=1e-6), k


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_members_match_their_single_runs(tmp_path, loss) -> None:
    torch.set_num_threads(1)
    members = [dict(m, loss=loss) for m in MEMBERS]
    group = ensemble.run_group({"members": members}, tmp_path / "group")["members"]
    for e, cfg in enumerate(members):
        single = training.run_config(cfg, tmp_path / f"single{e}")
        assert group[e]["status"] == "ok"
        got = group[e]["result"]
        assert [h["epoch"] for h in got["history"]] == [h["epoch"] for h in single["history"]] == [0, 2, 4]
        for h_group, h_single in zip(got["history"], single["history"], strict=True):
            _close(h_group, h_single, rtol=1e-3)  # float32 sums in another order, 4 epochs of training
        assert got["train_accuracy"] == pytest.approx(single["train_accuracy"], abs=0.02)


def test_group_resumes_to_the_same_numbers(tmp_path, monkeypatch) -> None:
    torch.set_num_threads(1)
    monkeypatch.setattr(ensemble, "CHECKPOINT_SECONDS", 0.0)
    whole = ensemble.run_group({"members": MEMBERS}, tmp_path / "a")
    calls = {"n": 0}
    real = ensemble.probe

    def crash_on_third_probe(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # the first member's probe at epoch 4, after the checkpoint of epoch 2
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ensemble, "probe", crash_on_third_probe)
    with pytest.raises(KeyboardInterrupt):
        ensemble.run_group({"members": MEMBERS}, tmp_path / "b")
    monkeypatch.setattr(ensemble, "probe", real)
    resumed = ensemble.run_group({"members": MEMBERS}, tmp_path / "b")
    for w, r in zip(whole["members"], resumed["members"], strict=True):
        assert r["result"]["resumed_from"] == 3
        for a, b in zip(w["result"]["history"], r["result"]["history"], strict=True):
            _close(a, b, rtol=1e-12)


def test_a_diverging_member_leaves_the_others_alone(tmp_path) -> None:
    torch.set_num_threads(1)
    blow_up = dict(BASE, init="flax", lr=1e6, seed=0)
    together = ensemble.run_group({"members": [MEMBERS[0], blow_up]}, tmp_path / "g")["members"]
    alone = ensemble.run_group({"members": [MEMBERS[0]]}, tmp_path / "s")["members"]
    assert together[1]["status"] == "diverged" and "at epoch" in together[1]["error"]
    for a, b in zip(together[0]["result"]["history"], alone[0]["result"]["history"], strict=True):
        _close(a, b, rtol=1e-4)


CNN_BASE = dict(model="resnet8_w8", data="mnist5k_14", epochs=2, probe_every=1, train_per_class=12, test_per_class=4,
                batch_per_class=6, checkpoint_every=1)
CNN_MEMBERS = [dict(CNN_BASE, init="flax", lr=0.1, seed=0), dict(CNN_BASE, init="torch", lr=0.03, seed=1, weight_decay=0.0)]


def test_cnn_members_match_their_single_runs(tmp_path) -> None:
    torch.set_num_threads(1)
    group = ensemble.run_group({"members": CNN_MEMBERS}, tmp_path / "group")["members"]
    for e, cfg in enumerate(CNN_MEMBERS):
        single = training.run_config(cfg, tmp_path / f"single{e}")
        got = group[e]["result"]
        assert group[e]["status"] == "ok" and [h["epoch"] for h in got["history"]] == [0, 1, 2]
        for h_group, h_single in zip(got["history"], single["history"], strict=True):
            assert h_group["loss"] == pytest.approx(h_single["loss"], rel=1e-4)  # grouped convolutions round otherwise
            _close(h_group, h_single, rtol=5e-3)  # (the invariant's alignment, through K⁻¹ of 12 samples, magnifies it)
        assert got["train_accuracy"] == pytest.approx(single["train_accuracy"], abs=0.02)


def test_stacked_cnn_is_its_members_side_by_side() -> None:
    from ncutils.models import build_model

    torch.manual_seed(0)
    models = [build_model("resnet8_w8", n_classes=3, in_shape=(1, 8, 8), init=init, seed=seed, widths=[4, 8, 8])
              for init, seed in (("flax", 0), ("torch", 1), ("normal_fan_out", 2))]
    net = ensemble.StackedCNN(models)
    x = torch.rand(3, 5, 1, 8, 8)
    torch.testing.assert_close(net(x), torch.stack([m(x[e]) for e, m in enumerate(models)]), rtol=1e-5, atol=1e-6)
    for e, model in enumerate(models):  # the forward pass above updated both sides' BatchNorm statistics alike
        copy = net.copy_member(e, build_model("resnet8_w8", n_classes=3, in_shape=(1, 8, 8), seed=9, widths=[4, 8, 8]))
        for (name, a), b in zip(copy.state_dict().items(), model.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)
    decayed = [name for name, d in zip(dict(net.named_parameters()), net.decayed()) if d]
    assert "weight" in decayed and "bias" not in decayed and "body.1.weight" not in decayed  # classifier, BN
    assert all(net.get_parameter(n).ndim == 4 for n in decayed if n != "weight")  # conv weights
    with pytest.raises(ValueError, match="cannot be stacked"):
        ensemble.stack_models([build_model("densenet40", n_classes=3, in_shape=(1, 8, 8))] * 2)


def test_group_configs_and_member_records() -> None:
    cnn = dict(BASE, model="resnet8_w8", data="mnist5k_14", init="flax", lr=0.1, seed=0)
    configs = [*MEMBERS, cnn, dict(MEMBERS[0], epochs=6)]
    groups = ensemble.group_configs(configs, max_members=2)
    assert [len(g["members"]) for g in groups] == [2, 1, 1, 1]
    assert groups[0]["members"] == MEMBERS[:2] and groups[1]["members"] == MEMBERS[2:]
    records = [{"config": groups[0], "status": "ok", "error": None, "seconds": 4.0, "from_store": True,
                "result": {"members": [{"status": "ok", "error": None, "result": {"x": 1}},
                                       {"status": "diverged", "error": "loss is nan", "result": None}]}},
               {"config": groups[1], "status": "failed", "error": "boom", "seconds": 1.0, "result": None}]
    out = ensemble.member_records(records)
    assert [r["status"] for r in out] == ["ok", "diverged", "failed"]
    assert out[0]["config"] == MEMBERS[0] and out[0]["seconds"] == 2.0 and out[0]["from_store"]
    with pytest.raises(ValueError, match="max_members"):
        ensemble.group_configs(configs, 0)


def test_group_refuses_mixed_or_unstackable_members(tmp_path) -> None:
    with pytest.raises(ValueError, match="must share 'epochs'"):
        ensemble.run_group({"members": [MEMBERS[0], dict(MEMBERS[1], epochs=6)]}, tmp_path)
    with pytest.raises(ValueError, match="unknown config key"):
        ensemble.run_group({"members": [dict(MEMBERS[0], colour="red")]}, tmp_path)
    with pytest.raises(ValueError, match="cannot be stacked"):
        ensemble.run_group({"members": [dict(BASE, model="densenet40", data="mnist5k_14", init="flax", lr=0.1,
                                             seed=0, widths=None)]}, tmp_path)
    with pytest.raises(ValueError, match="do not implement 'probe_parts'"):
        ensemble.run_group({"members": [dict(MEMBERS[0], probe_parts=["body"])]}, tmp_path)
    assert not ensemble.stackable(dict(MEMBERS[0], probe_parts=["body"])) and ensemble.stackable(MEMBERS[0])
    with pytest.raises(ValueError, match="groups train on the CPU"):
        ensemble.run_group({"members": [dict(MEMBERS[0], device="cuda")]}, tmp_path)
