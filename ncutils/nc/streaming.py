"""Class statistics of a whole data set from batches of features, in bounded memory (two passes).

Pass 1 accumulates per-class sums (class means); pass 2 accumulates the within-class scatter
Σ_c Σ_i (h − μ_c)(h − μ_c)ᵀ (p × p), the per-class sums of squared deviations and, when a
classifier is given, the NC4 disagreements. Memory is O(p² + Cp) whatever the number of samples.
The result is a :class:`ClassStats`, so every measure of :mod:`ncutils.nc.measures` applies to it
unchanged. Batches may be numpy arrays or torch tensors on any device (accumulated in float64 there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ncutils.nc.measures import nc4_disagreements, nc_metrics
from ncutils.nc.stats import ClassStats, like, to_numpy

Batches = Callable[[], Iterable[tuple[Any, Any]]]


def _float64(h: Any) -> Any:
    """A batch in float64, a torch tensor kept on its device."""
    if hasattr(h, "detach"):
        import torch

        return h.detach().to(torch.float64)
    return np.asarray(h, dtype=np.float64)


def _finite(H: Any) -> bool:
    if hasattr(H, "detach"):
        import torch

        return bool(torch.isfinite(H).all())
    return bool(np.isfinite(H).all())


class NCAccumulator:
    """Two-pass accumulator of :class:`ClassStats` for C classes (labels 0..C−1) and p features."""

    def __init__(self, n_classes: int, n_features: int) -> None:
        if n_classes < 2 or n_features < 1:
            raise ValueError(f"need at least 2 classes and 1 feature, got C={n_classes}, p={n_features}")
        self.C, self.p = n_classes, n_features
        self.sums: Any = None
        self.counts = np.zeros(n_classes, dtype=np.int64)
        self.means: np.ndarray | None = None
        self.scatter: Any = None
        self.class_sq: Any = None
        self.disagree = 0
        self.seen_second = 0

    def _check(self, H: Any, y: Any) -> tuple[Any, np.ndarray]:
        H = _float64(H)
        labels = np.asarray(to_numpy(y)).astype(np.int64)
        if H.ndim != 2 or H.shape[1] != self.p or labels.shape != (H.shape[0],):
            raise ValueError(f"a batch must be H ({len(labels)}, {self.p}) with one label per row, got {tuple(H.shape)}")
        if labels.min() < 0 or labels.max() >= self.C:
            raise ValueError(f"labels must be integers in 0..{self.C - 1}")
        if not _finite(H):
            raise ValueError("a batch of features contains NaN or inf")
        return H, labels

    def _indicators(self, H: Any, labels: np.ndarray) -> Any:
        return like(H, np.eye(self.C)[labels])

    def add_means(self, H: Any, y: Any) -> None:
        """Pass 1: accumulate per-class sums."""
        H, labels = self._check(H, y)
        part = self._indicators(H, labels).T @ H
        self.sums = part if self.sums is None else self.sums + part
        self.counts += np.bincount(labels, minlength=self.C)

    def finish_means(self) -> None:
        """End pass 1: the class means (every class needs at least 2 samples)."""
        if self.counts.min() < 2:
            raise ValueError(f"every class needs at least 2 samples, got counts {self.counts.tolist()}")
        self.means = to_numpy(self.sums) / self.counts[:, None]

    def add_covariance(self, H: Any, y: Any, W: Any = None, b: Any = None) -> None:
        """Pass 2: accumulate the within-class scatter, squared deviations and NC4 disagreements."""
        if self.means is None:
            raise ValueError("call finish_means() after the first pass before add_covariance()")
        H, labels = self._check(H, y)
        dev = H - like(H, self.means)[labels]
        scat = dev.T @ dev
        self.scatter = scat if self.scatter is None else self.scatter + scat
        sq = self._indicators(H, labels).T @ dev**2
        self.class_sq = sq if self.class_sq is None else self.class_sq + sq
        if W is not None:
            self.disagree += nc4_disagreements(H, self.means, np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
        self.seen_second += len(labels)

    def stats(self) -> ClassStats:
        """The class statistics of the data seen (both passes done over the same data)."""
        if self.seen_second != self.counts.sum():
            raise ValueError(f"pass 2 saw {self.seen_second} samples, pass 1 saw {self.counts.sum()}: feed the same data twice")
        scatter = to_numpy(self.scatter)
        mu_G = (self.means * self.counts[:, None]).sum(axis=0) / self.counts.sum()
        return ClassStats(self.counts.copy(), self.means, mu_G, float(np.trace(scatter)), to_numpy(self.class_sq), scatter)

    def result(self, W: Any = None) -> dict[str, float]:
        """The measures of :func:`ncutils.nc.nc_metrics` (and nc4 if pass 2 had W, b)."""
        out = nc_metrics(self.stats(), W)
        if self.disagree or W is not None:
            out["nc4"] = self.disagree / float(self.counts.sum())
        return out


def streaming_nc_metrics(batches: Batches, n_classes: int, n_features: int, W: Any = None, b: Any = None
                         ) -> dict[str, float]:
    """NC metrics of the data set that ``batches()`` yields as (H, y), iterating over it twice."""
    acc = NCAccumulator(n_classes, n_features)
    for H, y in batches():
        acc.add_means(H, y)
    acc.finish_means()
    for H, y in batches():
        acc.add_covariance(H, y, W, b)
    return acc.result(W)
