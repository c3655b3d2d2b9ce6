"""ncutils.paper_b.adaptive_kernel: gradient, NNGP start, label (in)dependence of the two variants."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data import gaussian_mixture
from ncutils.kernels import nngp_fc2
from ncutils.nc import nc1_from_kernel
from ncutils.paper_b import erf_kernel, grad_trace, solve_adaptive_kernel
from ncutils.paper_b.adaptive_kernel import run_config

SHORT = (1e5, 1e4, 2000.0, 500.0)


def test_analytic_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3))
    S = np.eye(3) / 3 + 0.02
    A = rng.standard_normal((6, 6))
    A = A + A.T
    g = grad_trace(X, S, A, 0.5)
    for i, j in [(0, 0), (0, 2), (1, 2)]:
        E = np.zeros((3, 3))
        E[i, j] = E[j, i] = 1e-6
        num = (np.trace(A @ erf_kernel(X, S + E, 0.5)[0]) - np.trace(A @ erf_kernel(X, S - E, 0.5)[0])) / 2e-6
        assert num == pytest.approx(g[i, j] + (g[j, i] if i != j else 0), rel=1e-6)


def test_starts_at_nngp_lowers_nc1_and_code_variant_ignores_labels() -> None:
    d = gaussian_mixture([24, 24], 4, seed=1)
    res = solve_adaptive_kernel(d.X, d.targets, "code", schedule=SHORT)
    assert res.converged and max(res.residuals) < 5e-4
    np.testing.assert_allclose(res.kernels[0], nngp_fc2(d.X, activation="erf") / 128, atol=1e-12)
    assert nc1_from_kernel(res.kernel, d.y) < nc1_from_kernel(res.kernels[0], d.y)
    shuffled = solve_adaptive_kernel(d.X, np.random.default_rng(0).permutation(d.targets), "code", schedule=SHORT)
    assert nc1_from_kernel(shuffled.kernel, d.y) == pytest.approx(nc1_from_kernel(res.kernel, d.y), rel=1e-2)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="variant"):
        solve_adaptive_kernel(np.zeros((4, 2)), np.zeros(4), "magic")
    with pytest.raises(ValueError, match="need X"):
        solve_adaptive_kernel(np.zeros((4, 2)), np.zeros(3))


def test_task_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown config key"):
        run_config({"N": 8, "d0": 2, "rep": 0, "solver": "lbfgs"})
