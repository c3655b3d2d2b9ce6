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


def test_groups_are_balanced_in_plan_order() -> None:
    configs = [dict(BASE, init="flax", lr=0.1, seed=s) for s in range(54)]
    groups = ensemble.group_configs(configs, max_members=15)
    assert [len(g["members"]) for g in groups] == [14, 14, 13, 13]
    assert [m for g in groups for m in g["members"]] == configs
    assert [len(g["members"]) for g in ensemble.group_configs(configs[:30], max_members=15)] == [15, 15]


def test_group_refuses_mixed_or_unstackable_members(tmp_path) -> None:
    with pytest.raises(ValueError, match="must share 'epochs'"):
        ensemble.run_group({"members": [MEMBERS[0], dict(MEMBERS[1], epochs=6)]}, tmp_path)
    with pytest.raises(ValueError, match="unknown config key"):
        ensemble.run_group({"members": [dict(MEMBERS[0], colour="red")]}, tmp_path)
    with pytest.raises(ValueError, match="cannot be stacked"):
        ensemble.run_group({"members": [dict(BASE, model="resnet8_w8", data="mnist5k_14", init="flax", lr=0.1,
                                             seed=0, widths=None)]}, tmp_path)
    with pytest.raises(ValueError, match="do not implement 'probe_parts'"):
        ensemble.run_group({"members": [dict(MEMBERS[0], probe_parts=["body"])]}, tmp_path)
    assert not ensemble.stackable(dict(MEMBERS[0], probe_parts=["body"])) and ensemble.stackable(MEMBERS[0])
    with pytest.raises(ValueError, match="groups train on the CPU"):
        ensemble.run_group({"members": [dict(MEMBERS[0], device="cuda")]}, tmp_path)
