"""ncutils.kernels.block: identities of the closed-form spectrum (paper A, Table 1) that guard the code."""

from __future__ import annotations

import numpy as np

from ncutils.kernels import block_spectrum


def test_gaps_and_ordering_of_the_closed_forms() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, c, d = np.sort(rng.uniform(0.0, 1.0, size=3)) * np.array([1.0, 1.0, 2.0])
        C, m = int(rng.integers(2, 12)), int(rng.integers(2, 50))
        s = block_spectrum(C, m, d, c, n)
        assert np.isclose(s.global_ - s.class_, C * m * n, rtol=1e-12, atol=1e-12)
        assert np.isclose(s.class_ - s.single, m * (c - n), rtol=1e-12, atol=1e-12)
        assert s.global_ >= s.class_ >= s.single > 0
        assert (s.mult_global, s.mult_class, s.mult_single) == (1, C - 1, C * (m - 1))
