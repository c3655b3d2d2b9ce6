"""ncutils.data.gaussian: the mixtures are seeded, class-sorted and validated."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data import gaussian_mixture
from ncutils.kernels import nngp_fc2


def test_gaussian_mixture_is_seeded_sorted_and_validated() -> None:
    a, b = gaussian_mixture([3, 5], 4, seed=7), gaussian_mixture([3, 5], 4, seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    assert list(a.y) == [0] * 3 + [1] * 5 and set(a.targets) == {-1.0, 1.0}
    four = gaussian_mixture([2, 2, 2, 2], 3, means=(-6, -2, 2, 6), seed=0)
    assert list(four.targets[::2]) == [-3, -1, 1, 3]
    with pytest.raises(ValueError, match="class sizes"):
        gaussian_mixture([3], 4)
    with pytest.raises(ValueError, match="activation"):
        nngp_fc2(a.X, activation="tanh")
    with pytest.raises(ValueError, match="NaN"):
        nngp_fc2(np.full((2, 2), np.nan))


def test_four_class_mixture_is_the_official_one() -> None:
    from ncutils.data import FOUR_CLASS_MEANS, four_class_mixture

    d = four_class_mixture(16, 3, seed=5)
    e = gaussian_mixture([4, 4, 4, 4], 3, means=FOUR_CLASS_MEANS, s=0.5, seed=5)
    np.testing.assert_array_equal(d.X, e.X)
    assert list(d.targets[::4]) == [-3.0, -1.0, 1.0, 3.0] and list(d.y[::4]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="multiple of 4"):
        four_class_mixture(10, 3)
    with pytest.raises(ValueError, match="s must be > 0"):
        four_class_mixture(8, 3, s=0.0)
