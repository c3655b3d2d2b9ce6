"""ncutils.nc: properties of the NC measures and of the kernel statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

from ncutils import nc
from ncutils.kernels import BlockValues, block_kernel, within_class_basis

NC1_VARIANTS = (nc.nc1, nc.nc1_trace_ratio, nc.nc1_std, nc.nc1_rel)
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
        if f is not nc.nc1_std:  # the official NC1 averages per-coordinate stds: not rotation invariant
            assert f(H @ R, y) == pytest.approx(base, rel=1e-8)
        assert f(H + shift, y) == pytest.approx(base, rel=1e-8)
        if f is not nc.nc1_std:  # the official NC1 is scale dependent by design
            assert f(3.7 * H, y) == pytest.approx(base, rel=1e-8)
    assert nc.nc1_std(3.7 * H, y) == pytest.approx(3.7 * nc.nc1_std(H, y), rel=1e-12)


@given(seed=st.integers(0, 10_000), sizes=sizes_strategy)
def test_kernel_nc1_equals_feature_nc1_in_any_order(seed: int, sizes: list[int]) -> None:
    H, y = sample(seed, sizes)
    perm = np.random.default_rng(seed).permutation(len(y))
    K = H @ H.T
    exact = nc.nc1_from_kernel(K[perm][:, perm], y[perm])
    assert exact == pytest.approx(nc.nc1_trace_ratio(H, y), rel=1e-10, abs=1e-12)


def test_official_kernel_formula_is_exact_only_when_balanced() -> None:
    H, y = sample(0, [20, 20])
    assert nc.nc1_from_kernel(H @ H.T, y, exact=False) == pytest.approx(nc.nc1_trace_ratio(H, y), rel=1e-10)
    H, y = sample(0, [8, 32])
    assert abs(nc.nc1_from_kernel(H @ H.T, y, exact=False) - nc.nc1_trace_ratio(H, y)) > 1e-3


def test_collapsed_features_give_zero_nc1_and_etf_gives_zero_nc2_nc3() -> None:
    rng = np.random.default_rng(3)
    C, n, m = 4, 7, 5
    means = 2.5 * simplex_etf(C, n, rng) + rng.standard_normal(n)  # scaled, rotated, shifted
    y = np.repeat(np.arange(C), m)
    H = means[y]
    for f in NC1_VARIANTS:
        assert f(H, y) == pytest.approx(0.0, abs=1e-12)
    assert nc.nc2(H, y) == pytest.approx(0.0, abs=1e-10)
    assert nc.nc2_equinorm(H, y) == pytest.approx(0.0, abs=1e-10)
    assert nc.nc2_equiangularity(H, y) == pytest.approx(0.0, abs=1e-10)
    W = 0.3 * (means - means.mean(axis=0))
    assert nc.nc3(H, y, W) == pytest.approx(0.0, abs=1e-10)
    assert nc.nc4(H, y, W, np.zeros(C)) == 0.0
    assert nc.nc2(H + 0.5 * rng.standard_normal(H.shape), y) > 1e-3
    assert nc.nc3(H, y, rng.standard_normal((C, n))) > 0.1


def test_papyan_nc1_matches_explicit_pseudo_inverse() -> None:
    H, y = sample(5, [6, 6, 6])
    mu = np.stack([H[y == c].mean(0) for c in range(3)])
    dev = H - mu[y]
    Sw = dev.T @ dev / len(y)
    Sb = (mu - H.mean(0)).T @ (mu - H.mean(0)) / 3
    assert nc.nc1(H, y) == pytest.approx(np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10)) / 3, rel=1e-8)


def test_block_values_and_alignment() -> None:
    C, k = 10, 6
    y = np.repeat(np.arange(C), 2 * k)
    K = block_kernel(C, 2 * k, 3.0, 1.2, 0.3)
    assert nc.block_values(K, y) == pytest.approx((3.0, 1.2, 0.3))
    assert isinstance(nc.block_values(K, y), BlockValues)
    assert nc.block_values_official(np.stack([K, K]), y) == pytest.approx((3.0, 1.2, 0.3))
    assert nc.kernel_alignment_official(K, y) == pytest.approx(0.80064, abs=1e-5)
    K6 = block_kernel(C, k, 3.0, 1.2, 0.3)
    assert nc.kernel_alignment(K6, np.repeat(np.arange(C), k)) == pytest.approx(0.80064, abs=1e-5)
    assert nc.kernel_alignment_official(block_kernel(C, 2 * k, 1, 1, 0), y) == pytest.approx(1.0)
    assert nc.kernel_alignment_official(block_kernel(C, 2 * k, 1, 0, 0), y) == pytest.approx(1 / np.sqrt(k))


def test_within_class_basis_reproduces_the_scatter() -> None:
    H, y = sample(7, [5, 5, 5])
    Q2 = np.kron(np.eye(3), within_class_basis(5))
    H2 = H.T @ Q2
    mu = np.stack([H[y == c].mean(0) for c in range(3)])
    dev = H - mu[y]
    np.testing.assert_allclose(H2 @ H2.T, dev.T @ dev, atol=1e-10)


def test_measures_of_class_stats_equal_measures_of_features() -> None:
    H, y = sample(9, [5, 7, 6])
    W = np.random.default_rng(1).standard_normal((3, H.shape[1]))
    stats = nc.class_stats(H, y, scatter=True)
    for f in (*NC1_VARIANTS, nc.nc2, nc.nc2_equinorm, nc.nc2_equiangularity, nc.class_means):
        assert np.array_equal(f(stats), f(H, y)), f.__name__
    assert nc.nc3(stats, W=W) == nc.nc3(H, y, W)
    assert nc.nc_metrics(stats, W) == {"nc1": nc.nc1(H, y), "nc1_trace_ratio": nc.nc1_trace_ratio(H, y),
                                       "nc1_std": nc.nc1_std(H, y), "nc1_rel": nc.nc1_rel(H, y), "nc2": nc.nc2(H, y),
                                       "nc3": nc.nc3(H, y, W)}


def test_stats_without_scatter_or_with_labels_are_refused() -> None:
    H, y = sample(9, [5, 7, 6])
    with pytest.raises(ValueError, match="scatter=True"):
        nc.nc1(nc.class_stats(H, y))
    with pytest.raises(TypeError, match="not with ClassStats"):
        nc.nc2(nc.class_stats(H, y), y)
    with pytest.raises(TypeError, match="labels y are needed"):
        nc.nc2(H)


def test_kernel_traces_are_the_feature_traces() -> None:
    from ncutils.nc.kernel import kernel_traces

    H, y = sample(1, [8, 32])
    means = np.stack([H[y == c].mean(axis=0) for c in (0, 1)])
    within = sum(((H[y == c] - means[c]) ** 2).sum() for c in (0, 1)) / len(y)
    between = ((means - H.mean(axis=0)) ** 2).sum() / 2  # class means about the global mean, averaged over classes
    assert kernel_traces(H @ H.T, y) == (pytest.approx(within, rel=1e-10), pytest.approx(between, rel=1e-10))
