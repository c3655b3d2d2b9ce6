"""Class statistics of a whole data set from batches of features, in bounded memory (two passes).

Pass 1 accumulates per-class sums (class means); pass 2 accumulates the within-class scatter
Σ_c Σ_i (h − μ_c)(h − μ_c)ᵀ (p × p), the per-class sums of squared deviations and, when a
classifier is given, the NC4 disagreements. Memory is O(p² + Cp) whatever the number of samples.
The result is a :class:`ClassStats`, so every measure of :mod:`ncutils.nc.measures` applies to it
unchanged. Labels are checked as the in-memory functions check them (integers, floats, booleans or
strings; each distinct value a class, in sorted order), so both accept the same labels and agree.
Batches may be numpy arrays or torch tensors on any device (accumulated in float64 there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ncutils.core.checks import classes_and_labels, count, features, label_values
from ncutils.nc.measures import bias, classifier, nc4_disagreements, nc_metrics
from ncutils.nc.stats import ClassStats, like, to_numpy

Batches = Callable[[], Iterable[tuple[Any, Any]]]


class NCAccumulator:
    """Two-pass accumulator of :class:`ClassStats` for C classes and p features."""

    def __init__(self, n_classes: int, n_features: int) -> None:
        self.C, self.p = count(n_classes, "n_classes", minimum=2), count(n_features, "n_features")
        self.sums: dict[Any, Any] = {}  # class label -> (sum of its features, count), pass 1
        self.classes: np.ndarray | None = None
        self.counts = np.zeros(0, dtype=np.int64)
        self.means: np.ndarray | None = None
        self.scatter: Any = None
        self.class_sq: Any = None
        self.disagree = 0
        self.seen_second = 0

    def _batch(self, H: Any, y: Any) -> tuple[Any, np.ndarray]:
        """A checked batch: features (float64 where they live) and label values (one class is enough)."""
        H = features(H, "a batch of features")
        if H.shape[1] != self.p:
            raise ValueError(f"a batch must have p = {self.p} features per row, got shape {tuple(H.shape)}")
        return H, label_values(y, H.shape[0], "the labels of a batch")

    def add_means(self, H: Any, y: Any) -> None:
        """Pass 1: accumulate per-class sums."""
        H, values = self._batch(H, y)
        for label in np.unique(values):
            rows = like(H, values == label)
            total, n = self.sums.get(label, (0.0, 0))
            self.sums[label] = (total + H[rows].sum(0), n + int((values == label).sum()))

    def finish_means(self) -> None:
        """End pass 1: the classes (sorted), their sizes and means (every class needs at least 2 samples)."""
        self.classes, _ = classes_and_labels(np.array(sorted(self.sums)), len(self.sums), "the labels seen")
        if len(self.classes) != self.C:
            raise ValueError(f"pass 1 saw {len(self.classes)} classes ({self.classes.tolist()}), not n_classes = {self.C}")
        self.counts = np.array([self.sums[c][1] for c in self.classes], dtype=np.int64)
        if self.counts.min() < 2:
            raise ValueError(f"every class needs at least 2 samples, got counts {self.counts.tolist()}")
        self.means = np.stack([to_numpy(self.sums[c][0]) for c in self.classes]) / self.counts[:, None]

    def add_covariance(self, H: Any, y: Any, W: Any = None, b: Any = None) -> None:
        """Pass 2: accumulate the within-class scatter, squared deviations and (with W and b) NC4 disagreements."""
        if self.means is None:
            raise ValueError("call finish_means() after the first pass before add_covariance()")
        if W is not None:
            W, b = classifier(W, self.C, self.p), bias(b, self.C)
        H, values = self._batch(H, y)
        labels = np.searchsorted(self.classes, values)
        unseen = (labels >= self.C) | (self.classes[np.minimum(labels, self.C - 1)] != values)
        if unseen.any():
            raise ValueError(f"label {values[unseen][0]!r} was not seen in pass 1: feed the same data twice")
        dev = H - like(H, self.means)[like(H, labels)]
        scat = dev.T @ dev
        self.scatter = scat if self.scatter is None else self.scatter + scat
        sq = like(H, np.eye(self.C)[labels]).T @ dev**2
        self.class_sq = sq if self.class_sq is None else self.class_sq + sq
        if W is not None:
            self.disagree += nc4_disagreements(H, self.means, W, b)
        self.seen_second += len(labels)

    def stats(self) -> ClassStats:
        """The class statistics of the data seen (both passes done over the same data)."""
        if self.means is None or self.seen_second != self.counts.sum():
            raise ValueError(f"pass 2 saw {self.seen_second} samples, pass 1 saw {self.counts.sum()}: feed the same data twice")
        scatter = to_numpy(self.scatter)
        mu_G = (self.means * self.counts[:, None]).sum(axis=0) / self.counts.sum()
        return ClassStats(self.classes, self.counts.copy(), self.means, mu_G, float(np.trace(scatter)),
                          to_numpy(self.class_sq), scatter)

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
    if W is not None:  # checked before the first pass, not after it
        classifier(W, acc.C, acc.p)
        bias(b, acc.C)
    for H, y in batches():
        acc.add_means(H, y)
    acc.finish_means()
    for H, y in batches():
        acc.add_covariance(H, y, W, b)
    return acc.result(W)
