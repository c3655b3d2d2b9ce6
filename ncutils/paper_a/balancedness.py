"""Paper A's invariant E as the balancedness of a two-layer linear network (an extension; chapter e04).

Features produced by a trained linear layer on fixed inputs X ∈ ℝ^{d×N} (samples as columns, class
by class): H = VX (+ G, frozen features, a control), f(x) = WVx + b, loss ½‖WH + b1ᵀ − Y‖². Gradient flow

    V̇ = −WᵀRXᵀ,   Ẇ = −RHᵀ,   ḃ = −R1,   so   Ḣ = −WᵀR K,   K = XᵀX,

which is paper A's (D) with the layer's own feature kernel K ⊗ I_n. The deep-linear balancedness
D = WᵀW − VVᵀ is conserved, and WᵀW − HK⁺Hᵀ = D + V P_⊥ Vᵀ with P_⊥ = I − XX⁺ (chapter e04).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ncutils.core.checks import as_float64, count
from ncutils.paper_a.flow import BlockOperator, targets


@dataclass
class LinearLayerState:
    """First layer V (n×d), classifier W (C×n), bias b (C,) at one time."""

    V: np.ndarray
    W: np.ndarray
    b: np.ndarray


@dataclass
class LinearLayerSolution:
    """States of the two-layer linear flow at the requested times, with its inputs and frozen features."""

    times: np.ndarray
    states: list[LinearLayerState]
    X: np.ndarray
    frozen: np.ndarray
    C: int

    def features(self, s: LinearLayerState) -> np.ndarray:
        """H = VX + G (n×N)."""
        return s.V @ self.X + self.frozen

    def losses(self) -> np.ndarray:
        Y = targets(self.C, self.X.shape[1] // self.C)
        return np.array([0.5 * np.sum((s.W @ self.features(s) + s.b[:, None] - Y) ** 2) for s in self.states])


def _inputs(X: np.ndarray, C: int) -> tuple[np.ndarray, int]:
    X = as_float64(X, "X", ndim=2, what="(d input dimensions, N samples) with samples as columns")
    C = count(C, "C", minimum=2)
    if X.shape[1] % C:
        raise ValueError(f"X has N={X.shape[1]} samples, not a multiple of C={C}: pass m samples per class, class by class")
    return X, X.shape[1] // C


def integrate_linear_layer_flow(
    state0: LinearLayerState,
    X: np.ndarray,
    C: int,
    times: np.ndarray,
    *,
    frozen: np.ndarray | None = None,
    rtol: float = 1e-12,
    atol: float = 1e-14,
) -> LinearLayerSolution:
    """Integrate V̇ = −WᵀRXᵀ, Ẇ = −RHᵀ, ḃ = −R1 with H = VX + G (DOP853) and return the states at ``times``.

    ``frozen`` G (n×N, default 0) is a feature part no parameter moves: then Ḣ = −WᵀRXᵀX still, i.e.
    paper A's (D) with K = XᵀX for features whose rows need not lie in X's row space (a control).
    """
    X, m = _inputs(X, C)
    V0, W0, b0 = (np.asarray(a, dtype=np.float64) for a in (state0.V, state0.W, state0.b))
    n, d = V0.shape
    N = X.shape[1]
    if d != X.shape[0] or W0.shape != (C, n) or b0.shape != (C,):
        raise ValueError(f"shapes V {V0.shape}, W {W0.shape}, b {b0.shape} do not fit X {X.shape} and C={C}: "
                         "need V (n×d), W (C×n), b (C,)")
    G = np.zeros((n, N)) if frozen is None else as_float64(frozen, "frozen", ndim=2, what=f"({n}, {N})")
    if G.shape != (n, N):
        raise ValueError(f"frozen must be (n={n}, N={N}) like the features, got {G.shape}")
    Y = targets(C, m)
    times = np.asarray(times, dtype=np.float64)
    sizes = np.cumsum([n * d, C * n])

    def unpack(y: np.ndarray) -> LinearLayerState:
        V, W, b = np.split(y, sizes)
        return LinearLayerState(V.reshape(n, d), W.reshape(C, n), b)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        s = unpack(y)
        H = s.V @ X + G
        R = s.W @ H + s.b[:, None] - Y
        return np.concatenate([(-s.W.T @ R @ X.T).ravel(), (-R @ H.T).ravel(), -R.sum(axis=1)])

    sol = solve_ivp(rhs, (0.0, float(times[-1])), np.concatenate([V0.ravel(), W0.ravel(), b0]), method="DOP853",
                    t_eval=times, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return LinearLayerSolution(times, [unpack(y) for y in sol.y.T], X, G, C)


def balancedness(W: np.ndarray, V: np.ndarray) -> np.ndarray:
    """D = WᵀW − VVᵀ, the deep-linear balancedness of layers V then W (Arora et al. 2018; Du et al. 2018)."""
    W = as_float64(W, "W", ndim=2, what="(C, n)")
    V = as_float64(V, "V", ndim=2, what="(n, d)")
    if W.shape[1] != V.shape[0]:
        raise ValueError(f"W {W.shape} and V {V.shape} do not chain: W needs as many columns as V has rows")
    return W.T @ W - V @ V.T


def pinv_invariant(W: np.ndarray, H: np.ndarray, K: np.ndarray) -> np.ndarray:
    """E⁺ = WᵀW − H K⁺ Hᵀ with the pseudo-inverse K⁺ (= paper A's E when K is invertible; chapter e04)."""
    W = as_float64(W, "W", ndim=2, what="(C, n)")
    H = as_float64(H, "H", ndim=2, what="(n features, N samples)")
    K = as_float64(K, "K", ndim=2, what="(N, N)")
    if K.shape != (H.shape[1], H.shape[1]) or W.shape[1] != H.shape[0]:
        raise ValueError(f"W {W.shape}, H {H.shape}, K {K.shape} do not fit: need W (C×n), H (n×N), K (N×N)")
    return W.T @ W - H @ np.linalg.pinv(K, hermitian=True) @ H.T


def orthogonal_projector(X: np.ndarray) -> np.ndarray:
    """P_⊥ = I − XX⁺: the projector onto the input directions orthogonal to every sample (d×d)."""
    X = as_float64(X, "X", ndim=2, what="(d, N)")
    return np.eye(X.shape[0]) - X @ np.linalg.pinv(X)


def inputs_with_gram(kernel: BlockOperator, d: int, rng: np.random.Generator) -> np.ndarray:
    """Inputs X = U K^{1/2} (d×N) with a random U of orthonormal columns, so XᵀX = K exactly (needs d ≥ N)."""
    N = kernel.C * kernel.m
    d = count(d, "d", minimum=N)
    U, _ = np.linalg.qr(rng.standard_normal((d, N)))
    return kernel.apply_sqrt(U)


def balanced_init(X: np.ndarray, C: int, n: int, rng: np.random.Generator, scale: float = 0.5) -> LinearLayerState:
    """A balanced, centred start: W ~ scale·N(0,1), V = WᵀQ with QQᵀ = I_C and QX1 = 0, b = 1/C.

    Then D = WᵀW − VVᵀ = 0 and the features H = VX are centred (H1 = 0).
    """
    X, _ = _inputs(X, C)
    d = X.shape[0]
    n = count(n, "n", minimum=1)
    if d <= C:
        raise ValueError(f"need d > C input dimensions for a centred balanced start, got d={d}, C={C}")
    total = X.sum(axis=1)
    G = rng.standard_normal((d, C))
    if np.linalg.norm(total) > 0:
        u = total / np.linalg.norm(total)
        G -= np.outer(u, u @ G)
    Q, _ = np.linalg.qr(G)
    W = scale * rng.standard_normal((C, n))
    return LinearLayerState(W.T @ Q.T, W, np.full(C, 1.0 / C))


def random_linear_init(d: int, C: int, n: int, rng: np.random.Generator, scale: float = 0.5) -> LinearLayerState:
    """V (n×d), W (C×n) ~ scale·N(0, 1), b = 0 (generic: D ≠ 0)."""
    d, C, n = count(d, "d", minimum=1), count(C, "C", minimum=2), count(n, "n", minimum=1)
    return LinearLayerState(scale * rng.standard_normal((n, d)), scale * rng.standard_normal((C, n)), np.zeros(C))
