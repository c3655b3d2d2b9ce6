"""ncutils.paper_b.expected_nc1: Monte Carlo moments against the d0 → ∞ closed form."""

from __future__ import annotations

import pytest

from ncutils.paper_b import expected_nc1, limit_nc1, monte_carlo_moments, sample_pairs


def test_limits_and_monte_carlo_agree() -> None:
    assert limit_nc1("linear", "relu", 2.0, 0.5) == pytest.approx(0.0625)
    pairs = sample_pairs(2.0, 0.5, 128, 20000, seed=0)
    for k in ("nngp", "ntk"):
        mc = expected_nc1(monte_carlo_moments(pairs, k, "erf"))
        assert mc == pytest.approx(limit_nc1(k, "erf", 2.0, 0.5), rel=0.05)
    with pytest.raises(ValueError, match="unknown kernel"):
        limit_nc1("rbf", "erf", 2.0, 0.5)
