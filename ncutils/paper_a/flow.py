"""Gradient flow of the last-layer model under block-structured kernels (paper A, §1.3–1.5 of the notes).

Conventions: as in paper A, features are columns here, ``H ∈ ℝ^{p×N}``, outputs and residuals
are ``F, R ∈ ℝ^{C×N}``, samples are ordered class by class with ``m`` per class. (The measures
of :mod:`ncutils.nc` take rows = samples: pass ``H.T``.)

Equations (D), with K^h the scalar feature kernel and Γ the scalar NTK, both block structured:

    Ḟ = −RΓ,   Ḣ = −WᵀRK^h,   Ẇ = −RHᵀ,   ḃ = −R1,   R = WH + b1ᵀ − Y.

Kernels act through their spectral projectors (P_g, P_cl, P_s) in O(N) per row, so no N×N
matrix is formed and m = 5000 per class costs as little as m = 12.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.integrate import solve_ivp

from ncutils.kernels.block import BlockSpectrum, BlockValues, block_spectrum


class KernelOperator(Protocol):
    """What the flow needs of a feature kernel: its classes, sizes and its action X ↦ X K (and K⁻¹, K^{1/2})."""

    C: int
    m: int | tuple[int, ...]

    def apply(self, X: np.ndarray) -> np.ndarray: ...

    def apply_inverse(self, X: np.ndarray) -> np.ndarray: ...

    def apply_sqrt(self, X: np.ndarray) -> np.ndarray: ...


# ----------------------------------------------------------------- projectors
def _check_rows(X: np.ndarray, C: int, m: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != C * m:
        raise ValueError(f"expected a (rows, N={C * m}) array with samples as columns, got shape {X.shape}")
    return X


def project_global(X: np.ndarray, C: int, m: int) -> np.ndarray:
    """X P_g: every column replaced by the mean column (P_g = 11ᵀ/N)."""
    X = _check_rows(X, C, m)
    return np.broadcast_to(X.mean(axis=1, keepdims=True), X.shape).copy()


def project_class_means(X: np.ndarray, C: int, m: int) -> np.ndarray:
    """X P_1: every column replaced by its class's mean column (P_1 = I_C ⊗ 11ᵀ/m)."""
    X = _check_rows(X, C, m)
    means = X.reshape(X.shape[0], C, m).mean(axis=2, keepdims=True)
    return np.broadcast_to(means, (X.shape[0], C, m)).reshape(X.shape).copy()


def residual_components(R: np.ndarray, C: int, m: int) -> dict[str, np.ndarray]:
    """Split R = R_global + R_class + R_single with P_g, P_cl = P_1 − P_g, P_s = I − P_1 (§1.3)."""
    Rg = project_global(R, C, m)
    R1 = project_class_means(R, C, m)
    return {"global": Rg, "class": R1 - Rg, "single": np.asarray(R, dtype=np.float64) - R1}


@dataclass(frozen=True)
class BlockOperator:
    """A scalar block kernel with values (d, c, n) on C classes of m samples, applied through its spectrum."""

    C: int
    m: int
    values: BlockValues

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", BlockValues(*(float(v) for v in self.values)))

    @property
    def spectrum(self) -> BlockSpectrum:
        return block_spectrum(self.C, self.m, *self.values)

    def apply_function(self, X: np.ndarray, f: Callable[[float], float]) -> np.ndarray:
        """X f(K) = f(λ_g) X P_g + f(λ_c) X P_cl + f(λ_s) X P_s (K symmetric)."""
        s = self.spectrum
        parts = residual_components(X, self.C, self.m)
        return f(s.global_) * parts["global"] + f(s.class_) * parts["class"] + f(s.single) * parts["single"]

    def apply(self, X: np.ndarray) -> np.ndarray:
        """X K."""
        return self.apply_function(X, lambda lam: lam)

    def apply_inverse(self, X: np.ndarray) -> np.ndarray:
        """X K⁻¹ (needs every eigenvalue > 0)."""
        s = self.spectrum
        if min(s.global_, s.class_, s.single) <= 0:
            raise ValueError(f"kernel {self.values} is not positive definite: eigenvalues {s[:3]}")
        return self.apply_function(X, lambda lam: 1.0 / lam)

    def apply_sqrt(self, X: np.ndarray) -> np.ndarray:
        """X K^{1/2}."""
        return self.apply_function(X, np.sqrt)


def targets(C: int, m: int | tuple[int, ...]) -> np.ndarray:
    """One-hot targets Y = I_C ⊗ 1_mᵀ (C×N); with class sizes ``m = (m_1, …, m_C)``, class c's m_c columns e_c."""
    if isinstance(m, tuple):
        if len(m) != C:
            raise ValueError(f"got {len(m)} class sizes for C={C} classes: pass one size per class")
        return np.repeat(np.eye(C), m, axis=1)
    return np.kron(np.eye(C), np.ones((1, m)))


# ----------------------------------------------------------------- output dynamics
def residual_closed_form(R0: np.ndarray, ntk: BlockOperator, t: float) -> np.ndarray:
    """R(t) = R(0) e^{−Γt} for constant Γ, through its three eigenvalues (§1.3)."""
    return ntk.apply_function(R0, lambda lam: np.exp(-lam * t))


def fitted_log_slope(times: np.ndarray, norms: np.ndarray) -> float:
    """Least-squares slope of log‖·‖ against t."""
    return float(np.polyfit(np.asarray(times, float), np.log(np.asarray(norms, float)), 1)[0])


# ----------------------------------------------------------------- the last-layer flow (D)
@dataclass
class FlowState:
    """W (C×p), H (p×N), b (C,) at one time."""

    W: np.ndarray
    H: np.ndarray
    b: np.ndarray

    def residual(self, Y: np.ndarray) -> np.ndarray:
        return self.W @ self.H + self.b[:, None] - Y


@dataclass
class FlowSolution:
    """States of (D) at the requested times, with the kernels used."""

    times: np.ndarray
    states: list[FlowState]
    C: int
    m: int | tuple[int, ...]

    def losses(self) -> np.ndarray:
        Y = targets(self.C, self.m)
        return np.array([0.5 * np.sum(s.residual(Y) ** 2) for s in self.states])


def _pack(s: FlowState) -> np.ndarray:
    return np.concatenate([s.W.ravel(), s.H.ravel(), s.b.ravel()])


def _unpack(y: np.ndarray, C: int, p: int, N: int) -> FlowState:
    W = y[: C * p].reshape(C, p)
    H = y[C * p : C * p + p * N].reshape(p, N)
    return FlowState(W, H, y[C * p + p * N :])


def integrate_last_layer_flow(
    state0: FlowState,
    feature_kernel: KernelOperator | Callable[[float], KernelOperator],
    times: np.ndarray,
    *,
    weight_decay: float = 0.0,
    rtol: float = 1e-11,
    atol: float = 1e-12,
    end_points: bool = False,
) -> FlowSolution:
    """Integrate (D) for W, H, b with SciPy's DOP853 and return the states at ``times``.

    ``feature_kernel`` is K^h, or a function t ↦ K^h(t) for a time-varying kernel (a control
    under which E is not conserved); any operator with ``C``, ``m`` and ``apply`` will do (e.g. the
    unequal-class-size kernel of :mod:`ncutils.paper_a.imbalanced`). ``weight_decay`` λ adds −λW and −λH (an
    extension, not in the paper; then E(t) = e^{−2λt}E(0)). ``end_points``: integrate from each requested time
    to the next and return the solver's end points, not its dense-output interpolation between steps (whose
    error, ~1e-11 here, would dominate checks of conserved quantities at the 1e-10 level).
    """
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    kernel_at = feature_kernel if callable(feature_kernel) else (lambda t: feature_kernel)
    k0 = kernel_at(0.0)
    C, m = k0.C, k0.m
    W0, H0, b0 = (np.asarray(a, dtype=np.float64) for a in (state0.W, state0.H, state0.b))
    p, N = H0.shape
    Y = targets(C, m)
    if W0.shape != (C, p) or b0.shape != (C,) or N != Y.shape[1]:
        raise ValueError(f"shapes W {W0.shape}, H {H0.shape}, b {b0.shape} do not fit C={C}, m={m}")
    times = np.asarray(times, dtype=np.float64)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        s = _unpack(y, C, p, N)
        R = s.residual(Y)
        dW = -R @ s.H.T - weight_decay * s.W
        dH = -kernel_at(t).apply(s.W.T @ R) - weight_decay * s.H
        db = -R.sum(axis=1)
        return np.concatenate([dW.ravel(), dH.ravel(), db])

    y0 = _pack(FlowState(W0, H0, b0))
    if not end_points:
        return FlowSolution(times, [_unpack(y, C, p, N) for y in _solve(rhs, 0.0, times, y0, rtol, atol).y.T], C, m)
    if times[0] != 0.0 or np.any(np.diff(times) <= 0):
        raise ValueError("with end_points=True, times must start at 0 and increase strictly")
    ys = [y0]
    for t0, t1 in zip(times[:-1], times[1:]):
        ys.append(_solve(rhs, float(t0), None, ys[-1], rtol, atol, t_end=float(t1)).y[:, -1])
    return FlowSolution(times, [_unpack(y, C, p, N) for y in ys], C, m)


def _solve(rhs: Callable, t0: float, t_eval: np.ndarray | None, y0: np.ndarray, rtol: float, atol: float,
           t_end: float | None = None):
    t_end = float(t_eval[-1]) if t_end is None else t_end
    sol = solve_ivp(rhs, (t0, t_end), y0, method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol


def invariant_matrix(W: np.ndarray, H: np.ndarray, feature_kernel: KernelOperator) -> np.ndarray:
    """E = WᵀW − H (K^h)⁻¹ Hᵀ (paper A's invariant, §1.4), via the spectral inverse."""
    W = np.asarray(W, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    return W.T @ W - feature_kernel.apply_inverse(H) @ H.T


# ----------------------------------------------------------------- initialisations
def random_init(C: int, m: int | tuple[int, ...], p: int, rng: np.random.Generator, scale: float = 0.5) -> FlowState:
    """W (C×p), H (p×N) ~ scale·N(0, 1), b = 0 (generic: E ≠ 0); ``m`` may be the tuple of class sizes."""
    N = sum(m) if isinstance(m, tuple) else C * m
    return FlowState(scale * rng.standard_normal((C, p)), scale * rng.standard_normal((p, N)), np.zeros(C))


def zero_invariant_init(C: int, m: int | tuple[int, ...], p: int, feature_kernel: KernelOperator,
                        rng: np.random.Generator, scale: float = 0.5) -> FlowState:
    """The E = 0, centred initialisation (notes §1.5): H = Wᵀ Vᵀ K^{1/2}, b = 1/C.

    V ∈ ℝ^{N×C} has orthonormal columns with Vᵀ1 = 0, so H K⁻¹ Hᵀ = WᵀW and H1 = 0. ``m`` may be
    the tuple of class sizes (then ``feature_kernel`` must act on N = Σ m_c samples).
    """
    if p < C:
        raise ValueError(f"need p >= C features for this initialisation, got p={p}, C={C}")
    N = sum(m) if isinstance(m, tuple) else C * m
    G = rng.standard_normal((N, C))
    G -= G.mean(axis=0, keepdims=True)
    V, _ = np.linalg.qr(G)
    W = scale * rng.standard_normal((C, p))
    H = feature_kernel.apply_sqrt(W.T @ V.T)
    return FlowState(W, H, np.full(C, 1.0 / C))
