"""ncutils.nc on torch tensors: reduced on their device (CPU, and CUDA when present), the same numbers as numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncutils import nc
from tests.devices import DEVICES


@pytest.mark.parametrize("device", DEVICES)
def test_torch_inputs_are_reduced_on_their_device_and_give_the_same_numbers(device) -> None:
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), [5, 7, 6])
    H = 3.0 * rng.standard_normal((3, 6))[y] + rng.standard_normal((len(y), 6))
    W, b = np.random.default_rng(3).standard_normal((3, H.shape[1])), np.array([0.1, -0.2, 0.3])
    Ht, yt = torch.tensor(H, dtype=torch.float32, device=device), torch.tensor(y, device=device)
    H32 = Ht.double().cpu().numpy()  # the same float32 values, through numpy
    for name in ("nc1", "nc1_trace_ratio", "nc1_std", "nc1_rel", "nc2", "nc2_equinorm", "nc2_equiangularity"):
        assert getattr(nc, name)(Ht, yt) == pytest.approx(getattr(nc, name)(H32, y), rel=1e-12), name
    assert nc.nc3(Ht, yt, W) == pytest.approx(nc.nc3(H32, y, W), rel=1e-12)
    assert nc.nc4(Ht, yt, torch.tensor(W, device=device), b) == nc.nc4(H32, y, W, b)
    np.testing.assert_allclose(nc.class_means(Ht, yt), nc.class_means(H32, y), rtol=1e-12)
