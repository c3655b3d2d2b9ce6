"""Maps of where paper B's inequalities hold (notes §1.6–§1.8): expected NC1 of the 2-layer kernels over
a grid of (μ, s), with Monte Carlo standard errors, its d0 → ∞ closed form, and NC1 of single draws.

Data: x = c μ 1_{d0} + s z with class sign c = ∓1 and z ~ N(0, I). With σ_w = 1, σ_b = 0 the
pre-activation kernel of a pair is

    K_1(x, x') = c c' μ² + μ s (c ζ' + c' ζ) + s² ω,    ζ = 1ᵀz/d0, ω = zᵀz'/d0,

so one set of standardised statistics (ζ, ζ', ρ = |z|²/d0, ρ', ω) serves every grid point (common
random numbers: the maps are smooth, and every kernel of a point uses the same pairs, so their ratios
have small errors). The expected NC1 is a ratio of linear functions of D, B, B× (see
:mod:`ncutils.paper_b.expected_nc1`); its standard error comes from the delta method on log NC1, with
the three independent pair sets as independent groups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from ncutils.core.checks import as_float64, count, real_scalar
from ncutils.data import gaussian_mixture
from ncutils.kernels.two_layer import ACTIVATIONS
from ncutils.paper_b.expected_nc1 import KERNELS, kernel_from_pre_activation

Spec = tuple[str, str]  # (kernel, activation), e.g. ("ntk", "erf")
_CHUNK_ELEMENTS = 2_000_000  # largest array per kernel evaluation (memory: a few tens of MB)


class Estimate(NamedTuple):
    """A log expected NC1 (or a log ratio of two) and its Monte Carlo standard error (0 where exact)."""

    value: np.ndarray
    se: np.ndarray


def _spec(spec: Spec) -> Spec:
    kernel, activation = spec
    if kernel not in KERNELS or activation not in ACTIVATIONS:
        raise ValueError(f"unknown (kernel, activation) {spec!r}: kernel in {KERNELS}, activation in {ACTIVATIONS}")
    return kernel, activation


def map_grid(ratios: Sequence[float], scales: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """μ and s on a grid of (len(scales), len(ratios)) points: row i has s = scales[i], column j μ/s = ratios[j]."""
    r = as_float64(ratios, "ratios", ndim=1, what="μ/s values")
    sc = as_float64(scales, "scales", ndim=1, what="s values")
    if np.any(r <= 0) or np.any(sc <= 0):
        raise ValueError("ratios μ/s and scales s must be > 0: give positive grids (e.g. np.geomspace(0.25, 10, 12))")
    s = np.repeat(sc[:, None], len(r), axis=1)
    return r[None, :] * s, s


def _grid(mu, s) -> tuple[np.ndarray, np.ndarray]:
    mu = as_float64(mu, "mu")
    s = as_float64(s, "s")
    if mu.shape != s.shape:
        raise ValueError(f"mu and s must have the same shape (use map_grid), got {mu.shape} and {s.shape}")
    if np.any(mu <= 0) or np.any(s <= 0):
        raise ValueError("mu and s must be > 0 everywhere on the grid")
    return mu, s


class PairStatistics(NamedTuple):
    """Class signs (c, c') and standardised statistics of the three independent pair sets (each (3, n)):
    the diagonal (x' = x), the same class, and across classes (c = −1, c' = +1)."""

    c: np.ndarray
    cp: np.ndarray
    zeta: np.ndarray
    zetap: np.ndarray
    rho: np.ndarray
    rhop: np.ndarray
    omega: np.ndarray


def pair_statistics(d0: int, n_pairs: int, seed: int) -> PairStatistics:
    """Draw ``n_pairs`` pairs (z, z') ~ N(0, I_d0) per pair set and reduce them to (ζ, ζ', ρ, ρ', ω)."""
    d0, n = count(d0, "d0"), count(n_pairs, "n_pairs", minimum=2)
    rng = np.random.default_rng(seed)
    same_sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    c = np.stack([same_sign, same_sign, -np.ones(n)])
    cp = np.stack([same_sign, same_sign, np.ones(n)])
    stats = []
    for t in range(3):
        z = rng.standard_normal((n, d0))
        zp = z if t == 0 else rng.standard_normal((n, d0))
        stats.append((z.mean(1), zp.mean(1), np.sum(z * z, 1) / d0, np.sum(zp * zp, 1) / d0, np.sum(z * zp, 1) / d0))
    zeta, zetap, rho, rhop, omega = (np.stack(a) for a in zip(*stats))
    return PairStatistics(c, cp, zeta, zetap, rho, rhop, omega)


def _pre_activation(st: PairStatistics, mu: np.ndarray, s: np.ndarray):
    """K_1(x,x'), K_1(x,x), K_1(x',x') of every pair at every grid point (flat mu, s): each (3, g, n)."""
    m, sd = mu[None, :, None], s[None, :, None]
    c, cp, zeta, zetap, rho, rhop, omega = (a[:, None, :] for a in st)
    k12 = c * cp * m**2 + m * sd * (c * zetap + cp * zeta) + sd**2 * omega
    k11 = m**2 + 2 * c * m * sd * zeta + sd**2 * rho
    k22 = m**2 + 2 * cp * m * sd * zetap + sd**2 * rhop
    return k12, k11, k22


def _trace_coefficients(n_per_class: float) -> tuple[float, float, float]:
    """(α, β, γ) of E Tr Σ_W = α(D − B), E Tr Σ_B = βD + γB − B×/2 (notes §1.6)."""
    if np.isinf(n_per_class):
        return 1.0, 0.0, 0.5
    n = real_scalar(n_per_class, "n_per_class")
    if n < 2:
        raise ValueError(f"n_per_class must be >= 2 (or inf), got {n}")
    return 1 - 1 / n, 1 / (2 * n), (n - 1) / (2 * n)


def _log_nc1_and_gradient(moments: np.ndarray, n_per_class: float) -> tuple[np.ndarray, np.ndarray]:
    """log E-NC1 from moments (3, ...) = (D, B, B×) and its gradient with respect to them (3, ...)."""
    alpha, beta, gamma = _trace_coefficients(n_per_class)
    D, B, Bx = moments
    within, between = alpha * (D - B), beta * D + gamma * B - Bx / 2
    if np.any(within <= 0) or np.any(between <= 0):
        raise ValueError("an expected trace is <= 0 on the grid: NC1 is undefined there (Monte Carlo noise at very "
                         "low signal: increase n_pairs or raise the smallest μ/s)")
    grad = np.stack([alpha / within - beta / between, -alpha / within - gamma / between,
                     np.broadcast_to(0.5 / between, np.shape(D))])
    return np.log(within) - np.log(between), grad


def expected_log_nc1_map(specs: Sequence[Spec], mu, s, d0: float, n_pairs: int = 20000, seed: int = 0,
                         n_per_class: float = np.inf, contrasts: Sequence[tuple[Spec, Spec]] = ()
                         ) -> tuple[dict[Spec, Estimate], dict[tuple[Spec, Spec], Estimate]]:
    """log E-NC1 of each (kernel, activation) on the grid (mu, s) and log ratios ``contrasts`` (a, b) =
    log E-NC1(a) − log E-NC1(b), each with its standard error (notes §1.6).

    ``d0 = inf``: the closed form (K_1 → μ² + s², ±μ²), exact (se = 0). Finite d0: Monte Carlo over
    ``n_pairs`` pairs per set, the same pairs at every grid point and for every kernel; the standard error
    is the delta method's, Σ_sets Var(∇·values)/n_pairs.
    """
    specs = [_spec(sp) for sp in specs]
    for a, b in contrasts:
        if a not in specs or b not in specs:
            raise ValueError(f"contrast {(a, b)!r} uses a spec not in specs {specs!r}: add it to specs")
    mu, s = _grid(mu, s)
    shape, mu_f, s_f = mu.shape, mu.ravel(), s.ravel()
    logs = {sp: np.empty(mu_f.size) for sp in specs}
    ses = {sp: np.zeros(mu_f.size) for sp in specs}
    cons = {ab: np.empty(mu_f.size) for ab in contrasts}
    cse = {ab: np.zeros(mu_f.size) for ab in contrasts}
    if d0 == np.inf:
        a, b = mu_f**2 + s_f**2, mu_f**2
        for sp in specs:
            moments = np.stack([kernel_from_pre_activation(k12, a, a, *sp) for k12 in (a, b, -b)])
            logs[sp] = _log_nc1_and_gradient(moments, n_per_class)[0]
        for a_, b_ in contrasts:
            cons[(a_, b_)] = logs[a_] - logs[b_]
    else:
        if real_scalar(d0, "d0", positive=True) != int(d0):
            raise ValueError(f"d0 must be an integer >= 1 or inf, got {d0}")
        st = pair_statistics(int(d0), n_pairs, seed)
        step = max(1, _CHUNK_ELEMENTS // (3 * n_pairs))
        for lo in range(0, mu_f.size, step):
            sl = slice(lo, lo + step)
            pre = _pre_activation(st, mu_f[sl], s_f[sl])
            values = {sp: kernel_from_pre_activation(*pre, *sp) for sp in specs}  # (3, g, n)
            grads = {}
            for sp, v in values.items():
                logs[sp][sl], grads[sp] = _log_nc1_and_gradient(v.mean(-1), n_per_class)
                ses[sp][sl] = _delta_se(grads[sp][..., None] * v)
            for a_, b_ in contrasts:
                cons[(a_, b_)][sl] = logs[a_][sl] - logs[b_][sl]
                cse[(a_, b_)][sl] = _delta_se(grads[a_][..., None] * values[a_] - grads[b_][..., None] * values[b_])
    out = {sp: Estimate(logs[sp].reshape(shape), ses[sp].reshape(shape)) for sp in specs}
    return out, {ab: Estimate(cons[ab].reshape(shape), cse[ab].reshape(shape)) for ab in contrasts}


def _delta_se(linearised: np.ndarray) -> np.ndarray:
    """Standard error of Σ_sets mean(linearised) over (3, g, n): the sets are independent."""
    n = linearised.shape[-1]
    return np.sqrt(np.sum(np.var(linearised, axis=-1, ddof=1), axis=0) / n)


def _balanced_traces(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tr Σ_W and Tr Σ_B of Gram matrices (..., N, N) of two class-sorted classes of N/2 (notes §1.2)."""
    N = K.shape[-1]
    n = N // 2
    own = K[..., :n, :n].sum((-1, -2)) + K[..., n:, n:].sum((-1, -2))
    within = (np.trace(K, axis1=-2, axis2=-1) - own / n) / N
    between = own / (2 * n**2) - K.sum((-1, -2)) / N**2
    return within, between


def per_draw_log_nc1(specs: Sequence[Spec], mu, s, d0: int, N: int, repeats: int, seed: int = 0
                     ) -> dict[Spec, np.ndarray]:
    """log NC1 of single draws of N samples (two class-sorted classes of N/2) for each (kernel, activation)
    on the grid: arrays (*grid, repeats). Draw r uses the same standardised noise at every grid point."""
    specs = [_spec(sp) for sp in specs]
    mu, s = _grid(mu, s)
    d0, N, repeats = count(d0, "d0"), count(N, "N", minimum=4), count(repeats, "repeats")
    if N % 2:
        raise ValueError(f"N must be even (two classes of N/2), got {N}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((repeats, N, d0))
    c = np.repeat([-1.0, 1.0], N // 2)
    omega, zeta = z @ z.transpose(0, 2, 1) / d0, z.mean(-1)
    cross = c[:, None] * zeta[:, None, :] + c[None, :] * zeta[:, :, None]  # c_i ζ_j + c_j ζ_i
    mu_f, s_f = mu.ravel(), s.ravel()
    out = {sp: np.empty((mu_f.size, repeats)) for sp in specs}
    step = max(1, _CHUNK_ELEMENTS // (repeats * N * N))
    for lo in range(0, mu_f.size, step):
        m, sd = mu_f[lo:lo + step, None, None, None], s_f[lo:lo + step, None, None, None]
        k1 = m**2 * np.outer(c, c) + m * sd * cross + sd**2 * omega
        diag = np.diagonal(k1, axis1=-2, axis2=-1)
        for sp in specs:
            K = kernel_from_pre_activation(k1, diag[..., :, None], diag[..., None, :], *sp)
            within, between = _balanced_traces(K)
            if np.any(between <= 0):
                raise ValueError("a draw has between-class trace <= 0: NC1 is undefined (raise the smallest μ/s)")
            out[sp][lo:lo + step] = np.log(within) - np.log(between)
    return {sp: v.reshape(*mu.shape, repeats) for sp, v in out.items()}


def draw_traces(kernels: dict[str, Callable[[np.ndarray], np.ndarray]], mu: float, s: float, d0: int, N: int,
                draws: int, seed: int = 0) -> dict[str, np.ndarray]:
    """(Tr Σ_W, Tr Σ_B) of each kernel's Gram matrix on ``draws`` independent draws of N samples: (draws, 2).

    For kernels that depend on the whole sample (the official Erf NTK, through S = Σ_i (1 + 2K_1,ii)²)
    the expected NC1 is defined only for a sample size N: E Tr Σ_W / E Tr Σ_B over draws of that size.
    """
    mu, s = real_scalar(mu, "mu", positive=True), real_scalar(s, "s", positive=True)
    d0, N, draws = count(d0, "d0"), count(N, "N", minimum=4), count(draws, "draws", minimum=2)
    if N % 2:
        raise ValueError(f"N must be even (two classes of N/2), got {N}")
    out = {name: np.empty((draws, 2)) for name in kernels}
    rng = np.random.default_rng(seed)
    for r, sub in enumerate(rng.integers(0, 2**63 - 1, draws)):
        X = gaussian_mixture([N // 2, N // 2], d0, mu=mu, s=s, seed=int(sub)).X
        for name, fn in kernels.items():
            out[name][r] = _balanced_traces(fn(X))
    return out


def log_nc1_from_traces(traces: np.ndarray, reference: np.ndarray | None = None) -> Estimate:
    """log(E Tr Σ_W / E Tr Σ_B) from per-draw traces (draws, 2), minus the same of ``reference`` (the same
    draws) if given, with the delta-method standard error over draws."""
    t = as_float64(traces, "traces", ndim=2, what="(draws, 2) traces")
    means = t.mean(0)
    if np.any(means <= 0):
        raise ValueError(f"mean traces {means} must be > 0: NC1 is undefined")
    lin = t[:, 0] / means[0] - t[:, 1] / means[1]
    value = np.log(means[0] / means[1])
    if reference is not None:
        ref = as_float64(reference, "reference", ndim=2, what="(draws, 2) traces")
        if ref.shape != t.shape:
            raise ValueError(f"reference traces {ref.shape} must match traces {t.shape} (the same draws)")
        rm = ref.mean(0)
        lin = lin - (ref[:, 0] / rm[0] - ref[:, 1] / rm[1])
        value -= np.log(rm[0] / rm[1])
    return Estimate(np.asarray(value), np.asarray(np.std(lin, ddof=1) / np.sqrt(len(lin))))


def contrast_map(specs: Sequence[Spec], contrasts: dict[str, tuple[Spec, Spec]], d0: float, ratios: Sequence[float],
                 scales: Sequence[float], n_pairs: int, seed: int = 0) -> dict[str, Estimate]:
    """The log ratios ``contrasts`` (label → (a, b): log E-NC1(a) − log E-NC1(b)) over the grid
    (μ/s, s) = ``ratios`` × ``scales`` at one ``d0``, by :func:`expected_log_nc1_map`, keyed by label."""
    mu, s = map_grid(ratios, scales)
    _, con = expected_log_nc1_map(specs, mu, s, d0, n_pairs, seed=seed, contrasts=list(contrasts.values()))
    return {label: con[ab] for label, ab in contrasts.items()}


def z_scores(est: Estimate) -> np.ndarray:
    """value / se of each grid point; NaN where the value is exact (se = 0, d0 → ∞)."""
    return np.where(est.se > 0, est.value / np.where(est.se > 0, est.se, 1.0), np.nan)


def sign_resolved(est: Estimate, k_se: float, tol: float = 1e-6) -> np.ndarray:
    """Where the sign of a log ratio is resolved: |value| > k_se·se and > ``tol`` (floating-point level)."""
    return (np.abs(est.value) > k_se * est.se) & (np.abs(est.value) > tol)


def plot_log_ratio_map(ax, ratios: np.ndarray, scales: np.ndarray, est: Estimate, k_se: float, title: str,
                       vmax: float, star: tuple[float, float] | None = (4.0, 0.5)):
    """log ratio over (μ/s, s) on log axes (symmetric-log colours): blue < 0 < red, the border (contour
    at 0, where the map changes sign), × where the sign is not resolved (:func:`sign_resolved`), ★ the paper's setting."""
    from matplotlib.colors import SymLogNorm

    norm = SymLogNorm(linthresh=0.02, vmin=-vmax, vmax=vmax)  # linear within ±0.02, logarithmic beyond
    im = ax.pcolormesh(ratios, scales, est.value, cmap="RdBu_r", norm=norm, shading="nearest")
    if est.value.min() < 0 < est.value.max():
        ax.contour(ratios, scales, est.value, levels=[0.0], colors="k", linewidths=1.2)
    r, sc = np.meshgrid(ratios, scales)
    open_ = ~sign_resolved(est, k_se)
    ax.plot(r[open_], sc[open_], "x", color="0.3", ms=4)
    if star is not None:
        ax.plot(*star, "k*", ms=11)
    ax.set(xscale="log", yscale="log", xlabel="μ / s", ylabel="s", title=title)
    return im


def plot_contrast_maps(maps: dict[tuple[float, str], Estimate], ratios: np.ndarray, scales: np.ndarray,
                       labels: Sequence[str], d0_values: Sequence[float], k_se: float, colorbar_label: str):
    """One :func:`plot_log_ratio_map` per (label, d0) of ``maps`` (rows: labels, columns: d0), on one
    symmetric colour scale; returns the figure."""
    import matplotlib.pyplot as plt

    vmax = max(np.abs(e.value).max() for e in maps.values())
    fig, axes = plt.subplots(len(labels), len(d0_values), figsize=(5 * len(d0_values), 8.5), squeeze=False,
                             layout="constrained")
    for i, label in enumerate(labels):
        for j, d0 in enumerate(d0_values):
            im = plot_log_ratio_map(axes[i, j], ratios, scales, maps[(d0, label)], k_se, f"{label}, d0 = {d0}", vmax)
    fig.colorbar(im, ax=axes, shrink=0.7, label=colorbar_label)
    return fig
