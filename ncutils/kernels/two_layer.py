"""Closed-form infinite-width kernels of a 2-layer fully connected network (paper B, notes §1.4).

f(x) = W_2 φ(W_1 x + b_1) + b_2 with W_1 ~ N(0, σ_w²/d0), b_1 ~ N(0, σ_b²):

- K_1(x, x') = σ_b² + σ_w² xᵀx'/d0                       (pre-activation)
- Q(x, x')   = E[φ(u)φ(v)],  (u, v) ~ N(0, [[K_1(x,x), K_1(x,x')], [K_1(x,x'), K_1(x',x')]])
- Q̇(x, x')   = E[φ'(u)φ'(v)]
- Θ          = σ_b² + σ_w² Q + σ_w² K_1 ⊙ Q̇                 (NTK of the scalar output)

``nngp_fc2`` returns Q, the kernel of the hidden post-activations (what NC1 is computed on);
ReLU uses the arc-cosine kernel, Erf Williams' formula. Everything is float64.
"""

from __future__ import annotations

import numpy as np

from ncutils.core.checks import as_float64, in_square_range, real_scalar

ACTIVATIONS = ("relu", "erf")


def _inputs(x1, x2) -> tuple[np.ndarray, np.ndarray]:
    x1 = as_float64(x1, "x1", ndim=2, what="(N, d0) inputs")
    x2 = x1 if x2 is None else as_float64(x2, "x2", ndim=2, what="(N, d0) inputs")
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"inputs must be (N, d0) arrays with the same d0, got {x1.shape} and {x2.shape}")
    in_square_range(x1, "x1")
    in_square_range(x2, "x2")
    return x1, x2


def _check(activation: str, sigma_w: float, sigma_b: float) -> tuple[float, float]:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: use one of {ACTIVATIONS}")
    return real_scalar(sigma_w, "sigma_w", positive=True), real_scalar(sigma_b, "sigma_b", nonnegative=True)


def _pre_activation(x1, x2, sigma_w, sigma_b):
    """K_1(x1, x2), and the diagonals K_1(x, x) of each input set."""
    d0 = x1.shape[1]
    k12 = sigma_b**2 + sigma_w**2 * (x1 @ x2.T) / d0
    k11 = sigma_b**2 + sigma_w**2 * np.sum(x1 * x1, axis=1) / d0
    k22 = sigma_b**2 + sigma_w**2 * np.sum(x2 * x2, axis=1) / d0
    return k12, k11, k22


def _relu(k12: np.ndarray, k11: np.ndarray, k22: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc-cosine kernel Q and Q̇ from K_1(x,x'), K_1(x,x), K_1(x',x') (broadcastable arrays)."""
    norms = np.sqrt(k11 * k22)
    if np.any(norms == 0):
        raise ValueError("the ReLU kernel is undefined for an input with K_1(x, x) = 0 (a zero input with sigma_b = 0)")
    theta = np.arccos(np.clip(k12 / norms, -1.0, 1.0))
    q = norms * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
    qdot = (np.pi - theta) / (2 * np.pi)
    return q, qdot


def _erf(k12: np.ndarray, k11: np.ndarray, k22: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Williams' Erf kernel Q and Q̇ from K_1(x,x'), K_1(x,x), K_1(x',x') (broadcastable arrays)."""
    a = (1.0 + 2.0 * k11) * (1.0 + 2.0 * k22)
    q = (2 / np.pi) * np.arcsin(2.0 * k12 / np.sqrt(a))
    qdot = (4 / np.pi) / np.sqrt(a - 4.0 * k12**2)
    return q, qdot


def activation_kernels(k12, k11, k22, activation: str) -> tuple[np.ndarray, np.ndarray]:
    """(Q, Q̇) of ``activation`` as functions of the pre-activation kernel values (elementwise)."""
    _check(activation, 1.0, 0.0)
    k12, k11, k22 = (as_float64(a, name) for a, name in ((k12, "k12"), (k11, "k11"), (k22, "k22")))
    return (_relu if activation == "relu" else _erf)(k12, k11, k22)


def _kernels(x1, x2, activation, sigma_w, sigma_b):
    sigma_w, sigma_b = _check(activation, sigma_w, sigma_b)
    x1, x2 = _inputs(x1, x2)
    k12, k11, k22 = _pre_activation(x1, x2, sigma_w, sigma_b)
    q, qdot = activation_kernels(k12, k11[:, None], k22[None, :], activation)
    return k12, q, qdot


def nngp_fc2(x1, x2=None, activation: str = "relu", sigma_w: float = 1.0, sigma_b: float = 0.0) -> np.ndarray:
    """Q(x1, x2): the NNGP kernel of the hidden post-activations (notes §1.4)."""
    return _kernels(x1, x2, activation, sigma_w, sigma_b)[1]


def ntk_fc2(x1, x2=None, activation: str = "relu", sigma_w: float = 1.0, sigma_b: float = 0.0) -> np.ndarray:
    """Θ = σ_b² + σ_w² Q + σ_w² K_1 ⊙ Q̇: the NTK of the 2-layer net's scalar output (notes §1.4)."""
    k1, q, qdot = _kernels(x1, x2, activation, sigma_w, sigma_b)
    return sigma_b**2 + sigma_w**2 * q + sigma_w**2 * k1 * qdot


def ntk_derivative_term_fc2(x1, x2=None, activation: str = "relu", sigma_w: float = 1.0,
                            sigma_b: float = 0.0) -> np.ndarray:
    """K_1 ⊙ Q̇, the part of the NTK that comes from the first layer (notes §1.3)."""
    k1, _, qdot = _kernels(x1, x2, activation, sigma_w, sigma_b)
    return k1 * qdot


def ntk_fc2_official_erf(x, sigma_w: float = 1.0, sigma_b: float = 0.0) -> np.ndarray:
    """The official code's Erf NTK, *with its bug* (notes §1.4, §4.3 item 1): for illustration only.

    The official derivative kernel takes ``v @ v.T`` of the 1-D vector v = 1 + 2 diag(K_1), a scalar
    S = Σ_i v_i², instead of the outer product, so Q̇_code = (4/π)(S − 4K_1²)^{-1/2} is nearly constant.
    """
    sigma_w, sigma_b = _check("erf", sigma_w, sigma_b)
    x, _ = _inputs(x, None)
    k12, k11, _ = _pre_activation(x, x, sigma_w, sigma_b)
    q, _ = _erf(k12, k11[:, None], k11[None, :])
    v = 1.0 + 2.0 * k11
    qdot_code = (4 / np.pi) / np.sqrt(float(v @ v) - 4.0 * k12**2)
    return sigma_b**2 + sigma_w**2 * q + sigma_w**2 * k12 * qdot_code
