"""ncutils.paper_a.balancedness: the two-layer linear flow, balancedness D, E⁺ and the inputs and starts of chapter e04."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.paper_a import BlockOperator, FlowState, integrate_last_layer_flow, invariant_matrix
from ncutils.paper_a import balancedness as bal

C, M_PER_CLASS, N_FEAT = 3, 4, 5
N = C * M_PER_CLASS
K = BlockOperator(C, M_PER_CLASS, (3.0, 1.2, 0.3))
TIMES = np.array([0.0, 0.1, 1.0, 5.0])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(3)


def test_inputs_have_the_block_gram(rng) -> None:
    for d in (N, N + 3):
        X = bal.inputs_with_gram(K, d, rng)
        assert X.shape == (d, N)
        np.testing.assert_allclose(X.T @ X, K.apply(np.eye(N)), atol=1e-13)
    with pytest.raises(ValueError, match="d must be at least"):
        bal.inputs_with_gram(K, N - 1, rng)


@pytest.mark.parametrize("d", [N, N + 4, 7])
def test_pinv_invariant_is_balancedness_plus_the_unreached_part(rng, d) -> None:
    X = rng.standard_normal((d, N))
    s = bal.random_linear_init(d, C, N_FEAT, rng)
    Pp = bal.orthogonal_projector(X)
    np.testing.assert_allclose(Pp @ X, 0.0, atol=1e-12)
    expected = bal.balancedness(s.W, s.V) + s.V @ Pp @ s.V.T
    np.testing.assert_allclose(bal.pinv_invariant(s.W, s.V @ X, X.T @ X), expected, atol=1e-10)
    if d <= N:  # rank X = d: the inputs span everything, E⁺ = D
        np.testing.assert_allclose(bal.pinv_invariant(s.W, s.V @ X, X.T @ X), bal.balancedness(s.W, s.V), atol=1e-10)


def test_pinv_invariant_equals_paper_invariant_for_invertible_kernel(rng) -> None:
    W, H = rng.standard_normal((C, N_FEAT)), rng.standard_normal((N_FEAT, N))
    np.testing.assert_allclose(bal.pinv_invariant(W, H, K.apply(np.eye(N))), invariant_matrix(W, H, K), atol=1e-12)


def test_linear_flow_is_paper_flow_with_the_input_gram(rng) -> None:
    X = bal.inputs_with_gram(K, N + 2, rng)
    s0 = bal.random_linear_init(N + 2, C, N_FEAT, rng)
    lin = bal.integrate_linear_layer_flow(s0, X, C, TIMES)
    ref = integrate_last_layer_flow(FlowState(s0.W, s0.V @ X, s0.b), K, TIMES, rtol=1e-12, atol=1e-14)
    for s, r in zip(lin.states, ref.states):
        np.testing.assert_allclose(lin.features(s), r.H, atol=1e-9)
        np.testing.assert_allclose(s.W, r.W, atol=1e-9)
    np.testing.assert_allclose(lin.losses(), ref.losses(), rtol=1e-8)
    D = [bal.balancedness(s.W, s.V) for s in lin.states]
    assert max(np.linalg.norm(d - D[0]) for d in D) < 1e-10


def test_frozen_features_break_conservation(rng) -> None:
    X = rng.standard_normal((4, N)) / 2
    s0 = bal.random_linear_init(4, C, N_FEAT, rng)
    G = rng.standard_normal((N_FEAT, N)) @ (np.eye(N) - np.linalg.pinv(X) @ X)
    sol = bal.integrate_linear_layer_flow(s0, X, C, TIMES, frozen=G)
    E = [bal.pinv_invariant(s.W, sol.features(s), X.T @ X) for s in sol.states]
    assert np.linalg.norm(E[-1] - E[0]) > 1e-3
    with pytest.raises(ValueError, match="frozen must be"):
        bal.integrate_linear_layer_flow(s0, X, C, TIMES, frozen=G[:, :-1])


def test_balanced_init_is_balanced_and_centred(rng) -> None:
    X = bal.inputs_with_gram(K, N + 2, rng)
    s = bal.balanced_init(X, C, N_FEAT, rng)
    np.testing.assert_allclose(bal.balancedness(s.W, s.V), 0.0, atol=1e-12)
    np.testing.assert_allclose((s.V @ X).sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(s.b, 1.0 / C)
    with pytest.raises(ValueError, match="need d > C"):
        bal.balanced_init(X[:C], C, N_FEAT, rng)


def test_bad_input_is_named(rng) -> None:
    X = rng.standard_normal((N, N))
    s = bal.random_linear_init(N, C, N_FEAT, rng)
    with pytest.raises(ValueError, match="not a multiple of C"):
        bal.integrate_linear_layer_flow(s, X[:, :-1], C, TIMES)
    with pytest.raises(ValueError, match="do not fit X"):
        bal.integrate_linear_layer_flow(bal.LinearLayerState(s.V[:, :-1], s.W, s.b), X, C, TIMES)
    with pytest.raises(ValueError, match="do not chain"):
        bal.balancedness(s.W, s.V[:-1])
    with pytest.raises(ValueError, match="do not fit"):
        bal.pinv_invariant(s.W, s.V @ X, np.eye(N - 1))
    with pytest.raises(TypeError, match="X is None"):
        bal.orthogonal_projector(None)
