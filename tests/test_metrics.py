"""ncutils.metrics: properties of the NC metrics, kernel statistics and the invariant."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

from ncutils import metrics as M
from ncutils.dynamics import BlockOperator, invariant_matrix
from ncutils.kernels import block_kernel, within_class_basis

NC1_VARIANTS = (M.nc1, M.nc1_trace_ratio, M.nc1_std, M.nc1_rel)
settings.register_profile("book", max_examples=25, deadline=None)
settings.load_profile("book")


def sample(seed: int, sizes: list[int], n: int = 6, spread: float = 1.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    centres = 3.0 * rng.standard_normal((len(sizes), n))
    return centres[y] + spread * rng.standard_normal((len(y), n)), y


def simplex_etf(C: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """C centred unit vectors in ℝ^n with pairwise cosine −1/(C−1), randomly rotated (rows)."""
    E = np.eye(C) - np.ones((C, C)) / C
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return np.pad(E, ((0, 0), (0, n - C))) @ Q


sizes_strategy = st.lists(st.integers(2, 9), min_size=2, max_size=4)


@given(seed=st.integers(0, 10_000), sizes=sizes_strategy)
def test_nc1_variants_are_nonnegative_and_invariant(seed: int, sizes: list[int]) -> None:
    H, y = sample(seed, sizes)
    rng = np.random.default_rng(seed + 1)
    R = special_ortho_group.rvs(H.shape[1], random_state=seed)
    shift = rng.standard_normal(H.shape[1])
    for f in NC1_VARIANTS:
        base = f(H, y)
        assert base >= 0
        if f is not M.nc1_std:  # the official NC1 averages per-coordinate stds: not rotation invariant
            assert f(H @ R, y) == pytest.approx(base, rel=1e-8)
        assert f(H + shift, y) == pytest.approx(base, rel=1e-8)
        if f is not M.nc1_std:  # the official NC1 is scale dependent by design
            assert f(3.7 * H, y) == pytest.approx(base, rel=1e-8)
    assert M.nc1_std(3.7 * H, y) == pytest.approx(3.7 * M.nc1_std(H, y), rel=1e-12)


@given(seed=st.integers(0, 10_000), sizes=sizes_strategy)
def test_kernel_nc1_equals_feature_nc1_in_any_order(seed: int, sizes: list[int]) -> None:
    H, y = sample(seed, sizes)
    perm = np.random.default_rng(seed).permutation(len(y))
    K = H @ H.T
    exact = M.nc1_from_kernel(K[perm][:, perm], y[perm])
    assert exact == pytest.approx(M.nc1_trace_ratio(H, y), rel=1e-10, abs=1e-12)


def test_official_kernel_formula_is_exact_only_when_balanced() -> None:
    H, y = sample(0, [20, 20])
    assert M.nc1_from_kernel(H @ H.T, y, exact=False) == pytest.approx(M.nc1_trace_ratio(H, y), rel=1e-10)
    H, y = sample(0, [8, 32])
    assert abs(M.nc1_from_kernel(H @ H.T, y, exact=False) - M.nc1_trace_ratio(H, y)) > 1e-3


def test_collapsed_features_give_zero_nc1_and_etf_gives_zero_nc2_nc3() -> None:
    rng = np.random.default_rng(3)
    C, n, m = 4, 7, 5
    means = 2.5 * simplex_etf(C, n, rng) + rng.standard_normal(n)  # scaled, rotated, shifted
    y = np.repeat(np.arange(C), m)
    H = means[y]
    for f in NC1_VARIANTS:
        assert f(H, y) == pytest.approx(0.0, abs=1e-12)
    assert M.nc2(H, y) == pytest.approx(0.0, abs=1e-10)
    assert M.nc2_equinorm(H, y) == pytest.approx(0.0, abs=1e-10)
    assert M.nc2_equiangularity(H, y) == pytest.approx(0.0, abs=1e-10)
    W = 0.3 * (means - means.mean(axis=0))
    assert M.nc3(H, y, W) == pytest.approx(0.0, abs=1e-10)
    assert M.nc4(H, y, W, np.zeros(C)) == 0.0
    assert M.nc2(H + 0.5 * rng.standard_normal(H.shape), y) > 1e-3
    assert M.nc3(H, y, rng.standard_normal((C, n))) > 0.1


def test_papyan_nc1_matches_explicit_pseudo_inverse() -> None:
    H, y = sample(5, [6, 6, 6])
    mu = np.stack([H[y == c].mean(0) for c in range(3)])
    dev = H - mu[y]
    Sw = dev.T @ dev / len(y)
    Sb = (mu - H.mean(0)).T @ (mu - H.mean(0)) / 3
    assert M.nc1(H, y) == pytest.approx(np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10)) / 3, rel=1e-8)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_torch_inputs_are_reduced_on_their_device_and_give_the_same_numbers(device) -> None:
    H, y = sample(2, [5, 7, 6])
    W, b = np.random.default_rng(3).standard_normal((3, H.shape[1])), np.array([0.1, -0.2, 0.3])
    Ht, yt = torch.tensor(H, dtype=torch.float32, device=device), torch.tensor(y, device=device)
    H32 = Ht.double().cpu().numpy()  # the same float32 values, through numpy
    for name in ("nc1", "nc1_trace_ratio", "nc1_std", "nc1_rel", "nc2", "nc2_equinorm", "nc2_equiangularity"):
        assert getattr(M, name)(Ht, yt) == pytest.approx(getattr(M, name)(H32, y), rel=1e-12), name
    assert M.nc3(Ht, yt, W) == pytest.approx(M.nc3(H32, y, W), rel=1e-12)
    assert M.nc4(Ht, yt, torch.tensor(W, device=device), b) == M.nc4(H32, y, W, b)
    np.testing.assert_allclose(M.class_means(Ht, yt), M.class_means(H32, y), rtol=1e-12)
    balanced = np.repeat([0, 1, 2], 5)
    kernel_values = (3.0, 1.0, 0.5)
    np.testing.assert_allclose(M.invariant(W, Ht[:15], torch.tensor(balanced, device=device), kernel_values),
                               M.invariant(W, H32[:15], balanced, kernel_values), rtol=1e-12, atol=1e-12)


def test_block_stats_and_alignment() -> None:
    C, k = 10, 6
    y = np.repeat(np.arange(C), 2 * k)
    K = block_kernel(C, 2 * k, 3.0, 1.2, 0.3)
    assert M.block_stats(K, y) == pytest.approx((3.0, 1.2, 0.3))
    assert M.block_stats_official(np.stack([K, K]), y) == pytest.approx((3.0, 1.2, 0.3))
    assert M.kernel_alignment_official(K, y) == pytest.approx(0.80064, abs=1e-5)
    K6 = block_kernel(C, k, 3.0, 1.2, 0.3)
    assert M.kernel_alignment(K6, np.repeat(np.arange(C), k)) == pytest.approx(0.80064, abs=1e-5)
    assert M.kernel_alignment_official(block_kernel(C, 2 * k, 1, 1, 0), y) == pytest.approx(1.0)
    assert M.kernel_alignment_official(block_kernel(C, 2 * k, 1, 0, 0), y) == pytest.approx(1 / np.sqrt(k))


def test_within_class_basis_reproduces_the_scatter() -> None:
    H, y = sample(7, [5, 5, 5])
    Q2 = np.kron(np.eye(3), within_class_basis(5))
    H2 = H.T @ Q2
    mu = np.stack([H[y == c].mean(0) for c in range(3)])
    dev = H - mu[y]
    np.testing.assert_allclose(H2 @ H2.T, dev.T @ dev, atol=1e-10)


def test_invariant_equals_explicit_inversion_and_alignment_is_one_when_proportional() -> None:
    rng = np.random.default_rng(4)
    C, m, n, kv = 3, 4, 5, (3.0, 1.2, 0.3)
    H = rng.standard_normal((C * m, n))
    W = rng.standard_normal((C, n))
    y = np.repeat(np.arange(C), m)
    explicit = W.T @ W - H.T @ np.linalg.inv(block_kernel(C, m, *kv)) @ H
    np.testing.assert_allclose(M.invariant(W, H, y, kv), explicit, atol=1e-10)
    np.testing.assert_allclose(invariant_matrix(W, H.T, BlockOperator(C, m, kv)), explicit, atol=1e-10)
    assert M.invariant_alpha(kv, C, m) == pytest.approx(m * 0.3 / (3 - 1.2 + m * (1.2 - 0.3) + C * m * 0.3))
    # a classifier with WᵀW = 2·H K⁻¹ Hᵀ (C = 4 rows >= n = 3 columns) has alignment exactly 1
    C4, n3 = 4, 3
    H3, y4 = rng.standard_normal((C4 * m, n3)), np.repeat(np.arange(C4), m)
    rhs = H3.T @ np.linalg.inv(block_kernel(C4, m, *kv)) @ H3
    W_prop = np.vstack([np.sqrt(2.0) * np.linalg.cholesky(rhs).T, np.zeros((1, n3))])
    assert M.invariant_alignment(W_prop, H3, y4, kv) == pytest.approx(1.0, abs=1e-12)
    assert M.invariant_alignment(W, H, y, kv) < 1.0
    assert M.invariant_relative_norm(W, H, y, kv) == pytest.approx(np.linalg.norm(explicit) / np.linalg.norm(W.T @ W))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda H, y: M.nc1(H, y[:-1]), "one label per sample"),
        (lambda H, y: M.nc1_std(H, np.r_[y[:-1], 9]), "at least 2"),
        (lambda H, y: M.nc1(H, np.zeros_like(y)), "single class"),
        (lambda H, y: M.nc1(np.where(np.eye(*H.shape) > 0, np.nan, H), y), "NaN"),
        (lambda H, y: M.nc1_from_kernel(H, y), "square"),
        (lambda H, y: M.nc1_from_kernel(np.triu(H @ H.T), y), "not symmetric"),
        (lambda H, y: M.nc3(H, y, np.zeros((2, 2))), "W must be"),
        (lambda H, y: M.nc1(np.zeros_like(H), y), "coincide"),
        (lambda H, y: M.block_stats_official(H @ H.T, y[::-1]), "class-sorted"),
    ],
)
def test_bad_input_raises_a_named_value_error(call, match) -> None:
    H, y = sample(1, [4, 4, 4])
    with pytest.raises(ValueError, match=match):
        call(H, y)
