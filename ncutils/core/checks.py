"""Input checks shared by the metrics: every problem is a ValueError that names it."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_float64(x: Any, name: str) -> np.ndarray:
    """numpy or torch (any device) -> float64 numpy; NaN/inf rejected."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def float64_where_it_lives(x: Any, name: str) -> Any:
    """A torch tensor -> float64 on its own device; anything else -> float64 numpy. NaN/inf rejected."""
    if not hasattr(x, "detach"):
        return as_float64(x, name)
    import torch

    x = x.detach().to(torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def features_and_labels(H: Any, y: Any, *, min_per_class: int = 1) -> tuple[Any, np.ndarray, np.ndarray]:
    """Check H (N, n) and y (N,); return H (float64, a torch tensor stays on its device), class
    indices 0..C-1 and the class sizes."""
    H = float64_where_it_lives(H, "H")
    if H.ndim != 2:
        raise ValueError(f"H must be (N samples, n features), got shape {tuple(H.shape)}")
    labels = labels_of(y, H.shape[0])
    counts = np.bincount(labels)
    if counts.min() < min_per_class:
        raise ValueError(f"a class has {counts.min()} sample(s); this quantity needs at least {min_per_class} per class")
    return H, labels, counts


def labels_of(y: Any, N: int) -> np.ndarray:
    """Map labels of any values to 0..C-1 (sorted order); require N of them and C >= 2."""
    y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if y.ndim != 1 or y.shape[0] != N:
        raise ValueError(f"y must have one label per sample: got shape {y.shape} for {N} samples")
    classes, labels = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("need at least 2 classes, got a single class")
    return labels


def square_kernel(K: Any, name: str = "K", *, symmetric: bool = True) -> np.ndarray:
    """Check a square (and by default symmetric) kernel matrix, or a stack (O, N, N) of them."""
    K = as_float64(K, name)
    if K.ndim not in (2, 3) or K.shape[-1] != K.shape[-2]:
        raise ValueError(f"{name} must be square (N, N) or a stack (O, N, N), got shape {K.shape}")
    if symmetric and not np.allclose(K, np.swapaxes(K, -1, -2), rtol=1e-8, atol=1e-10 * max(1.0, np.abs(K).max())):
        raise ValueError(f"{name} is not symmetric")
    return K
