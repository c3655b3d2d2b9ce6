"""Neural Collapse: class statistics computed once, and the measures computed from them.

- :func:`class_stats` / :class:`NCAccumulator` (two passes over batches, bounded memory) give a
  :class:`ClassStats`; every measure takes features and labels or such statistics.
- NC1: :func:`nc1` (Papyan), :func:`nc1_trace_ratio` (paper B), :func:`nc1_std` (paper A's
  official), :func:`nc1_rel` (scale-free); NC2: :func:`nc2`, :func:`nc2_equinorm`,
  :func:`nc2_equiangularity`; NC3: :func:`nc3`; NC4: :func:`nc4`; all at once: :func:`nc_metrics`.
- Kernels: :func:`nc1_from_kernel`, :func:`kernel_alignment`, the block values of a kernel
  (:func:`block_values`) and paper A's official estimators.
"""

from ncutils.nc.kernel import (
                               block_values,
                               block_values_official,
                               kernel_alignment,
                               kernel_alignment_official,
                               nc1_from_kernel,
)
from ncutils.nc.measures import (
                               class_means,
                               classifier,
                               nc1,
                               nc1_rel,
                               nc1_std,
                               nc1_trace_ratio,
                               nc2,
                               nc2_equiangularity,
                               nc2_equinorm,
                               nc3,
                               nc4,
                               nc4_disagreements,
                               nc_metrics,
                               stats_of,
)
from ncutils.nc.stats import ClassStats, class_stats
from ncutils.nc.streaming import NCAccumulator, streaming_nc_metrics

__all__ = ["ClassStats", "NCAccumulator", "block_values", "block_values_official", "class_means", "class_stats",
           "classifier", "kernel_alignment", "kernel_alignment_official", "nc1", "nc1_from_kernel", "nc1_rel", "nc1_std",
           "nc1_trace_ratio", "nc2", "nc2_equiangularity", "nc2_equinorm", "nc3", "nc4", "nc4_disagreements",
           "nc_metrics", "stats_of", "streaming_nc_metrics"]
