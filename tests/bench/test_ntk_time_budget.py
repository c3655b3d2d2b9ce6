"""bench.ntk_time_budget: the counted work, the backward passes it times, and the file it writes."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from bench import ntk_time_budget as budget


def test_work_counts_by_hand() -> None:
    """conv(2→3, 3×3, padding 1) on 5×5, conv(3→4, 1×1, stride 2) on 3×3 positions, dense(4·9→6): 6 outputs."""
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 1, stride=2), nn.Flatten(),
                          nn.Linear(36, 6))
    x = torch.randn(7, 2, 5, 5)
    counts = budget.work_counts(model, x)
    params = (3 * 18 + 3) + (4 * 3 + 4) + (36 * 6 + 6)
    assert counts == {"samples": 7, "outputs": 6, "params": params, "gram_multiply_adds": (7 * 6) ** 2 * params // 2,
                      "formation_multiply_adds": 7 * 6 * (3 * 18 * 25 + 4 * 3 * 9)}
    model[2].requires_grad_(False)  # a frozen conv: neither its parameters nor its weight gradients count
    frozen = budget.work_counts(model, x)
    assert frozen["params"] == params - (4 * 3 + 4) and frozen["formation_multiply_adds"] == 7 * 6 * 3 * 18 * 25


def test_work_counts_a_linear_applied_per_token_like_a_1x1_conv() -> None:
    """Linear(3→5) on 4 tokens, then Linear(4·5→2) on the flattened tokens: only the first sums over tokens."""
    model = nn.Sequential(nn.Unflatten(1, (4, 3)), nn.Linear(3, 5), nn.Flatten(), nn.Linear(20, 2))
    counts = budget.work_counts(model, torch.randn(6, 12))
    assert counts["params"] == (3 * 5 + 5) + (20 * 2 + 2)
    assert counts["formation_multiply_adds"] == 6 * 2 * 5 * 3 * 4


def test_vjps_run_one_backward_pass_per_output_to_every_trainable_layer(monkeypatch) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 1), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()
    model[2].requires_grad_(False)  # frozen: not a target
    calls = []
    grad = torch.autograd.grad

    def counting(outputs, inputs, *args, **kwargs):
        calls.append([tuple(t.shape) for t in inputs])
        return grad(outputs, inputs, *args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counting)
    budget.vjps(model, torch.randn(4, 1, 6, 6))
    assert calls == [[(4, 2, 4, 4), (4, 3)]] * 3


def test_run_budget_writes_its_rows(tmp_path) -> None:
    out = tmp_path / "budget.json"
    content = budget.run_budget(["cnn_s2"], rounds=1, repeats=1, timeout=60, out=out, with_nt=False, n=3)
    assert json.loads(out.read_text()) == json.loads(json.dumps(content, default=float))
    (row,) = content["rows"]
    assert row["workload"] == "cnn_s2" and row["samples"] == 3 and row["outputs"] == 10
    assert row["floor_s"] == pytest.approx(row["gram_floor_s"] + row["formation_floor_s"] + row["vjps_s"])
    assert row["gram_floor_s"] == pytest.approx(2 * row["gram_multiply_adds"] / (row["matmul_peak_gflops"] * 1e9))
    assert all(math.isfinite(row[k]) and row[k] > 0 for k in ("ours_s", "factors_s", "contract_s", "vjps_s"))
    (levers,) = content["levers"]
    assert sum(k.endswith("(ours)") for k in levers) == 2 and all(v > 0 for k, v in levers.items() if k != "round")


def test_neural_tangents_is_measured_in_its_own_process() -> None:
    r = budget.measure_nt("cnn_s2", repeats=1, timeout=120, n=2)
    assert r["nt_note"].startswith("JAX on") and r["nt_min_s"] <= r["nt_s"] <= r["nt_max_s"]


def test_a_workload_without_a_full_kernel_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="full kernel"):
        budget.run_budget(["probe"], rounds=1, repeats=1, timeout=1, out=tmp_path / "x.json", with_nt=False)


def test_the_weight_gradient_routes_agree() -> None:
    """Every route measured gives the per-sample weight gradients (float64, odd sizes), up to its layout."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, 6, 7, generator=generator, dtype=torch.float64)
    g = torch.randn(5, 4, 6, 7, generator=generator, dtype=torch.float64)
    routes = budget.weight_gradient_routes(x, g)
    per_sample = torch.stack([torch.nn.grad.conv2d_weight(x[i : i + 1], (4, 3, 3, 3), g[i : i + 1], padding=1)
                              for i in range(5)])
    layouts = {"grouped weight-gradient kernel (ours)": lambda t: t.reshape(5, 4, 3, 3, 3),
               "unfold + batched product": lambda t: t.reshape(5, 4, 3, 3, 3),
               "forward convolution of the input by g": lambda t: t.reshape(3, 5, 4, 3, 3).permute(1, 2, 0, 3, 4),
               "nine shifted batched products": lambda t: t.reshape(3, 3, 5, 4, 3).permute(2, 3, 4, 0, 1)}
    assert set(layouts) == set(routes)
    for name, layout in layouts.items():
        torch.testing.assert_close(layout(routes[name]()), per_sample, msg=name)
