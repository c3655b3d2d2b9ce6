"""ncutils.paper_a.assumption: probe epochs, block fits, output isotropy, residual components, SGD time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils.kernels import block_kernel, empirical_ntk
from ncutils.models import build_model
from ncutils.paper_a import assumption as A
from ncutils.paper_a import training as paper_a
from ncutils.paper_a.invariant import invariant_norm

CONFIG = dict(model="mlp", data="digits", init="torch", lr=0.1, epochs=6, probe_every=3, train_per_class=24,
              test_per_class=10, widths=[16, 8])


def test_probe_epochs_default_is_the_old_rule_and_log_adds_epochs() -> None:
    assert A.probe_epochs(1500, 250) == list(range(0, 1501, 250))
    assert A.probe_epochs(10, 4) == [0, 4, 8, 10]
    dense = A.probe_epochs(1500, 250, probe_log=40)
    assert set(range(0, 1501, 250)) <= set(dense) and 1 in dense and len(dense) >= 30
    assert np.all(np.diff(dense) > 0)
    with pytest.raises(ValueError, match="probe_log"):
        A.probe_epochs(10, 2, probe_log=1)


def test_new_config_keys_leave_existing_runs_unchanged(tmp_path) -> None:
    from ncutils.core.versioning import config_hash

    assert paper_a.DEFAULTS["probe_log"] is None and paper_a.DEFAULTS["probe_assumption"] is False
    # store keys hash the config as given: a config without the keys keeps its key
    assert config_hash(CONFIG) != config_hash({**CONFIG, "probe_log": None})
    torch.set_num_threads(1)
    plain = paper_a.run_config(CONFIG, tmp_path / "a")
    extra = paper_a.run_config({**CONFIG, "probe_log": 4, "probe_assumption": True}, tmp_path / "b")
    assert [h["epoch"] for h in plain["history"]] == [0, 3, 6]
    assert [h["epoch"] for h in extra["history"]] == [0, 1, 2, 3, 6]
    assert "output_isotropy" not in plain["history"][-1]
    last = extra["history"][-1]
    assert {"gamma_ratio", "block_residual_ntk_full", "residual_single", "invariant_norm_full"} <= set(last)
    # the batch invariant of the extras is the probe's official one; the ratios are the official block values'
    assert last["invariant_norm_batch"] == pytest.approx(last["invariant_norm"], rel=1e-12)
    assert last["gamma_ratio"] == pytest.approx(last["gamma"][1] / last["gamma"][2], rel=1e-12)
    same = {k: v for k, v in extra["history"][-1].items() if k in plain["history"][-1]}
    assert same == plain["history"][-1]  # the extras change no official number


def test_block_fit_is_the_orthogonal_projection() -> None:
    y = np.repeat(np.arange(3), 4)
    values, rel = A.block_fit(block_kernel(3, 4, 3.0, 1.2, 0.3), y)
    assert values == pytest.approx((3.0, 1.2, 0.3)) and rel == pytest.approx(0.0, abs=1e-15)
    rng = np.random.default_rng(0)
    G = rng.standard_normal((2, 12, 12))
    K = G + np.swapaxes(G, 1, 2)
    values, rel = A.block_fit(K, y)
    P = np.broadcast_to(block_kernel(3, 4, *values), K.shape)
    for mask in (np.eye(12) == 1, (y[:, None] == y) & (np.eye(12) == 0), y[:, None] != y):
        assert np.sum((K - P)[:, mask]) == pytest.approx(0.0, abs=1e-12)  # residual ⟂ each block indicator
    assert rel == pytest.approx(np.linalg.norm(K - P) / np.linalg.norm(K))
    perm = rng.permutation(12)  # labels, not positions, define the blocks
    assert A.block_fit(K[:, perm][:, :, perm], y[perm])[1] == pytest.approx(rel)
    with pytest.raises(ValueError, match="one sample"):
        A.block_fit(np.eye(3), [0, 1, 2])


def test_output_isotropy_and_full_fit_against_autograd() -> None:
    torch.manual_seed(0)
    model = build_model("mlp", n_classes=3, in_shape=(5,), init="torch", seed=0, widths=[6]).double()
    x = torch.randn(6, 5, dtype=torch.float64)
    y = np.repeat(np.arange(3), 2)
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    J = torch.cat([torch.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(model(x[i:i + 1])[0, a], params)])
                                for a in range(3)]) for i in range(6)]).reshape(6, 3, -1)
    exact = torch.einsum("iap,jbp->ijab", J, J).numpy()
    full = empirical_ntk(model, x, outputs="full").numpy()
    np.testing.assert_allclose(full, exact, rtol=1e-10, atol=1e-12)
    diag = np.einsum("ijaa->ija", exact)
    off = exact.copy()
    off[:, :, np.arange(3), np.arange(3)] = 0
    assert A.output_isotropy(full) == pytest.approx(np.linalg.norm(off) / np.linalg.norm(diag), rel=1e-10)
    iso = np.einsum("ij,ab->ijab", block_kernel(3, 2, 2.0, 1.0, 0.5), np.eye(3))
    assert A.output_isotropy(iso) == 0.0 and A.full_block_fit_residual(iso, y) == pytest.approx(0.0, abs=1e-15)
    _, rel_diag = A.block_fit(np.moveaxis(diag, 2, 0), y)
    assert A.full_block_fit_residual(full, y) >= rel_diag * np.linalg.norm(diag) / np.linalg.norm(full) - 1e-12


def test_residual_norms_split_orthogonally_and_single_uses_outputs_only() -> None:
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 5)
    F = rng.standard_normal((20, 4))
    norms = A.residual_norms(F, y)
    R = F - np.eye(4)[y]
    assert sum(v**2 for v in norms.values()) == pytest.approx(np.sum(R**2))
    perm = rng.permutation(20)
    assert A.residual_norms(F[perm], y[perm]) == pytest.approx(norms)
    centred = F - np.repeat(F.reshape(4, 5, 4).mean(axis=1), 5, axis=0)
    assert norms["single"] == pytest.approx(np.linalg.norm(centred))
    with pytest.raises(ValueError, match="equally many"):
        A.residual_norms(F[:19], y[:19])


def test_epoch_learning_rates_follow_the_scheduler() -> None:
    model = torch.nn.Linear(2, 2)
    opt, sched = paper_a._optimizer(model, 0.3, 5e-4, 20)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(A.epoch_learning_rates(0.3, 20), seen, rtol=1e-12)
    assert A.epoch_flow_time(0.3, 120, 10) == pytest.approx(0.3 / (0.1 * 1200))
    assert A.wd_log_decay(0.3, 5e-4, 12) == pytest.approx(2 * 5e-4 * 12 * 0.3 / 0.1)
    with pytest.raises(ValueError, match="momentum"):
        A.epoch_flow_time(0.1, 120, 10, momentum=1.0)


def test_full_set_invariant_of_a_batch_is_the_batch_invariant() -> None:
    model = build_model("mlp", n_classes=3, in_shape=(5,), init="torch", seed=0, widths=[6])
    x = torch.randn(12, 5)
    y = np.repeat(np.arange(3), 4)
    theta = np.stack([np.eye(12) + 0.5] * 3) + np.kron(np.eye(3), np.ones((4, 4)))
    theta_h = np.stack([theta[0]] * 6)
    rec = A.assumption_record(model, x, y, theta, theta_h, x, y)
    W = model.classifier.weight.detach().double().numpy()
    H = model.features(x).detach().double().numpy()
    assert rec["invariant_full_vs_batch"] == 0.0
    assert rec["invariant_norm_full"] == pytest.approx(invariant_norm(W, H, y, (2.5, 1.5, 0.5)))
    assert rec["block_residual_ntk"] == pytest.approx(0.0, abs=1e-15)


def test_cumulative_decay_of_constant_kernels_is_linear() -> None:
    tau = np.full(10, 0.01)
    gammas = [(2.0, 0.8, 0.2)] * 3
    got = A.cumulative_decay([0, 4, 10], gammas, tau, C=4, m=5)
    # λ_single = 1.2, λ_class = 1.2 + 5·0.6 = 4.2, λ_global = 4.2 + 20·0.2 = 8.2
    np.testing.assert_allclose(got["single"], [0.0, 0.048, 0.12])
    np.testing.assert_allclose(got["global"], [0.0, 4 * 0.082, 0.82])
    changed = A.cumulative_decay([0, 4, 10], [(2.0, 0.8, 0.2), (3.0, 0.8, 0.2), (3.0, 0.8, 0.2)], tau, C=4, m=5)
    assert changed["single"][-1] == pytest.approx(0.01 * (4 * 1.2 + 6 * 2.2))  # γ of the probe before each epoch
    with pytest.raises(ValueError, match="one \\(d, c, n\\) per probe"):
        A.cumulative_decay([0, 4, 10], gammas[:2], tau, C=4, m=5)
