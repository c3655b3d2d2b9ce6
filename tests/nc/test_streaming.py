"""The streaming accumulator gives the in-memory class statistics, hence the same measures (numpy and torch batches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils import nc
from ncutils.nc import NCAccumulator, streaming_nc_metrics


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
    expected = {"nc1": nc.nc1(H, y), "nc1_trace_ratio": nc.nc1_trace_ratio(H, y), "nc1_std": nc.nc1_std(H, y),
                "nc1_rel": nc.nc1_rel(H, y), "nc2": nc.nc2(H, y), "nc3": nc.nc3(H, y, W), "nc4": nc.nc4(H, y, W, b)}
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-10, abs=1e-12), k


def test_accumulated_statistics_equal_the_in_memory_ones() -> None:
    H, y, _, _ = data(3)
    acc = NCAccumulator(4, 7)
    for i in range(0, len(y), 50):
        acc.add_means(H[i:i + 50], y[i:i + 50])
    acc.finish_means()
    for i in range(0, len(y), 50):
        acc.add_covariance(H[i:i + 50], y[i:i + 50])
    got, expected = acc.stats(), nc.class_stats(H, y, scatter=True)
    np.testing.assert_array_equal(got.counts, expected.counts)
    for field in ("means", "global_mean", "class_sq", "scatter", "within_sq"):
        np.testing.assert_allclose(getattr(got, field), getattr(expected, field), rtol=1e-12, atol=1e-12, err_msg=field)


def test_bad_use_is_named() -> None:
    H, y, _, _ = data()
    acc = NCAccumulator(4, 7)
    with pytest.raises(ValueError, match="finish_means"):
        acc.add_covariance(H, y)
    with pytest.raises(ValueError, match="NaN or inf labels"):
        acc.add_means(H, np.where(y == 0, np.nan, y))
    acc.add_means(H, y)
    acc.finish_means()
    acc.add_covariance(H[:10], y[:10])
    with pytest.raises(ValueError, match="same data twice"):
        acc.result()
    with pytest.raises(ValueError, match="NaN"):
        NCAccumulator(4, 7).add_means(np.full((2, 7), np.nan), [0, 1])
