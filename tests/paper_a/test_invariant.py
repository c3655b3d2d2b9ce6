"""ncutils.paper_a.invariant: the official class-mean formula of E against explicit inversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils.kernels import block_kernel
from ncutils.nc import block_values_official
from ncutils.paper_a import (
    BlockOperator,
    declared_feature_kernels,
    invariant,
    invariant_alignment,
    invariant_alpha,
    invariant_matrix,
    invariant_relative_norm,
)
from tests.devices import DEVICES


def test_invariant_equals_explicit_inversion_and_alignment_is_one_when_proportional() -> None:
    rng = np.random.default_rng(4)
    C, m, n, kv = 3, 4, 5, (3.0, 1.2, 0.3)
    H = rng.standard_normal((C * m, n))
    W = rng.standard_normal((C, n))
    y = np.repeat(np.arange(C), m)
    explicit = W.T @ W - H.T @ np.linalg.inv(block_kernel(C, m, *kv)) @ H
    np.testing.assert_allclose(invariant(W, H, y, kv), explicit, atol=1e-10)
    np.testing.assert_allclose(invariant_matrix(W, H.T, BlockOperator(C, m, kv)), explicit, atol=1e-10)
    assert invariant_alpha(kv, C, m) == pytest.approx(m * 0.3 / (3 - 1.2 + m * (1.2 - 0.3) + C * m * 0.3))
    # a classifier with WᵀW = 2·H K⁻¹ Hᵀ (C = 4 rows >= n = 3 columns) has alignment exactly 1
    C4, n3 = 4, 3
    H3, y4 = rng.standard_normal((C4 * m, n3)), np.repeat(np.arange(C4), m)
    rhs = H3.T @ np.linalg.inv(block_kernel(C4, m, *kv)) @ H3
    W_prop = np.vstack([np.sqrt(2.0) * np.linalg.cholesky(rhs).T, np.zeros((1, n3))])
    assert invariant_alignment(W_prop, H3, y4, kv) == pytest.approx(1.0, abs=1e-12)
    assert invariant_alignment(W, H, y, kv) < 1.0
    assert invariant_relative_norm(W, H, y, kv) == pytest.approx(np.linalg.norm(explicit) / np.linalg.norm(W.T @ W))




@pytest.mark.parametrize("device", DEVICES)
def test_torch_features_give_the_same_invariant(device) -> None:
    rng = np.random.default_rng(2)
    H, W, y = rng.standard_normal((15, 4)), rng.standard_normal((3, 4)), np.repeat([0, 1, 2], 5)
    Ht = torch.tensor(H, dtype=torch.float32, device=device)
    H32 = Ht.double().cpu().numpy()
    np.testing.assert_allclose(invariant(W, Ht, torch.tensor(y, device=device), (3.0, 1.0, 0.5)),
                               invariant(W, H32, y, (3.0, 1.0, 0.5)), rtol=1e-12, atol=1e-12)


def test_invariant_needs_balanced_classes_and_a_positive_kernel() -> None:
    rng = np.random.default_rng(3)
    H, W = rng.standard_normal((10, 4)), rng.standard_normal((2, 4))
    with pytest.raises(ValueError, match="equally many"):
        invariant(W, H, np.repeat([0, 1], [4, 6]), (3.0, 1.2, 0.3))
    with pytest.raises(ValueError, match="non-positive"):
        invariant(W, H, np.repeat([0, 1], 5), (1.0, 1.2, 0.3))


def test_alpha_lies_in_zero_to_one_over_C() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        kn, kc, kd = np.sort(rng.uniform(0.0, 1.0, size=3)) * np.array([1.0, 1.0, 2.0])
        C, m = int(rng.integers(2, 12)), int(rng.integers(2, 50))
        assert 0.0 <= invariant_alpha((kd, kc, kn), C, m) * C < 1.0


def test_declared_feature_kernels_repeat_the_last_feature_as_the_official_jit_clamp():
    rng = np.random.default_rng(3)
    n, N, declared = 5, 8, 9
    J = rng.standard_normal((n, N, 3))
    theta_h = J @ J.transpose(0, 2, 1)  # one Gram matrix per feature
    stack = declared_feature_kernels(theta_h, declared)
    assert stack.shape == (declared, N, N)
    np.testing.assert_array_equal(stack[: n - 1], theta_h[: n - 1])
    for j in range(n - 1, declared):
        np.testing.assert_array_equal(stack[j], theta_h[n - 1])
    # κ of the declared stack: the per-feature block values with the last feature weighted declared − n + 1 times
    y = np.repeat(np.arange(2), N // 2)
    per_feature = np.array([block_values_official(k, y) for k in theta_h])
    weights = np.r_[np.ones(n - 1), declared - n + 1] / declared
    np.testing.assert_allclose(block_values_official(stack, y), weights @ per_feature, rtol=1e-12)
    np.testing.assert_array_equal(declared_feature_kernels(theta_h, n), theta_h)


def test_declared_feature_kernels_reject_bad_input():
    with pytest.raises(ValueError, match="at least 5"):
        declared_feature_kernels(np.zeros((5, 4, 4)), 3)
    with pytest.raises(ValueError, match=r"\(n, N, N\)"):
        declared_feature_kernels(np.zeros((4, 4)), 6)
