"""ncutils.paper_b.expected_nc1: Monte Carlo moments against the d0 → ∞ closed form."""

from __future__ import annotations

import pytest

from ncutils.paper_b import expected_nc1, limit_nc1, monte_carlo_moments, sample_pairs
from ncutils.paper_b.expected_nc1 import gaussian_expectation, limit_moments, limit_moments_by_quadrature


def test_limits_and_monte_carlo_agree() -> None:
    assert limit_nc1("linear", "relu", 2.0, 0.5) == pytest.approx(0.0625)
    pairs = sample_pairs(2.0, 0.5, 128, 20000, seed=0)
    for k in ("nngp", "ntk"):
        mc = expected_nc1(monte_carlo_moments(pairs, k, "erf"))
        assert mc == pytest.approx(limit_nc1(k, "erf", 2.0, 0.5), rel=0.05)
    with pytest.raises(ValueError, match="unknown kernel"):
        limit_nc1("rbf", "erf", 2.0, 0.5)


@pytest.mark.parametrize("mu,s", [(2.0, 0.5), (0.5, 2.0)])
def test_closed_forms_against_quadrature(mu: float, s: float) -> None:
    """Williams' and the arc-cosine closed forms against 2-D quadrature of E[φφ], E[φ'φ'] (independent)."""
    for act in ("erf", "relu"):
        for k in ("nngp", "ntk", "derivative"):
            quad = limit_moments_by_quadrature(k, act, mu, s)
            assert quad == pytest.approx(limit_moments(k, act, mu, s), rel=1e-8, abs=1e-12)
    with pytest.raises(ValueError, match="unknown activation"):
        limit_moments_by_quadrature("nngp", "tanh", 2.0, 0.5)
    with pytest.raises(ValueError, match="unknown kernel"):
        limit_moments_by_quadrature("linear", "erf", 2.0, 0.5)


def test_gaussian_expectation_moments() -> None:
    assert gaussian_expectation(lambda u, v: u * v, 2.0, -0.7, 3.0) == pytest.approx(-0.7, abs=1e-9)
    assert gaussian_expectation(lambda u, v: u * u, 2.0, 2.0, 2.0) == pytest.approx(2.0, abs=1e-9)
