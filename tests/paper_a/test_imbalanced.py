"""ncutils.paper_a.imbalanced: block kernels with unequal class sizes, their spectrum, operator and invariant."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.kernels import block_kernel, block_spectrum
from ncutils.paper_a import integrate_last_layer_flow, invariant, invariant_matrix, targets, zero_invariant_init
from ncutils.paper_a.imbalanced import (
    SizedBlockOperator,
    class_eigenvector,
    class_subspace_matrix,
    collapsed_mean_gram,
    secular_roots,
    sized_block_kernel,
    sized_block_spectrum,
    sized_invariant,
    sized_invariant_alignment,
)
from ncutils.paper_a.invariant import invariant_alignment

KV = (3.0, 1.2, 0.3)
SIZES = (6, 3, 3, 1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2)


def test_equal_sizes_give_table_1() -> None:
    np.testing.assert_array_equal(sized_block_kernel((4, 4, 4), *KV), block_kernel(3, 4, *KV))
    np.testing.assert_allclose(sized_block_spectrum((4, 4, 4), *KV), block_spectrum(3, 4, *KV).sorted_values(),
                               atol=1e-12)
    assert secular_roots((4, 4, 4), *KV) == pytest.approx([block_spectrum(3, 4, *KV).global_], abs=1e-12)


@pytest.mark.parametrize("n", [0.3, -0.2, 0.0])
def test_spectrum_and_eigenvectors_match_eigh(n: float) -> None:
    K = sized_block_kernel(SIZES, 3.0, 1.2, n)
    np.testing.assert_allclose(sized_block_spectrum(SIZES, 3.0, 1.2, n), np.linalg.eigvalsh(K), atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(class_subspace_matrix(SIZES, 3.0, 1.2, n)),
                               np.linalg.eigvalsh(K)[-len(SIZES):], atol=1e-12)
    if n != 0.0:
        for lam in secular_roots(SIZES, 3.0, 1.2, n):
            v = class_eigenvector(SIZES, 3.0, 1.2, n, lam)
            np.testing.assert_allclose(K @ v, lam * v, atol=1e-12)


def test_operator_matches_dense_kernel(rng) -> None:
    op = SizedBlockOperator(SIZES, KV)
    K = sized_block_kernel(SIZES, *KV)
    X = rng.standard_normal((4, sum(SIZES)))
    np.testing.assert_allclose(op.apply(X), X @ K, atol=1e-12)
    np.testing.assert_allclose(op.apply_inverse(X), X @ np.linalg.inv(K), atol=1e-12)
    root = op.apply_sqrt(np.eye(sum(SIZES)))
    np.testing.assert_allclose(root @ root, K, atol=1e-12)


def test_targets_with_sizes() -> None:
    np.testing.assert_array_equal(targets(3, (2, 1, 2)), [[1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 1]])
    np.testing.assert_array_equal(targets(2, (3, 3)), targets(2, 3))


def test_flow_conserves_E_and_class_mean_formula(rng) -> None:
    sizes = (5, 2, 2)
    op = SizedBlockOperator(sizes, KV)
    y = np.repeat(np.arange(3), sizes)
    state0 = zero_invariant_init(3, sizes, 6, op, rng)
    assert np.linalg.norm(invariant_matrix(state0.W, state0.H, op)) < 1e-12
    sol = integrate_last_layer_flow(state0, op, np.array([0.0, 1.0, 5.0]))
    for s in sol.states:
        E = invariant_matrix(s.W, s.H, op)
        assert np.linalg.norm(E) < 1e-9
        np.testing.assert_allclose(sized_invariant(s.W, s.H.T, y, KV), E, atol=1e-10)
    assert sol.losses()[-1] < sol.losses()[0]


def test_class_mean_formula_is_the_official_one_for_equal_sizes(rng) -> None:
    W, H = rng.standard_normal((3, 5)), rng.standard_normal((12, 5))
    y = np.repeat(np.arange(3), 4)
    np.testing.assert_allclose(sized_invariant(W, H, y, KV), invariant(W, H, y, KV), atol=1e-12)


def test_sized_alignment_is_the_cosine_with_a_direct_pseudo_inverse(rng) -> None:
    y = np.repeat(np.arange(len(SIZES)), SIZES)
    W, H = rng.standard_normal((len(SIZES), 5)), rng.standard_normal((len(y), 5))
    rhs = H.T @ np.linalg.pinv(sized_block_kernel(SIZES, *KV)) @ H  # float64, the N × N kernel
    lhs = W.T @ W
    expected = np.sum(lhs * rhs) / (np.linalg.norm(lhs) * np.linalg.norm(rhs))
    assert sized_invariant_alignment(W, H, y, KV) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(sized_invariant(W, H, y, KV), lhs - rhs, atol=1e-10)
    y_eq = np.repeat(np.arange(3), 4)
    H_eq = rng.standard_normal((12, 5))
    assert sized_invariant_alignment(W[:3], H_eq, y_eq, KV) == pytest.approx(invariant_alignment(W[:3], H_eq, y_eq, KV),
                                                                              abs=1e-12)
    with pytest.raises(ValueError, match="not positive definite"):
        sized_invariant_alignment(W, H, y, (1.0, 1.2, 0.3))
    with pytest.raises(ValueError, match="one row per class"):
        sized_invariant_alignment(W[:2], H, y, KV)


def test_collapsed_gram_is_the_balanced_etf() -> None:
    C, m = 4, 5
    mu_class = block_spectrum(C, m, *KV).class_
    expected = np.sqrt(mu_class / m) * (np.eye(C) - np.ones((C, C)) / C)
    np.testing.assert_allclose(collapsed_mean_gram((m,) * C, KV, np.full(C, 1 / C)), expected, atol=1e-12)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        sized_block_kernel((3,), *KV)
    with pytest.raises(ValueError, match="m_2"):
        sized_block_kernel((3, 0), *KV)
    with pytest.raises(ValueError, match="not positive definite"):
        SizedBlockOperator((3, 2), (1.0, 2.0, 0.0)).apply_inverse(np.ones((1, 5)))
    with pytest.raises(ValueError, match="N=5"):
        SizedBlockOperator((3, 2), KV).apply(np.ones((1, 4)))
    with pytest.raises(ValueError, match="one entry per class"):
        collapsed_mean_gram((3, 2), KV, np.zeros(3))
    with pytest.raises(ValueError, match="one size per class"):
        targets(3, (2, 2))
