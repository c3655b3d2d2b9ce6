"""Paper B's second data set, the official 4-class mixture (notes §1.5): its d0 → ∞ kernel NC1, linear
separability, and the adaptive kernel on it with every solver failure recorded.

The mixture has class means m_c·1 with m = (−6, −2, 2, 6), s = 0.5 and *scalar* targets m_c/2. A linear
scalar readout can order these classes; a one-vs-rest linear classifier cannot isolate a middle one at
small d0 (:func:`one_vs_rest_separable` tells which, by linear programming).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linprog

from ncutils.core import task
from ncutils.core.checks import as_float64, classes_and_labels, real_scalar
from ncutils.data.gaussian import four_class_mixture, paper_seed
from ncutils.kernels.two_layer import nngp_fc2
from ncutils.nc.kernel import nc1_from_kernel
from ncutils.paper_b.adaptive_kernel import VARIANTS, solve_adaptive_kernel
from ncutils.paper_b.expected_nc1 import kernel_from_pre_activation

__all__ = ["AK_CONFIG_KEYS", "limit_nc1_levels", "one_vs_rest_separable", "run_adaptive_kernel"]


def limit_nc1_levels(kernel: str, activation: str, levels: Sequence[float], s: float) -> float:
    """NC1 of a 2-layer kernel on balanced classes N(m_c·1, s²I) as d0 → ∞ and n → ∞ (notes §1.6 for C levels).

    K_1 concentrates on m_c² + s² (diagonal) and m_c m_c' (distinct samples), so with D_c = κ(diagonal) and
    B_cc' = κ(m_c m_c'): Tr Σ_W = mean_c (D_c − B_cc), Tr Σ_B = mean_c B_cc − mean_{c,c'} B_cc'.
    """
    m = as_float64(levels, "levels", ndim=1, what="(C,) class mean levels")
    s = real_scalar(s, "s", positive=True)
    if len(m) < 2 or len(np.unique(m)) != len(m):
        raise ValueError(f"need at least 2 distinct class levels, got {list(m)}")
    a = m**2 + s**2
    B = kernel_from_pre_activation(np.outer(m, m), a[:, None], a[None, :], kernel, activation)
    D = kernel_from_pre_activation(a, a, a, kernel, activation)
    between = np.mean(np.diag(B)) - np.mean(B)
    if between <= 0:
        raise ValueError(f"the limit between-class trace is {between:.3g} <= 0: NC1 is undefined for these levels")
    return float(np.mean(D - np.diag(B)) / between)


def one_vs_rest_separable(X: Any, y: Any) -> dict[Any, bool]:
    """For each class c: is there a hyperplane with class c strictly on one side and every other sample on the
    other? (Feasibility of s_i (wᵀx_i + b) ≥ 1, s_i = ±1, a linear programme.)"""
    X = as_float64(X, "X", ndim=2, what="(N, d0) inputs")
    classes, labels = classes_and_labels(y, X.shape[0])
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    result = {}
    for c, cls in enumerate(classes):
        sign = np.where(labels == c, 1.0, -1.0)
        lp = linprog(np.zeros(A.shape[1]), A_ub=-sign[:, None] * A, b_ub=-np.ones(len(sign)),
                     bounds=[(None, None)] * A.shape[1], method="highs")
        if lp.status not in (0, 2):  # 0: feasible (solved), 2: infeasible
            raise RuntimeError(f"linear programme for class {cls!r} ended with status {lp.status}: {lp.message}")
        result[cls.item() if hasattr(cls, "item") else cls] = lp.status == 0
    return result


AK_CONFIG_KEYS = frozenset({"N", "d0", "rep", "variant"})


@task(config_keys=AK_CONFIG_KEYS)
def run_adaptive_kernel(config: dict[str, Any], workdir: Path | None = None) -> dict[str, Any]:
    """The adaptive kernel (EoS, notes §2) of one draw of the 4-class mixture with its scalar targets (a task).

    Returns NC1 per annealing stage up to the last *valid* one, the Erf NNGP's NC1, and the failures: the
    solver's own (stage C and exception; the residual of each converged stage) and a Σ that is not positive
    semi-definite (a stage the solver accepted whose Q_1 is not a Gram matrix), with Σ's smallest eigenvalue.
    """
    N, d0 = config["N"], config["d0"]
    variant = config.get("variant", "code")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: use one of {VARIANTS}")
    data = four_class_mixture(N, d0, seed=paper_seed(config["rep"], d0, N))
    res = solve_adaptive_kernel(data.X, data.targets, variant)
    nc1, min_eig, failure, failed_C = [], [], res.failure, None
    for k, (S, K) in enumerate(zip(res.sigmas, res.kernels)):
        lam = float(np.linalg.eigvalsh(S).min())
        if lam <= 0:
            failure, failed_C = f"C={res.schedule[k - 1]:g}: Σ not positive definite", res.schedule[k - 1]
            break
        min_eig.append(lam)
        nc1.append(nc1_from_kernel(K, data.y))
    if failed_C is None and not res.converged:
        failed_C = res.schedule[len(res.kernels) - 1]
    stages = len(nc1) - 1
    return {"nc1_per_stage": nc1, "nc1_nngp": nc1_from_kernel(nngp_fc2(data.X, activation="erf"), data.y),
            "residuals": res.residuals[: stages + 1], "sigma_min_eig": min_eig, "converged": failure is None,
            "failure": failure, "failed_C": failed_C, "stages_done": stages, "stages_total": len(res.schedule),
            "last_residual": res.residuals[stages], "invalid_stage_residual":
            res.residuals[stages + 1] if stages + 1 < len(res.residuals) else None}
