"""The streaming accumulator equals the in-memory metrics (numpy and torch batches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils import metrics as M
from ncutils.metrics_stream import NCAccumulator, streaming_nc_metrics


def data(seed: int = 0, N: int = 300, n: int = 7, C: int = 4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, N)
    H = 2.0 * rng.standard_normal((C, n))[y] + rng.standard_normal((N, n))
    return H, y, rng.standard_normal((C, n)), rng.standard_normal(C)


@pytest.mark.parametrize("as_torch", [False, True])
def test_streaming_equals_in_memory(as_torch: bool) -> None:
    H, y, W, b = data()

    def batches():
        for i in range(0, len(y), 37):
            h = torch.tensor(H[i:i + 37]) if as_torch else H[i:i + 37]
            yield h, y[i:i + 37]

    got = streaming_nc_metrics(batches, 4, 7, W, b)
    expected = {"nc1": M.nc1(H, y), "nc1_trace_ratio": M.nc1_trace_ratio(H, y), "nc1_std": M.nc1_std(H, y),
                "nc1_rel": M.nc1_rel(H, y), "nc2": M.nc2(H, y), "nc3": M.nc3(H, y, W), "nc4": M.nc4(H, y, W, b)}
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-10, abs=1e-12), k


def test_bad_use_is_named() -> None:
    H, y, _, _ = data()
    acc = NCAccumulator(4, 7)
    with pytest.raises(ValueError, match="finish_means"):
        acc.add_covariance(H, y)
    with pytest.raises(ValueError, match="labels must be"):
        acc.add_means(H, y + 4)
    acc.add_means(H, y)
    acc.finish_means()
    acc.add_covariance(H[:10], y[:10])
    with pytest.raises(ValueError, match="same data twice"):
        acc.result()
    with pytest.raises(ValueError, match="NaN"):
        NCAccumulator(4, 7).add_means(np.full((2, 7), np.nan), [0, 1])
