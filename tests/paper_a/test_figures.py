"""ncutils.paper_a.figures: the kernel heatmaps of a run's first and last probe."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from ncutils.paper_a.figures import kernel_heatmaps


def test_kernel_heatmaps_draw_first_and_last_probe() -> None:
    k0, k1 = np.eye(4), np.ones((4, 4))
    history = pd.DataFrame({"trace_ntk": [k0, k1], "trace_feature_kernel": [k1, k0]}, index=pd.Index([0, 7], name="epoch"))
    fig = kernel_heatmaps(history, "run")
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 4
    np.testing.assert_array_equal(images[0], k0)
    np.testing.assert_array_equal(images[3], k0)
    assert fig.axes[1].get_title() == "trace NTK Θ, epoch 7"
    with pytest.raises(ValueError, match="no kernels"):
        kernel_heatmaps(history.drop(columns="trace_ntk"))
