"""Class statistics of features: the one summary every NC measure is computed from.

Features ``H`` are (N, p) with rows = samples; labels ``y`` are (N,) of any values and order
(classes are taken in sorted order, which is also the order of the rows of a classifier ``W``).
:func:`class_stats` reduces a whole feature matrix; :class:`ncutils.nc.NCAccumulator` builds the
same :class:`ClassStats` from batches in bounded memory.

Where it computes: the reductions over samples run where ``H`` lives, in float64 (a torch tensor on
its device, e.g. CUDA; numpy on the CPU); only C × p and p × p summaries leave the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ncutils.core.checks import features_and_labels


@dataclass(frozen=True)
class ClassStats:
    """Per-class summaries of N samples of p features in C classes (float64 numpy)."""

    classes: np.ndarray  # (C,) the class labels, sorted (the order of every per-class row)
    counts: np.ndarray  # (C,) class sizes
    means: np.ndarray  # (C, p) class means μ_c
    global_mean: np.ndarray  # (p,) sample-weighted global mean μ_G
    within_sq: float  # Σ_i ‖h_i − μ_{y_i}‖²
    class_sq: np.ndarray  # (C, p) Σ_{i in c} (h_i − μ_c)², per feature
    scatter: np.ndarray | None = None  # (p, p) Σ_i (h_i − μ_{y_i})(h_i − μ_{y_i})ᵀ, when asked for

    @property
    def n_samples(self) -> int:
        return int(self.counts.sum())

    @property
    def n_classes(self) -> int:
        return len(self.counts)

    @property
    def n_features(self) -> int:
        return self.means.shape[1]

    def require(self, *, min_per_class: int = 1, scatter: bool = False) -> ClassStats:
        """Check that these statistics can serve a measure; return them."""
        if self.counts.min() < min_per_class:
            raise ValueError(f"a class has {self.counts.min()} sample(s); this quantity needs at least "
                             f"{min_per_class} per class")
        if scatter and self.scatter is None:
            raise ValueError("this measure needs the within-class scatter: compute the statistics with scatter=True")
        return self


def one_hot(labels: np.ndarray) -> np.ndarray:
    """(N, C) indicator matrix of class indices 0..C−1."""
    return np.eye(labels.max() + 1)[labels]


def to_numpy(x: Any) -> np.ndarray:
    """A torch tensor (any device) or array-like as numpy."""
    return x.cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def like(H: Any, a: np.ndarray) -> Any:
    """``a`` in the array library and on the device of ``H``."""
    if hasattr(H, "detach"):
        import torch

        return torch.as_tensor(a, device=H.device, dtype=torch.float64 if a.dtype.kind == "f" else None)
    return a


def class_stats(H: Any, y: Any, *, scatter: bool = False) -> ClassStats:
    """The :class:`ClassStats` of features ``H`` (N, p) with labels ``y``; the p × p scatter if asked."""
    H, classes, labels, counts = features_and_labels(H, y)
    onehot = like(H, one_hot(labels).astype(np.float64))
    means = (onehot.T @ H) / like(H, counts.astype(np.float64))[:, None]
    dev = H - means[like(H, labels)]
    return ClassStats(classes, counts, to_numpy(means), to_numpy(H.mean(0)), float((dev**2).sum()),
                      to_numpy(onehot.T @ dev**2), to_numpy(dev.T @ dev) if scatter else None)
