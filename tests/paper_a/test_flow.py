"""ncutils.paper_a.flow: projectors, closed form, the flow (D), the invariant and the initialisations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from ncutils.kernels import block_kernel
from ncutils.paper_a import (
    BlockOperator,
    FlowState,
    integrate_last_layer_flow,
    invariant_matrix,
    random_init,
    residual_closed_form,
    residual_components,
    targets,
    zero_invariant_init,
)

C, M_PER_CLASS, N_FEAT = 3, 4, 7  # classes, samples per class, features
KV = (3.0, 1.2, 0.3)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1)


def test_operator_matches_explicit_kernel_and_its_functions(rng) -> None:
    op = BlockOperator(C, M_PER_CLASS, KV)
    K = block_kernel(C, M_PER_CLASS, *KV)
    X = rng.standard_normal((5, C * M_PER_CLASS))
    np.testing.assert_allclose(op.apply(X), X @ K, atol=1e-12)
    np.testing.assert_allclose(op.apply_inverse(X), X @ np.linalg.inv(K), atol=1e-12)
    root = op.apply_sqrt(np.eye(C * M_PER_CLASS))
    np.testing.assert_allclose(root @ root, K, atol=1e-12)


def test_components_are_the_projections(rng) -> None:
    R = rng.standard_normal((C, C * M_PER_CLASS))
    parts = residual_components(R, C, M_PER_CLASS)
    np.testing.assert_allclose(sum(parts.values()), R, atol=1e-14)
    assert abs(np.sum(parts["global"] * parts["single"])) < 1e-12
    assert abs(np.sum(parts["class"] * parts["single"])) < 1e-12
    np.testing.assert_allclose(parts["single"].reshape(C, C, M_PER_CLASS).sum(axis=2), 0, atol=1e-12)


def test_closed_form_equals_matrix_exponential(rng) -> None:
    op = BlockOperator(C, M_PER_CLASS, (1.0, 0.6, 0.1))
    R0 = rng.standard_normal((C, C * M_PER_CLASS))
    for t in (0.1, 1.0, 3.0):
        np.testing.assert_allclose(residual_closed_form(R0, op, t), R0 @ expm(-t * block_kernel(C, M_PER_CLASS, 1.0, 0.6, 0.1)),
                                   atol=1e-12)


def test_invariant_is_conserved_and_decays_with_weight_decay(rng) -> None:
    op = BlockOperator(C, M_PER_CLASS, KV)
    s0 = random_init(C, M_PER_CLASS, N_FEAT, rng)
    times = np.array([0.0, 0.5, 5.0, 50.0])
    sol = integrate_last_layer_flow(s0, op, times)
    E0 = invariant_matrix(s0.W, s0.H, op)
    assert sol.losses()[-1] < 1e-8 * sol.losses()[0]
    for s in sol.states:
        assert np.linalg.norm(invariant_matrix(s.W, s.H, op) - E0) <= 1e-9 * max(1, np.linalg.norm(E0))
    lam = 0.05
    decayed = integrate_last_layer_flow(s0, op, times, weight_decay=lam)
    for t, s in zip(times, decayed.states):
        assert np.linalg.norm(invariant_matrix(s.W, s.H, op) - np.exp(-2 * lam * t) * E0) < 1e-8


def test_time_varying_kernel_breaks_conservation(rng) -> None:
    op, other = BlockOperator(C, M_PER_CLASS, KV), BlockOperator(C, M_PER_CLASS, (3.0, 0.3, 0.3))
    s0 = random_init(C, M_PER_CLASS, N_FEAT, rng)
    sol = integrate_last_layer_flow(s0, lambda t: op if t < 0.5 else other, np.array([0.0, 5.0]))
    E_end = invariant_matrix(sol.states[-1].W, sol.states[-1].H, other)
    assert np.linalg.norm(E_end - invariant_matrix(s0.W, s0.H, op)) > 1e-3


def test_zero_invariant_init_is_centred_with_E_zero(rng) -> None:
    op = BlockOperator(C, M_PER_CLASS, KV)
    s = zero_invariant_init(C, M_PER_CLASS, N_FEAT, op, rng)
    assert np.linalg.norm(invariant_matrix(s.W, s.H, op)) < 1e-12
    assert np.abs(s.H.mean(axis=1)).max() < 1e-12
    np.testing.assert_allclose(s.b, 1.0 / C)


def test_bad_input_is_rejected(rng) -> None:
    op = BlockOperator(C, M_PER_CLASS, KV)
    with pytest.raises(ValueError, match="samples as columns"):
        residual_components(np.zeros((C, C * M_PER_CLASS + 1)), C, M_PER_CLASS)
    with pytest.raises(ValueError, match="do not fit"):
        mismatched = FlowState(np.zeros((C, 2)), np.zeros((3, C * M_PER_CLASS)), np.zeros(C))
        integrate_last_layer_flow(mismatched, op, np.array([0, 1.0]))
    with pytest.raises(ValueError, match="weight_decay"):
        integrate_last_layer_flow(random_init(C, M_PER_CLASS, N_FEAT, rng), op, np.array([0, 1.0]), weight_decay=-1)
    with pytest.raises(ValueError, match="positive definite"):
        BlockOperator(C, M_PER_CLASS, (1.0, 2.0, 0.0)).apply_inverse(np.zeros((1, C * M_PER_CLASS)))
    with pytest.raises(ValueError, match="p >= C"):
        zero_invariant_init(C, M_PER_CLASS, 2, op, rng)


def test_targets_have_no_single_part() -> None:
    assert np.abs(residual_components(targets(C, M_PER_CLASS), C, M_PER_CLASS)["single"]).max() == 0.0


def test_end_points_agree_with_dense_output_and_need_increasing_times(rng) -> None:
    K = BlockOperator(C, M_PER_CLASS, KV)
    s0 = random_init(C, M_PER_CLASS, N_FEAT, rng)
    times = np.array([0.0, 0.5, 2.0, 10.0])
    dense = integrate_last_layer_flow(s0, K, times)
    ends = integrate_last_layer_flow(s0, K, times, end_points=True)
    for a, b in zip(dense.states, ends.states):
        assert np.allclose(a.H, b.H, atol=1e-8) and np.allclose(a.W, b.W, atol=1e-8)
    with pytest.raises(ValueError, match="start at 0"):
        integrate_last_layer_flow(s0, K, np.array([0.0, 2.0, 1.0]), end_points=True)
