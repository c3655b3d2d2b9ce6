"""The data-aware adaptive kernel of a 2-layer Erf network: equations of state (paper B notes §2).

Following Seroussi, Naveh & Ringel (2023), the first-layer weights are Gaussian, w ~ N(0, Σ), with
Σ the fixed point of

    Σ⁻¹ = (d0/σ_w²) I + (1/C) ∇_Σ Tr[A Q_1(Σ)]  (A held fixed),
    Q_1(Σ)_μν = σ_a² (2/π) arcsin( 2x_μᵀΣx_ν / √((1+2x_μᵀΣx_μ)(1+2x_νᵀΣx_ν)) ),

annealed over C from 10⁵ down to the width 500, each stage solved by Newton–Krylov warm-started
at the previous Σ. Two choices of A:

- ``theory``: A = (Q_1+σ²I)⁻¹ − t̄t̄ᵀ with t̄ = (Q_1+σ²I)⁻¹ y (the GP marginal likelihood's gradient);
- ``code``: the official code's A = (Q_1+σ²I)⁻¹ − σ² TTᵀ with T_ij = y_j − f̄_i (an N×N broadcast
  and σ² instead of σ⁻⁴), which makes the kernel practically independent of the labels.

Everything is float64; ∇_Σ is analytic, and Q_1(Σ) and ∇_Σ Tr[A Q_1] (independent of C) are evaluated
once per Σ. A stage that does not converge, or whose Σ is not positive semi-definite (Q_1 is then no
kernel), is reported in the result (status and residual per stage), never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import NoConvergence, newton_krylov

from ncutils.core import task
from ncutils.data.gaussian import gaussian_mixture, paper_seed
from ncutils.kernels.two_layer import nngp_fc2
from ncutils.nc.kernel import kernel_traces, nc1_from_kernel

VARIANTS = ("code", "theory")
SCHEDULE: tuple[float, ...] = tuple(float(c) for c in
                                    list(range(100_000, 9_999, -10_000)) + list(range(9_000, 999, -1_000))
                                    + list(range(900, 499, -100)))


@dataclass(frozen=True)
class EoSParameters:
    """Hyper-parameters of the official configs (notes §2.2)."""

    sigma_w2: float = 1.0
    sigma_a2: float = 1.0 / 128
    sigma2: float = 1e-6
    f_tol: float = 5e-4
    maxiter: int = 100


@dataclass
class AdaptiveKernelResult:
    """Σ and Q_1 after each annealing stage, with the solver's status and residual per stage."""

    variant: str
    schedule: list[float]
    sigmas: list[np.ndarray] = field(default_factory=list)
    kernels: list[np.ndarray] = field(default_factory=list)
    residuals: list[float] = field(default_factory=list)
    converged: bool = True
    failure: str | None = None

    @property
    def kernel(self) -> np.ndarray:
        """Q_1 at the last stage reached."""
        return self.kernels[-1]


def erf_kernel(X: np.ndarray, Sigma: np.ndarray, sigma_a2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Q_1(Σ), the arcsin argument u and the normalisers a_μ = 1 + 2x_μᵀΣx_μ."""
    S = X @ Sigma @ X.T
    a = 1.0 + 2.0 * np.diag(S)
    u = 2.0 * S / np.sqrt(np.outer(a, a))
    return sigma_a2 * (2 / np.pi) * np.arcsin(u), u, a


def grad_trace(X: np.ndarray, Sigma: np.ndarray, A: np.ndarray, sigma_a2: float) -> np.ndarray:
    """∇_Σ Tr[A Q_1(Σ)] for symmetric A (analytic chain rule through u_μν)."""
    _, u, a = erf_kernel(X, Sigma, sigma_a2)
    return _grad_from(X, u, a, A, sigma_a2)


def _grad_from(X: np.ndarray, u: np.ndarray, a: np.ndarray, A: np.ndarray, sigma_a2: float) -> np.ndarray:
    B = A * sigma_a2 * (2 / np.pi) / np.sqrt(1.0 - u**2)
    r = np.sum(B * u, axis=1)
    return X.T @ (2.0 * B / np.sqrt(np.outer(a, a))) @ X - X.T @ (X * (2.0 * r / a)[:, None])


def _A(Q: np.ndarray, y: np.ndarray, variant: str, sigma2: float) -> np.ndarray:
    Kinv = np.linalg.inv(Q + sigma2 * np.eye(len(y)))
    if variant == "theory":
        t = Kinv @ y
        return Kinv - np.outer(t, t)
    f_bar = Q @ (Kinv @ y)
    # the official T_ij = y_j − f̄_i (an N×N broadcast); its TTᵀ in closed form, O(N²) instead of O(N³):
    # (TTᵀ)_ik = yᵀy − (f̄_i + f̄_k) Σ_j y_j + N f̄_i f̄_k
    TTt = y @ y - (f_bar[:, None] + f_bar[None, :]) * y.sum() + len(y) * np.outer(f_bar, f_bar)
    return Kinv - sigma2 * TTt


def solve_adaptive_kernel(X: np.ndarray, y: np.ndarray, variant: str = "code",
                          params: EoSParameters = EoSParameters(),
                          schedule: tuple[float, ...] = SCHEDULE) -> AdaptiveKernelResult:
    """Anneal the equations of state from the NNGP (Σ = σ_w²/d0 I) through ``schedule``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: use one of {VARIANTS}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"need X (N, d0) and targets y (N,), got {X.shape} and {y.shape}")
    d0 = X.shape[1]
    Sigma = params.sigma_w2 / d0 * np.eye(d0)
    result = AdaptiveKernelResult(variant, list(schedule))
    result.sigmas.append(Sigma)
    result.kernels.append(erf_kernel(X, Sigma, params.sigma_a2)[0])
    result.residuals.append(0.0)

    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def terms(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Q_1(S) and ∇_Σ Tr[A(S) Q_1] at S, both independent of C: memoised for the stage's last point,
        which is also the next stage's first."""
        key = S.tobytes()
        if key not in cache:
            Q, u, a = erf_kernel(X, S, params.sigma_a2)
            cache.clear()
            cache[key] = Q, _grad_from(X, u, a, _A(Q, y, variant, params.sigma2), params.sigma_a2)
        return cache[key]

    def F(flat: np.ndarray, C: float) -> np.ndarray:
        S = flat.reshape(d0, d0)
        S = 0.5 * (S + S.T)
        G = np.linalg.inv(d0 / params.sigma_w2 * np.eye(d0) + terms(S)[1] / C)
        return (S - G).ravel()

    for C in schedule:
        try:
            flat = newton_krylov(lambda z, C=C: F(z, C), Sigma.ravel(), f_tol=params.f_tol, maxiter=params.maxiter,
                                 inner_maxiter=100)
        except (NoConvergence, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
            result.converged = False
            result.failure = f"C={C:g}: {type(exc).__name__}"
            break
        Sigma = 0.5 * (flat.reshape(d0, d0) + flat.reshape(d0, d0).T)
        if np.linalg.eigvalsh(Sigma)[0] < 0:
            result.converged, result.failure = False, f"C={C:g}: Σ is not positive semi-definite"
            break
        residual = float(np.abs(F(Sigma.ravel(), C)).max())
        Q = terms(Sigma)[0]
        if not np.isfinite(Q).all():
            result.converged, result.failure = False, f"C={C:g}: non-finite kernel"
            break
        result.sigmas.append(Sigma)
        result.kernels.append(Q)
        result.residuals.append(residual)
    return result


def sigma_spectrum(Sigma: np.ndarray) -> tuple[float, float, float]:
    """(Tr Σ, top eigenvalue of Σ, |cos| of its eigenvector with the mean direction 1/√d0) (notes §2.3)."""
    Sigma = np.asarray(Sigma, dtype=np.float64)
    if Sigma.ndim != 2 or Sigma.shape[0] != Sigma.shape[1]:
        raise ValueError(f"Σ must be a square (d0, d0) matrix, got shape {Sigma.shape}")
    values, vectors = np.linalg.eigh(Sigma)
    return float(np.trace(Sigma)), float(values[-1]), float(abs(vectors[:, -1].sum()) / np.sqrt(len(values)))


CONFIG_KEYS = frozenset({"N", "d0", "rep", "variant", "mu", "s", "permute_labels", "class_sizes"})


@task(config_keys=CONFIG_KEYS)
def run_config(config: dict, workdir: Path | None = None) -> dict:
    """The adaptive kernel of one Gaussian-mixture draw (balanced, or ``class_sizes``): its NC1 per stage
    and the NNGP's (both formulas at the end), and the solver's diagnostics per stage (a task)."""
    N, d0 = config["N"], config["d0"]
    sizes = config.get("class_sizes") or [N // 2, N - N // 2]
    if sum(sizes) != N:
        raise ValueError(f"class_sizes {sizes} do not add up to N = {N}")
    seed = paper_seed(config["rep"], d0, N)
    data = gaussian_mixture(sizes, d0, mu=config.get("mu", 2.0), s=config.get("s", 0.5), seed=seed)
    targets = data.targets
    if config.get("permute_labels"):
        targets = np.random.default_rng(seed + 1).permutation(targets)
    res = solve_adaptive_kernel(data.X, targets, config.get("variant", "code"))
    nngp = nngp_fc2(data.X, activation="erf")
    spectra = np.array([sigma_spectrum(S) for S in res.sigmas])
    traces = np.array([kernel_traces(K, data.y) for K in res.kernels])
    return {"nc1_per_stage": [nc1_from_kernel(K, data.y) for K in res.kernels], "nc1_nngp": nc1_from_kernel(nngp, data.y),
            "nc1_ak_official_formula": nc1_from_kernel(res.kernel, data.y, exact=False),
            "nc1_nngp_official_formula": nc1_from_kernel(nngp, data.y, exact=False),
            "converged": res.converged, "failure": res.failure, "max_residual": max(res.residuals),
            "stages_done": len(res.kernels) - 1, "residual_per_stage": res.residuals,
            "trace_sigma": spectra[:, 0].tolist(), "top_eig_sigma": spectra[:, 1].tolist(),
            "top_cos_mean": spectra[:, 2].tolist(), "trace_within": traces[:, 0].tolist(),
            "trace_between": traces[:, 1].tolist()}
