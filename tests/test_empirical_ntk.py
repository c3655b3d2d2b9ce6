"""ncutils.kernels.empirical: equal to brute-force per-pair gradient products (float64, BatchNorm)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ncutils.kernels import empirical_ntk, feature_kernel, ntk_probe
from ncutils.models import build_model


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 4)).double()


def with_bn_statistics(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Give BatchNorm non-trivial running statistics, then switch to eval mode."""
    model.train()
    with torch.no_grad():
        model(x + 0.5)
    return model.eval()


def brute_force(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor, output_fn=None) -> torch.Tensor:
    """Θ[i, j, a, b] = ⟨∂f_a(x1_i)/∂θ, ∂f_b(x2_j)/∂θ⟩ by autograd, one sample at a time."""
    params = [p for p in model.parameters() if p.requires_grad]
    forward = output_fn or (lambda m, x: m(x))

    def grads(x):
        out = forward(model, x.unsqueeze(0)).reshape(-1)
        rows = []
        for o in out:
            gs = torch.autograd.grad(o, params, retain_graph=True, allow_unused=True)
            rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(gs, params)]))
        return torch.stack(rows)

    G1 = [grads(x) for x in x1]
    G2 = [grads(x) for x in x2]
    return torch.stack([torch.stack([g1 @ g2.T for g2 in G2]) for g1 in G1])


@pytest.fixture(params=["mlp", "cnn"])
def model_and_inputs(request):
    torch.manual_seed(1)
    if request.param == "mlp":
        x = torch.randn(7, 12, dtype=torch.float64)
        model = build_model("mlp", n_classes=3, in_shape=(12,), widths=(9, 5), init="torch").double()
    else:
        x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
        model = small_cnn()
    return with_bn_statistics(model, x), x


def test_full_trace_and_diagonal_equal_brute_force(model_and_inputs) -> None:
    model, x = model_and_inputs
    x1, x2 = x[:4], x[3:]
    reference = brute_force(model, x1, x2)
    full = empirical_ntk(model, x1, x2, outputs="full")
    torch.testing.assert_close(full, reference, rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(empirical_ntk(model, x1, x2, outputs="trace"),
                               reference.diagonal(dim1=2, dim2=3).sum(-1), rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(empirical_ntk(model, x1, x2, outputs="diagonal"),
                               reference.diagonal(dim1=2, dim2=3), rtol=1e-6, atol=1e-10)
    assert not model.training


def test_chunk_sizes_give_identical_kernels(model_and_inputs) -> None:
    model, x = model_and_inputs
    whole = empirical_ntk(model, x, outputs="full")
    for c in (1, 2, 5):
        torch.testing.assert_close(empirical_ntk(model, x, outputs="full", chunk_size=c), whole, rtol=1e-12, atol=1e-12)


def test_probe_and_feature_kernel_match_output_fns() -> None:
    torch.manual_seed(2)
    x = torch.randn(6, 10, dtype=torch.float64)
    model = with_bn_statistics(build_model("mlp", n_classes=3, in_shape=(10,), widths=(8, 4)).double(), x)
    theta, theta_h = ntk_probe(model, x)
    torch.testing.assert_close(theta, empirical_ntk(model, x, outputs="diagonal"))
    features = brute_force(model, x, x, output_fn=lambda m, xx: m.features(xx)).diagonal(dim1=2, dim2=3)
    torch.testing.assert_close(theta_h, features, rtol=1e-6, atol=1e-10)
    torch.testing.assert_close(feature_kernel(model, x, layer="body", outputs="diagonal"), features, rtol=1e-6, atol=1e-10)


def test_bad_input() -> None:
    model = build_model("mlp", n_classes=2, in_shape=(4,), widths=(3,))
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="outputs"):
        empirical_ntk(model, x, outputs="sum")
    with pytest.raises(ValueError, match="same sample shape"):
        empirical_ntk(model, x, torch.randn(3, 5))
    with pytest.raises(ValueError, match="no submodule"):
        feature_kernel(model, x, layer="nope")
    with pytest.raises(ValueError, match="chunk_size"):
        empirical_ntk(model, x, chunk_size=0)
