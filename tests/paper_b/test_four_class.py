"""ncutils.paper_b.four_class: the d0 → ∞ NC1 for C levels, one-vs-rest separability, the 4-class AK task."""

from __future__ import annotations

import numpy as np
import pytest

from ncutils.data import FOUR_CLASS_MEANS
from ncutils.paper_b import limit_nc1
from ncutils.paper_b.four_class import limit_nc1_levels, one_vs_rest_separable, run_adaptive_kernel


def test_limit_reduces_to_the_data_and_to_two_classes() -> None:
    # the linear kernel K_1 is the data: NC1 = s² / mean_c (m_c − m̄)²
    levels = np.array(FOUR_CLASS_MEANS)
    assert limit_nc1_levels("linear", "erf", levels, 0.5) == pytest.approx(0.25 / np.var(levels), rel=1e-12)
    for kernel in ("nngp", "ntk"):
        for act in ("erf", "relu"):
            assert limit_nc1_levels(kernel, act, [-2.0, 2.0], 0.5) == pytest.approx(limit_nc1(kernel, act, 2.0, 0.5),
                                                                                    rel=1e-12)
    with pytest.raises(ValueError, match="distinct class levels"):
        limit_nc1_levels("nngp", "erf", [1.0, 1.0], 0.5)
    with pytest.raises(ValueError, match="s must be > 0"):
        limit_nc1_levels("nngp", "erf", [1.0, 2.0], 0.0)


def test_one_vs_rest_separability_in_one_dimension() -> None:
    X = np.array([-6.0, -5.0, -2.0, -1.0, 1.0, 2.0, 5.0, 6.0])[:, None]
    y = np.repeat([0, 1, 2, 3], 2)
    assert one_vs_rest_separable(X, y) == {0: True, 1: False, 2: False, 3: True}
    with pytest.raises(ValueError, match="one label per sample"):
        one_vs_rest_separable(X, y[:-1])


def test_adaptive_kernel_task_is_seeded_and_records_its_stages() -> None:
    cfg = {"N": 16, "d0": 2, "rep": 0, "variant": "code"}
    a, b = run_adaptive_kernel(cfg), run_adaptive_kernel(cfg)
    assert a == b
    assert a["converged"] and a["failure"] is None and a["failed_C"] is None
    assert a["stages_done"] == a["stages_total"] == len(a["nc1_per_stage"]) - 1 == len(a["residuals"]) - 1
    assert min(a["sigma_min_eig"]) > 0


def test_adaptive_kernel_task_rejects_bad_configs() -> None:
    with pytest.raises(ValueError, match="unknown config key"):
        run_adaptive_kernel({"N": 16, "d0": 2, "rep": 0, "mu": 2.0})
    with pytest.raises(ValueError, match="unknown variant"):
        run_adaptive_kernel({"N": 16, "d0": 2, "rep": 0, "variant": "magic"})
    with pytest.raises(ValueError, match="multiple of 4"):
        run_adaptive_kernel({"N": 18, "d0": 2, "rep": 0})
