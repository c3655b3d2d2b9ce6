"""NC metrics of a whole data set from batches of features, in bounded memory (two passes).

Pass 1 accumulates per-class sums (class means); pass 2 accumulates the within-class scatter
Σ_c Σ_i (h − μ_c)(h − μ_c)ᵀ (n × n), the per-class sums of squared deviations (for the official
std NC1) and, when a classifier is given, the NC4 disagreements. Memory is O(n² + Cn) whatever
the number of samples; the results equal the in-memory functions of :mod:`ncutils.metrics`.
Batches may be numpy arrays or torch tensors on any device (accumulated in float64 there).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ncutils.metrics import _between_eig, _trace_between, nc4_disagreements

Batches = Callable[[], Iterable[tuple[Any, Any]]]


def _xp(h: Any):
    """The array namespace of a batch: torch for tensors (kept on their device), numpy otherwise."""
    if hasattr(h, "detach"):
        import torch

        return torch, h.detach().to(torch.float64)
    return np, np.asarray(h, dtype=np.float64)


class NCAccumulator:
    """Two-pass accumulator for C classes (labels 0..C−1) and n features."""

    def __init__(self, n_classes: int, n_features: int) -> None:
        if n_classes < 2 or n_features < 1:
            raise ValueError(f"need at least 2 classes and 1 feature, got C={n_classes}, n={n_features}")
        self.C, self.n = n_classes, n_features
        self.sums: Any = None
        self.counts = np.zeros(n_classes, dtype=np.int64)
        self.means: np.ndarray | None = None
        self.scatter: Any = None
        self.sq_dev: Any = None
        self.disagree = 0
        self.seen_second = 0

    def _check(self, H: Any, y: Any):
        xp, H = _xp(H)
        labels = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y).astype(np.int64)
        if H.ndim != 2 or H.shape[1] != self.n or labels.shape != (H.shape[0],):
            raise ValueError(f"a batch must be H ({len(labels)}, {self.n}) with one label per row, got {tuple(H.shape)}")
        if labels.min() < 0 or labels.max() >= self.C:
            raise ValueError(f"labels must be integers in 0..{self.C - 1}")
        if not bool(xp.isfinite(H).all()):
            raise ValueError("a batch of features contains NaN or inf")
        return xp, H, labels

    def add_means(self, H: Any, y: Any) -> None:
        """Pass 1: accumulate per-class sums."""
        xp, H, labels = self._check(H, y)
        onehot = xp.zeros((len(labels), self.C), dtype=H.dtype, **({"device": H.device} if xp is not np else {}))
        onehot[np.arange(len(labels)), labels] = 1.0
        part = onehot.T @ H
        self.sums = part if self.sums is None else self.sums + part
        self.counts += np.bincount(labels, minlength=self.C)

    def finish_means(self) -> None:
        if self.counts.min() < 2:
            raise ValueError(f"every class needs at least 2 samples, got counts {self.counts.tolist()}")
        sums = self.sums.cpu().numpy() if hasattr(self.sums, "cpu") else self.sums
        self.means = sums / self.counts[:, None]

    def add_covariance(self, H: Any, y: Any, W: Any = None, b: Any = None) -> None:
        """Pass 2: accumulate the within-class scatter, squared deviations and NC4 disagreements."""
        if self.means is None:
            raise ValueError("call finish_means() after the first pass before add_covariance()")
        xp, H, labels = self._check(H, y)
        means = xp.asarray(self.means) if xp is np else xp.as_tensor(self.means, device=H.device)
        dev = H - means[labels]
        scat = dev.T @ dev
        self.scatter = scat if self.scatter is None else self.scatter + scat
        onehot = np.eye(self.C)[labels]
        sq = (xp.as_tensor(onehot, device=H.device) if xp is not np else onehot).T @ dev**2
        self.sq_dev = sq if self.sq_dev is None else self.sq_dev + sq
        if W is not None:
            self.disagree += nc4_disagreements(H, self.means, np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
        self.seen_second += len(labels)

    def result(self, W: Any = None) -> dict[str, float]:
        """nc1, nc1_trace_ratio, nc1_std, nc1_rel, nc2 (and nc3 with W, nc4 if pass 2 had W, b)."""
        if self.seen_second != self.counts.sum():
            raise ValueError(f"pass 2 saw {self.seen_second} samples, pass 1 saw {self.counts.sum()}: feed the same data twice")
        N = float(self.counts.sum())
        scatter = self.scatter.cpu().numpy() if hasattr(self.scatter, "cpu") else self.scatter
        sq_dev = self.sq_dev.cpu().numpy() if hasattr(self.sq_dev, "cpu") else self.sq_dev
        mu_G = (self.means * self.counts[:, None]).sum(axis=0) / N
        lam, V = _between_eig(self.means - mu_G, self.C)
        centred = self.means - self.means.mean(axis=0)
        out = {
            "nc1": max(0.0, float(np.sum(np.einsum("ki,ij,kj->k", V, scatter / N, V) / lam) / self.C)),
            "nc1_trace_ratio": float(np.trace(scatter) / N) / _trace_between(self.means - mu_G, self.C),
            "nc1_std": float(np.mean(np.sqrt(sq_dev / self.counts[:, None]))),
            "nc1_rel": float(np.trace(scatter) / N) / _trace_between(centred, self.C),
        }
        G = centred @ centred.T
        target = (np.eye(self.C) - np.ones((self.C, self.C)) / self.C) / np.sqrt(self.C - 1)
        out["nc2"] = float(np.linalg.norm(G / np.linalg.norm(G) - target))
        if W is not None:
            W = np.asarray(W, dtype=np.float64)
            out["nc3"] = float(np.linalg.norm(centred / np.linalg.norm(centred) - W / np.linalg.norm(W)))
        if self.disagree or W is not None:
            out["nc4"] = self.disagree / N
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
