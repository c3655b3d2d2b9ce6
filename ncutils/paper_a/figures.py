"""Figures shared by paper A's trained-network chapters (a06, a07)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["kernel_heatmaps"]

KERNEL_KEYS = (("trace_ntk", "trace NTK Θ"), ("trace_feature_kernel", "trace feature kernel Θʰ"))


def kernel_heatmaps(history: pd.DataFrame, title: str = "") -> plt.Figure:
    """2×2 heatmaps: the trace over outputs of Θ and over features of Θʰ on the class-sorted probe batch,
    at the first and the last probe of ``history`` (:func:`ncutils.paper_a.training.history_frame`; the
    run keeps these kernels at initialisation and at its end)."""
    missing = [k for k, _ in KERNEL_KEYS if k not in history.columns]
    if missing:
        raise ValueError(f"the history has no kernels {missing}: only run_config records keep them (at the first "
                         "and the last probe)")
    first, last = history.iloc[0], history.iloc[-1]
    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    for row, (key, name) in enumerate(KERNEL_KEYS):
        for col, (rec, when) in enumerate([(first, "initialisation"), (last, f"epoch {history.index[-1]}")]):
            im = axes[row, col].imshow(np.asarray(rec[key]), cmap="viridis")
            axes[row, col].set(title=f"{name}, {when}", xticks=[], yticks=[])
            fig.colorbar(im, ax=axes[row, col], shrink=0.75)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
