"""ncutils.paper_b.adaptive_kernel: gradient, NNGP start, label (in)dependence of the two variants, the label term's
closed form, failures reported, diagnostics and the task."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data import gaussian_mixture
from ncutils.kernels import nngp_fc2
from ncutils.nc import nc1_from_kernel
from ncutils.paper_b import erf_kernel, grad_trace, solve_adaptive_kernel
from ncutils.paper_b.adaptive_kernel import _A, run_config, sigma_spectrum

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


def test_code_label_term_closed_form_equals_the_official_broadcast() -> None:
    rng = np.random.default_rng(2)
    M = rng.standard_normal((7, 7))
    Q, y, sigma2 = M @ M.T / 7, np.sign(rng.standard_normal(7)), 1e-2
    Kinv = np.linalg.inv(Q + sigma2 * np.eye(7))
    T = y[None, :] - (Q @ Kinv @ y)[:, None]  # the official N×N broadcast
    np.testing.assert_allclose(_A(Q, y, "code", sigma2), Kinv - sigma2 * T @ T.T, rtol=1e-12, atol=1e-12)


def test_failure_is_reported_not_raised() -> None:
    d = gaussian_mixture([24, 24], 4, seed=1)
    res = solve_adaptive_kernel(d.X, d.targets, "theory", schedule=(1e5, 1.0))
    assert not res.converged and res.failure == "C=1: Σ is not positive semi-definite"
    assert len(res.kernels) == 2  # stage 0 and the stage that converged


def test_sigma_spectrum() -> None:
    d0 = 4
    one = np.ones(d0) / np.sqrt(d0)
    trace, top, cos = sigma_spectrum(np.eye(d0) / d0 + 0.3 * np.outer(one, one))
    assert (trace, top, cos) == (pytest.approx(1.3), pytest.approx(0.55), pytest.approx(1.0))
    with pytest.raises(ValueError, match="square"):
        sigma_spectrum(np.zeros((2, 3)))


def test_task_diagnostics_and_formulas() -> None:
    out = run_config({"N": 32, "d0": 3, "rep": 0, "class_sizes": [16, 16]})
    n = out["stages_done"] + 1
    assert out["converged"] and n == 25
    assert all(len(out[k]) == n for k in ("trace_sigma", "top_eig_sigma", "top_cos_mean", "trace_within",
                                          "trace_between", "residual_per_stage", "nc1_per_stage"))
    assert out["trace_sigma"][0] == pytest.approx(1.0)  # the NNGP's Σ = σ_w²/d0 I
    for t in range(n):
        assert out["trace_within"][t] / out["trace_between"][t] == pytest.approx(out["nc1_per_stage"][t], rel=1e-12)
    # balanced classes: the official kernel formula is exact
    assert out["nc1_ak_official_formula"] == pytest.approx(out["nc1_per_stage"][-1], rel=1e-10)
    assert out["nc1_nngp_official_formula"] == pytest.approx(out["nc1_nngp"], rel=1e-10)
    with pytest.raises(ValueError, match="add up"):
        run_config({"N": 32, "d0": 3, "rep": 0, "class_sizes": [16, 15]})
