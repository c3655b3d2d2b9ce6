"""Expected NC1 of the 2-layer kernels on the two-class Gaussian mixture (paper B, notes §1.3, §1.6).

For a kernel k and balanced classes of n samples, with D = E k(x,x), B = E k(x,x') (same class,
independent), B× = E k(x,x') (different classes), averaged over the two classes:

    E Tr Σ_W = (1 − 1/n)(D − B),    E Tr Σ_B = D/(2n) + (n−1)B/(2n) − B×/2,

and the "expected NC1" is their ratio. D, B, B× are estimated by Monte Carlo over independent
pairs; as d0 → ∞, K_1 concentrates on a = μ²+s² (diagonal), μ² (same class) and −μ² (across),
which gives the closed form NC1_∞ = 2(D − B)/(B − B×) for n → ∞.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ncutils.kernels.two_layer import activation_kernels

KERNELS = ("nngp", "ntk", "derivative", "linear")


class BlockMoments(NamedTuple):
    """D (diagonal), B (same class) and B× (different classes), averaged over the two classes."""

    D: float
    B: float
    Bx: float


def kernel_from_pre_activation(k12, k11, k22, kernel: str, activation: str) -> np.ndarray:
    """Q, Θ = Q + K_1 ⊙ Q̇, the derivative term K_1 ⊙ Q̇, or K_1 itself (σ_w = 1, σ_b = 0)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}: use one of {KERNELS}")
    if kernel == "linear":
        return np.asarray(k12, dtype=np.float64)
    q, qdot = activation_kernels(k12, k11, k22, activation)
    return {"nngp": q, "ntk": q + k12 * qdot, "derivative": k12 * qdot}[kernel]


class PairSamples(NamedTuple):
    """Pre-activation values (K_1(x,x'), K_1(x,x), K_1(x',x')) of independent pairs for D, B and B×."""

    diagonal: tuple[np.ndarray, np.ndarray, np.ndarray]
    same_class: tuple[np.ndarray, np.ndarray, np.ndarray]
    cross_class: tuple[np.ndarray, np.ndarray, np.ndarray]


def sample_pairs(mu: float, s: float, d0: int, n_pairs: int, seed: int) -> PairSamples:
    """Draw ``n_pairs`` independent pairs per term from the two-class mixture (σ_w = 1, σ_b = 0)."""
    if n_pairs < 2 or d0 < 1:
        raise ValueError(f"need n_pairs >= 2 and d0 >= 1, got {n_pairs}, {d0}")
    rng = np.random.default_rng(seed)
    sign = np.where(rng.random(n_pairs) < 0.5, -1.0, 1.0)[:, None]  # the class of each same-class pair

    def draw(signs):
        return signs * mu + s * rng.standard_normal((n_pairs, d0))

    def pre(x, xp):
        return np.sum(x * xp, 1) / d0, np.sum(x * x, 1) / d0, np.sum(xp * xp, 1) / d0

    x = draw(sign)
    return PairSamples(pre(x, x), pre(draw(sign), draw(sign)), pre(draw(-np.ones_like(sign)), draw(np.ones_like(sign))))


def monte_carlo_moments(pairs: PairSamples, kernel: str, activation: str) -> BlockMoments:
    """D, B, B× of a 2-layer kernel, averaged over sampled pairs (the same pairs for every kernel)."""
    return BlockMoments(*(float(np.mean(kernel_from_pre_activation(*t, kernel, activation))) for t in pairs))


def expected_nc1(moments: BlockMoments, n_per_class: float = np.inf) -> float:
    """E Tr Σ_W / E Tr Σ_B for balanced classes of ``n_per_class`` samples (inf: the n → ∞ limit)."""
    D, B, Bx = moments
    if np.isinf(n_per_class):
        within, between = D - B, B / 2 - Bx / 2
    else:
        n = float(n_per_class)
        within, between = (1 - 1 / n) * (D - B), D / (2 * n) + (n - 1) * B / (2 * n) - Bx / 2
    if between <= 0:
        raise ValueError(f"expected between-class trace is {between:.3g} <= 0: NC1 is undefined")
    return within / between


def limit_moments(kernel: str, activation: str, mu: float, s: float) -> BlockMoments:
    """D, B, B× as d0 → ∞: K_1 → a = μ² + s² on the diagonal, ±μ² off it."""
    a, b = mu**2 + s**2, mu**2
    return BlockMoments(*(float(kernel_from_pre_activation(k12, a, a, kernel, activation)) for k12 in (a, b, -b)))


def limit_nc1(kernel: str, activation: str, mu: float, s: float) -> float:
    """The closed-form expected NC1 for d0 → ∞ and n → ∞ (notes §1.6)."""
    return expected_nc1(limit_moments(kernel, activation, mu, s))


def _activation_and_derivative(activation: str):
    """φ and φ' as plain functions (independent of the closed-form kernels)."""
    from scipy.special import erf

    if activation == "erf":
        return erf, lambda u: 2 / np.sqrt(np.pi) * np.exp(-u * u)
    if activation == "relu":
        return (lambda u: max(u, 0.0)), (lambda u: float(u > 0))
    raise ValueError(f"unknown activation {activation!r}: use 'erf' or 'relu'")


def gaussian_expectation(f, c11: float, c12: float, c22: float) -> float:
    """E f(u, v) for (u, v) ~ N(0, [[c11, c12], [c12, c22]]) by adaptive 2-D quadrature in polar coordinates
    of the standard normal (u = l11 g1, v = l21 g1 + l22 g2), split at the rays where u = 0 or v = 0."""
    from scipy.integrate import quad

    l11 = np.sqrt(c11)
    l21 = c12 / l11
    l22 = np.sqrt(max(c22 - l21**2, 0.0))

    def radial(theta: float) -> float:
        cu, cv = l11 * np.cos(theta), l21 * np.cos(theta) + l22 * np.sin(theta)
        return quad(lambda r: f(cu * r, cv * r) * r * np.exp(-r * r / 2), 0, np.inf, epsabs=1e-13, epsrel=1e-11)[0]

    v0 = np.arctan2(-l21, l22) % np.pi  # v = 0 on the rays v0 and v0 + π
    cuts = sorted({0.0, np.pi / 2, 3 * np.pi / 2, v0, v0 + np.pi, 2 * np.pi})
    total = sum(quad(radial, lo, hi, epsabs=1e-12, epsrel=1e-10, limit=200)[0] for lo, hi in zip(cuts, cuts[1:]) if hi > lo)
    return total / (2 * np.pi)


def limit_moments_by_quadrature(kernel: str, activation: str, mu: float, s: float) -> BlockMoments:
    """D, B, B× as d0 → ∞ from E[φ(u)φ(v)] and E[φ'(u)φ'(v)] by 2-D quadrature at the limiting covariances
    (K_1 = a = μ² + s² on the diagonal, ±μ² off it): a check of the closed forms that does not use them."""
    if kernel not in ("nngp", "ntk", "derivative"):
        raise ValueError(f"unknown kernel {kernel!r}: use 'nngp', 'ntk' or 'derivative'")
    phi, dphi = _activation_and_derivative(activation)
    a, b = mu**2 + s**2, mu**2
    out = []
    for k12 in (a, b, -b):
        q = gaussian_expectation(lambda u, v: phi(u) * phi(v), a, k12, a) if kernel != "derivative" else 0.0
        qdot = gaussian_expectation(lambda u, v: dphi(u) * dphi(v), a, k12, a) if kernel != "nngp" else 0.0
        out.append(q + k12 * qdot)
    return BlockMoments(*out)
